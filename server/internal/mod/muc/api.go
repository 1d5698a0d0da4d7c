package muc

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"hearth/server/internal/jid"
)

// RoomInfo is a room as the admin sees it.
type RoomInfo struct {
	JID, Name, Description, Subject                                         string
	Persistent, Public, MembersOnly, Moderated, PasswordProtected, Archived bool
	Occupants                                                               int
}

// OccupantInfo is one occupant: its nick, real full JID, role and
// affiliation.
type OccupantInfo struct{ Nick, JID, Role, Affiliation string }

// RoomConfig is what EnsureRoom sets; the zero value of a field means the
// default: no name, description or password, and each switch off (a room
// made with Public false is hidden from the service's list; NonAnonymous:
// everyone sees everyone's real JID, muc#roomconfig_whois anyone).
type RoomConfig struct {
	Name, Description                                                  string
	Persistent, Public, MembersOnly, Moderated, Archived, NonAnonymous bool
	Password                                                           string
}

// find returns the room named by a bare JID or a localpart, its lock
// held.
func (m *Module) find(ctx context.Context, name string) (*room, error) {
	if err := m.load(ctx); err != nil {
		return nil, fmt.Errorf("the chat rooms could not be read: %w", err)
	}
	local, err := m.localOf(name)
	if err != nil {
		return nil, err
	}
	r := m.locked(local)
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoRoom, name)
	}
	return r, nil
}

func (m *Module) localOf(name string) (string, error) {
	j, err := jid.Parse(name)
	if err != nil || j.Resource != "" {
		return "", fmt.Errorf("%q is not a room's address (room@%s)", name, m.service)
	}
	if j.Local == "" {
		// A bare name: the room's localpart.
		j, err = jid.New(name, m.service, "")
		if err != nil {
			return "", fmt.Errorf("%q cannot be a room's name", name)
		}
	}
	if j.Domain != m.service {
		return "", fmt.Errorf("%s is not a room of this server (its rooms are at %s)", name, m.service)
	}
	return j.Local, nil
}

// Rooms returns every room, sorted by JID.
func (m *Module) Rooms() []RoomInfo {
	if err := m.load(context.Background()); err != nil {
		m.log.Error("the chat rooms could not be read from the database", "err", err)
	}
	var out []RoomInfo
	for _, r := range m.allRooms() {
		r.mu.Lock()
		out = append(out, RoomInfo{JID: r.jid.String(), Name: r.cfg.Name, Description: r.cfg.Description, Subject: r.subject,
			Persistent: r.cfg.Persistent, Public: r.cfg.Public, MembersOnly: r.cfg.MembersOnly, Moderated: r.cfg.Moderated,
			PasswordProtected: r.cfg.Password != "", Archived: r.archived(m), Occupants: len(r.occ)})
		r.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out
}

// Occupants returns a room's occupants, one per session, by nick.
func (m *Module) Occupants(room string) ([]OccupantInfo, error) {
	r, err := m.find(context.Background(), room)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	var out []OccupantInfo
	for _, o := range r.sorted() {
		for _, s := range o.sessions {
			out = append(out, OccupantInfo{Nick: o.nick, JID: s.String(), Role: o.role, Affiliation: r.affOf(o.real)})
		}
	}
	return out, nil
}

// Destroy ends a room: its occupants get the unavailable presence with
// <destroy/> (the reason, the alternate venue if given), and it is
// forgotten with its archive.
func (m *Module) Destroy(ctx context.Context, room, reason, alternate string) error {
	if alternate != "" {
		if _, err := jid.Parse(alternate); err != nil {
			return fmt.Errorf("the alternate room %q is not an address", alternate)
		}
	}
	r, err := m.find(ctx, room)
	if err != nil {
		return err
	}
	if err := m.destroy(ctx, r, reason, alternate); err != nil {
		return fmt.Errorf("the room %s could not be removed from the database: %w", r.jid, err)
	}
	return nil
}

// Affiliations returns a room's affiliations: bare JID to owner, admin,
// member or outcast.
func (m *Module) Affiliations(ctx context.Context, room string) (map[string]string, error) {
	r, err := m.find(ctx, room)
	if err != nil {
		return nil, err
	}
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.affs))
	for j, a := range r.affs {
		out[j] = a.aff
	}
	return out, nil
}

