package family

// The family room: one chat room (XEP-0045) where everyone at home is,
// kept by the server (setting muc.family_room names it). It is
// persistent, members-only, not listed and archived; every account is
// a member, and each account's bookmarks (XEP-0402) get the room with
// autojoin, so its clients join it at their next login.
//
// An account is taken in once: its bookmark added, then its membership
// set. Its affiliation in the room is the record of that: an account
// with any affiliation (member, or what the administrator made it since,
// outcast included) is left as it is at the next start, so a bookmark
// its owner removed is not given back. The server owns the room; the
// administrator manages it with hearth rooms; the server's
// administrators (admin.jids) are its owners.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// RoomConfig is a room's configuration as the room engine (mod/muc)
// takes it in EnsureRoom: the zero value of a field means its default.
type RoomConfig struct {
	Name, Description string

	Persistent, Public, MembersOnly, Moderated, Archived, NonAnonymous bool

	Password string
}

// Rooms is what the family room needs of the room engine (mod/muc).
// Rooms are named by their bare JIDs.
type Rooms interface {
	// Service is the rooms' domain, conference.<domain>.
	Service() string
	// EnsureRoom makes the room, or configures it as cfg says.
	EnsureRoom(ctx context.Context, room string, cfg RoomConfig) error
	// Affiliations maps bare JIDs to owner, admin, member or outcast.
	Affiliations(ctx context.Context, room string) (map[string]string, error)
	// SetAffiliation sets one; "none" takes it away.
	SetAffiliation(ctx context.Context, room, bareJID, affiliation, reason string) error
}

// Bookmarks adds a XEP-0402 bookmark to an account's, unless it has one
// for the room already (pep.Module.AddBookmark).
type Bookmarks interface {
	AddBookmark(ctx context.Context, user string, room jid.JID, conference *stanza.Element) (added bool, err error)
}

// RoomDeps are what the family room needs.
type RoomDeps struct {
	DB        *storage.DB
	Rooms     Rooms
	Bookmarks Bookmarks
	Domain    string
	Log       *slog.Logger
}

// Room keeps the family room.
type Room struct {
	db        *storage.DB
	rooms     Rooms
	bookmarks Bookmarks
	domain    string
	log       *slog.Logger

	// mu makes changes one at a time: a new account is taken in either
	// before or after the room changes, never half way.
	mu     sync.Mutex
	room   jid.JID  // zero: no family room
	owners []string // the administrators (admin.jids), the room's owners
}

// NewRoom returns the family room's keeper, with no room until Set.
func NewRoom(d RoomDeps) *Room {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Room{db: d.DB, rooms: d.Rooms, bookmarks: d.Bookmarks, domain: d.Domain, log: d.Log}
}

// JID is the family room's address, or "" when there is none.
func (m *Room) JID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.room.Local == "" {
		return ""
	}
	return m.room.String()
}

// Set makes name (the room's name on the room service; "" for none) the
// family room: made or configured, every account not taken in yet made a
// member with the room in its bookmarks, and deleted accounts' places in
// it taken away. A room it kept before is left as it is, with its history.
// After an error, Set again retries what is left.
func (m *Room) Set(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.room = jid.JID{}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil
	}
	room, err := jid.New(name, m.rooms.Service(), "")
	if err != nil || room.Local == "" {
		return fmt.Errorf("%q cannot be a room's name: use letters and digits, such as family", name)
	}
	// Non-anonymous and members-only: a private group, where clients
	// (Conversations) offer end-to-end encryption. Its name and
	// description are the room's own once made (EnsureRoom keeps them).
	cfg := RoomConfig{Name: title(room.Local), Description: "Everyone at home",
		Persistent: true, MembersOnly: true, Archived: true, NonAnonymous: true}
	if err := m.rooms.EnsureRoom(ctx, room.String(), cfg); err != nil {
		return fmt.Errorf("the family room %s could not be made: %w", room, err)
	}
	m.room = room
	affs, err := m.rooms.Affiliations(ctx, room.String())
	if err != nil {
		return fmt.Errorf("the family room's members could not be read: %w", err)
	}
	users, err := m.db.Users(ctx)
	if err != nil {
		return err
	}
	accounts := make(map[string]bool, len(users))
	var errs []error
	for _, u := range users {
		bare := jid.JID{Local: u.Name, Domain: m.domain}
		accounts[bare.String()] = true
		if affs[bare.String()] != "" {
			continue
		}
		if err := m.takeIn(ctx, u.Name); err != nil {
			errs = append(errs, err)
		}
	}
	// Accounts deleted while no server ran.
	for who := range affs {
		j, err := jid.Parse(who)
		if err != nil || j.Domain != m.domain || j.Local == "" || accounts[who] {
			continue
		}
		if err := m.rooms.SetAffiliation(ctx, room.String(), who, "none", "account deleted"); err != nil {
			errs = append(errs, fmt.Errorf("%s, deleted, is still in the room: %w", who, err))
		}
	}
	if err := m.ownersLocked(ctx, affs); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("some accounts could not be taken into the family room %s: %w", room, errors.Join(errs...))
	}
	return nil
}