// SetAffiliation gives bareJID an affiliation ("none" removes it);
// occupants get the presence the XEP says (banned: 301, no longer a
// member of a members-only room: 321).
func (m *Module) SetAffiliation(ctx context.Context, room, bareJID, affiliation, reason string) error {
	if !validAff(affiliation) {
		return fmt.Errorf("%q is not an affiliation: use owner, admin, member, outcast or none", affiliation)
	}
	j, err := jid.Parse(bareJID)
	if err != nil {
		return fmt.Errorf("%q is not an address", bareJID)
	}
	r, err := m.find(ctx, room)
	if err != nil {
		return err
	}
	bare := j.Bare()
	if r.affOf(bare) == affOwner && affiliation != affOwner && r.owners() == 1 {
		r.mu.Unlock()
		return errors.New("the room's last owner cannot be removed; make someone else owner first")
	}
	ds, err := m.setAff(ctx, r, nil, bare, affiliation, reason, "")
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("the affiliation could not be saved: %w", err)
	}
	m.vacate(r)
	m.flush(ctx, r, ds)
	return nil
}

// EnsureRoom creates a room (unlocked, configured as cfg says) or
// reconfigures one: a room that exists gets cfg's Persistent, Public,
// MembersOnly, Archived and NonAnonymous, and keeps the name, description,
// password and moderation its owners gave it.
func (m *Module) EnsureRoom(ctx context.Context, name string, cfg RoomConfig) error {
	if err := m.load(ctx); err != nil {
		return fmt.Errorf("the chat rooms could not be read: %w", err)
	}
	local, err := m.localOf(name)
	if err != nil {
		return err
	}
	if !cfg.Persistent && m.room(local) == nil {
		// Nobody would own it, and nobody being in it, nothing would
		// ever remove it.
		return fmt.Errorf("the room %s would be temporary and empty; the server makes persistent rooms only", name)
	}
	var r *room
	for r == nil {
		m.mu.Lock()
		r = m.rooms[local]
		if d := m.deleting[local]; r == nil && d != nil {
			// Destroyed just now: its old archive goes first.
			m.mu.Unlock()
			select {
			case <-d:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if r == nil {
			r = newRoom(jid.JID{Local: local, Domain: m.service}, newSecret())
			r.cfg.Archive = m.archiveNew.Load()
			m.rooms[local] = r
		}
		m.mu.Unlock()
		r.mu.Lock()
		if r.gone { // destroyed meanwhile: make it anew
			r.mu.Unlock()
			r = nil
		}
	}
	created := r.locked || len(r.occ) == 0 && !r.cfg.Persistent
	c := r.cfg
	if created {
		c.Name, c.Description, c.Password, c.Moderated = cfg.Name, cfg.Description, cfg.Password, cfg.Moderated
	}
	c.Persistent, c.Public, c.MembersOnly, c.WhoisAnyone = cfg.Persistent, cfg.Public, cfg.MembersOnly, cfg.NonAnonymous
	c.Archive = cfg.Archived && m.archive != nil
	affs := make(map[string]affRec, len(r.affs))
	for k, v := range r.affs {
		affs[k] = v
	}
	r.locked = true // no 104 for a room being made
	if !created {
		r.locked = false
	}
	ds, err := m.reconfigure(ctx, r, c, affs)
	if err != nil {
		if created {
			m.forget(r)
		}
		r.mu.Unlock()
		return fmt.Errorf("the room %s could not be saved: %w", r.jid, err)
	}
	m.vacate(r) // made temporary with nobody in it: gone
	m.flush(ctx, r, ds)
	return nil
}

// UserRemoved forgets a deleted account's affiliations and reserved nicks
// in every room, so that an account made later under the same name
// inherits none of them (a room it owned alone is left to the admin).
func (m *Module) UserRemoved(ctx context.Context, user string) {
	if err := m.load(ctx); err != nil {
		m.log.Error("a deleted account's room affiliations were not removed: the rooms could not be read", "user", user, "err", err)
		return
	}
	bare := jid.JID{Local: user, Domain: m.domain}
	for _, r := range m.allRooms() {
		r.mu.Lock()
		if _, ok := r.affs[bare.String()]; !ok || r.gone {
			r.mu.Unlock()
			continue
		}
		ds, err := m.setAff(ctx, r, nil, bare, affNone, "", "")
		if err != nil {
			m.log.Error("a deleted account's room affiliation was not removed", "user", user, "room", r.jid.String(), "err", err)
		}
		m.vacate(r)
		m.flush(ctx, r, ds)
	}
}