// SetOwners makes the server's administrators (the setting admin.jids:
// bare JIDs of accounts here) the family room's owners, so that someone
// at home can moderate it (retract a message, XEP-0425), change its
// subject or take a member out. Someone taken off admin.jids stays an
// owner until changed with hearth rooms: the server cannot tell an owner
// it made from one the administrator made.
func (m *Room) SetOwners(ctx context.Context, admins []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.owners = admins
	if m.room.Local == "" {
		return nil
	}
	affs, err := m.rooms.Affiliations(ctx, m.room.String())
	if err != nil {
		return fmt.Errorf("the family room's members could not be read: %w", err)
	}
	return m.ownersLocked(ctx, affs)
}

// ownersLocked makes each administrator that is an account here an owner
// of the room; m.mu held.
func (m *Room) ownersLocked(ctx context.Context, affs map[string]string) error {
	var errs []error
	for _, a := range m.owners {
		j, err := jid.Parse(a)
		if err != nil || j.Local == "" || j.Domain != m.domain || affs[j.Bare().String()] == "owner" {
			continue
		}
		if ok, err := m.db.UserExists(ctx, j.Local); err != nil || !ok {
			continue
		}
		if err := m.rooms.SetAffiliation(ctx, m.room.String(), j.Bare().String(), "owner", "an administrator of the server"); err != nil {
			errs = append(errs, fmt.Errorf("%s, an administrator, was not made an owner: %w", j.Bare(), err))
		}
	}
	return errors.Join(errs...)
}

// takeIn adds the room to the account's bookmarks (unless it has it) and
// makes it a member, in that order: the membership records that the
// account was taken in.
func (m *Room) takeIn(ctx context.Context, user string) error {
	conf := stanza.New("conference", "urn:xmpp:bookmarks:1", "name", title(m.room.Local), "autojoin", "true").
		Append(stanza.New("nick", "urn:xmpp:bookmarks:1").AppendText(user))
	_, berr := m.bookmarks.AddBookmark(ctx, user, m.room, conf)
	if errors.Is(berr, storage.ErrNotFound) {
		return nil // deleted meanwhile
	}
	bare := jid.JID{Local: user, Domain: m.domain}.String()
	if err := m.rooms.SetAffiliation(ctx, m.room.String(), bare, "member", ""); err != nil {
		return fmt.Errorf("%s not made a member: %w", user, err)
	}
	if berr != nil {
		// A member all the same: the room is theirs to join by hand.
		return fmt.Errorf("%s is a member, but the room is not in their bookmarks: %w", user, berr)
	}
	return nil
}

// UserAdded takes a new account into the family room, if there is one.
func (m *Room) UserAdded(ctx context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.room.Local == "" {
		return nil
	}
	if err := m.takeIn(ctx, user); err != nil {
		return fmt.Errorf("the new account was not taken into the family room %s (%w); it is tried again at the next start", m.room, err)
	}
	bare := jid.JID{Local: user, Domain: m.domain}.String()
	for _, a := range m.owners {
		if a == bare {
			return m.ownersLocked(ctx, map[string]string{})
		}
	}
	return nil
}

// UserRemoved takes a deleted account's place in the family room away.
func (m *Room) UserRemoved(ctx context.Context, user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.room.Local == "" {
		return
	}
	bare := jid.JID{Local: user, Domain: m.domain}.String()
	if err := m.rooms.SetAffiliation(ctx, m.room.String(), bare, "none", "account deleted"); err != nil {
		m.log.Warn("a deleted account is still in the family room; the next start takes it out", "room", m.room.String(), "user", user, "err", err)
	}
}

// title is the room's name as people read it: family is "Family".
func title(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
