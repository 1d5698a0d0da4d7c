package muc

import (
	"context"
	"fmt"
	"sort"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// AdminItem is one <item/> of a muc#admin request (XEP-0045 9, 8).
type AdminItem struct {
	JID                     jid.JID
	Nick, Affiliation, Role string
	Reason                  string
}

// ParseAdminItems reads the items of a muc#admin query; a get names an
// affiliation or a role, a set also whom (jid or nick).
func ParseAdminItems(q *stanza.Element, set bool) ([]AdminItem, *stanza.Error) {
	var out []AdminItem
	for _, it := range q.Elements() {
		if it.Name != "item" || it.NS != NSAdmin {
			continue
		}
		a := AdminItem{Nick: it.Attr("nick"), Affiliation: it.Attr("affiliation"), Role: it.Attr("role"), Reason: it.ChildText("reason", NSAdmin)}
		if s := it.Attr("jid"); s != "" {
			j, err := jid.Parse(s)
			if err != nil {
				return nil, stanza.NewError(stanza.Modify, stanza.JIDMalformed, "an item's jid is not an address")
			}
			a.JID = j.Bare()
		}
		if (a.Affiliation == "") == (a.Role == "") {
			return nil, stanza.ErrBadRequest("each item names an affiliation or a role")
		}
		if a.Affiliation != "" && !validAff(a.Affiliation) || a.Role != "" && !validRole(a.Role) {
			return nil, stanza.ErrBadRequest("unknown affiliation or role")
		}
		if set {
			if a.Affiliation != "" && a.JID.IsZero() && a.Nick == "" {
				return nil, stanza.ErrBadRequest("an affiliation is given to a jid")
			}
			if a.Role != "" && a.Nick == "" {
				return nil, stanza.ErrBadRequest("a role is given to a nick")
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, stanza.ErrBadRequest("the query has no item")
	}
	return out, nil
}

// admin answers muc#admin gets and sets, r.mu held (released).
func (m *Module) admin(ctx context.Context, r *room, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	items, e := ParseAdminItems(st.Payload(), st.Type == "set")
	if e != nil {
		r.mu.Unlock()
		return nil, e
	}
	actorAff := r.affOf(st.From.Bare())
	actor := r.byReal(st.From)
	if st.Type == "get" {
		res := stanza.New("query", NSAdmin)
		for _, it := range items {
			if it.Affiliation != "" {
				if affRank(actorAff) < affRank(affAdmin) && !(r.cfg.MembersOnly && actorAff == affMember && it.Affiliation == affMember) {
					r.mu.Unlock()
					return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "only admins and owners see the lists of affiliations")
				}
				var js []string
				for j, a := range r.affs {
					if a.aff == it.Affiliation {
						js = append(js, j)
					}
				}
				sort.Strings(js)
				for _, j := range js {
					el := stanza.New("item", NSAdmin, "affiliation", it.Affiliation, "jid", j, "nick", r.affs[j].nick)
					if rs := r.affs[j].reason; rs != "" {
						el.Append(stanza.New("reason", NSAdmin).AppendText(rs))
					}
					res.Append(el)
				}
				continue
			}
			if actor == nil || actor.role != roleModerator {
				r.mu.Unlock()
				return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "only moderators see the lists of roles")
			}
			for _, o := range r.sorted() {
				if o.role == it.Role {
					res.Append(stanza.New("item", NSAdmin, "affiliation", r.affOf(o.real), "role", o.role, "nick", o.nick, "jid", o.latest().String()))
				}
			}
		}
		r.mu.Unlock()
		return res, nil
	}
	// A set is applied whole or not at all: check every item first.
	actorNick := ""
	if actor != nil {
		actorNick = actor.nick
	}
	for i, it := range items {
		if it.Affiliation != "" && it.JID.IsZero() {
			key, e := lookupKey(it.Nick)
			if e != nil || r.occ[key] == nil {
				r.mu.Unlock()
				return nil, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room")
			}
			items[i].JID = r.occ[key].real
		}
		if e := r.mayChange(actorAff, actor, items[i], m); e != nil {
			r.mu.Unlock()
			return nil, e
		}
	}
	added := map[string]bool{}
	for _, it := range items {
		if _, had := r.affs[it.JID.String()]; it.Affiliation != "" && it.Affiliation != affNone && !had {
			added[it.JID.String()] = true
		}
	}
	if len(r.affs)+len(added) > maxAffiliations {
		r.mu.Unlock()
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint, errTooMany.Error())
	}
	// Every item is applied in memory, then the room is saved once; if
	// that fails, the room is as it was and nobody hears of anything.
	undo := r.snapshot()
	var ds []delivery
	for _, it := range items {
		if it.Affiliation != "" {
			ds = m.applyAff(r, ds, it.JID, it.Affiliation, it.Reason, actorNick)
		} else {
			key, _ := lookupKey(it.Nick)
			if o := r.occ[key]; o != nil { // nil: put out by an earlier item
				ds = m.setRole(r, ds, o, it.Role, it.Reason, actorNick)
			}
		}
	}
	if err := m.save(ctx, r); err != nil {
		undo()
		r.mu.Unlock()
		m.log.Error("a room's affiliations could not be saved", "room", r.jid.String(), "err", err)
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the change could not be saved; try again")
	}
	m.vacate(r)
	m.flush(ctx, r, ds)
	return nil, nil
}

// snapshot returns what puts back the room's affiliations, occupants
// and roles as they are now, r.mu held.
func (r *room) snapshot() (undo func()) {
	affs := make(map[string]affRec, len(r.affs))
	for k, v := range r.affs {
		affs[k] = v
	}
	occ := make(map[string]*occupant, len(r.occ))
	roles := make(map[*occupant]string, len(r.occ))
	for k, o := range r.occ {
		occ[k], roles[o] = o, o.role
	}
	return func() {
		r.affs, r.occ = affs, occ
		for o, role := range roles {
			o.role = role
		}
	}
}

// vacate forgets a temporary room that its last occupant left (left,
// kicked, banned), and the history in memory of an archived one (fill
// reads it again for the next to join), r.mu held.
func (m *Module) vacate(r *room) {
	if len(r.occ) > 0 || r.gone {
		return
	}
	switch {
	case !r.cfg.Persistent && !r.locked:
		m.forget(r)
	case r.archived(m):
		r.history, r.filled = ring{}, false
	}
}

// mayChange applies XEP-0045's rules of who may change whose
// affiliation or role.
func (r *room) mayChange(actorAff string, actor *occupant, it AdminItem, m *Module) *stanza.Error {
	notAllowed := func(text string) *stanza.Error { return stanza.NewError(stanza.Cancel, stanza.NotAllowed, text) }
	if it.Affiliation != "" {
		target := r.affOf(it.JID)
		switch {
		case affRank(actorAff) < affRank(affAdmin):
			return stanza.NewError(stanza.Auth, stanza.Forbidden, "only admins and owners change affiliations")
		case (it.Affiliation == affOwner || it.Affiliation == affAdmin || target == affOwner || target == affAdmin) && actorAff != affOwner:
			return notAllowed("only owners grant or take away owner and admin")
		case target == affOwner && it.Affiliation != affOwner && r.owners() == 1:
			return stanza.NewError(stanza.Cancel, stanza.Conflict, "the room's last owner cannot be removed; make someone else owner first")
		}
		return nil
	}
	key, e := lookupKey(it.Nick)
	target := r.occ[key]
	if e != nil || target == nil {
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room")
	}
	targetAff := r.affOf(target.real)
	switch {
	case actor == nil || actor.role != roleModerator:
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "only moderators change roles")
	case (it.Role == roleModerator || target.role == roleModerator) && affRank(actorAff) < affRank(affAdmin):
		// XEP-0045 5.1.2: only admins and owners grant or revoke moderator.
		return notAllowed("only admins and owners make moderators or take it away")
	case affRank(targetAff) >= affRank(affAdmin) && it.Role != roleModerator:
		return notAllowed("admins and owners stay moderators")
	case affRank(targetAff) > affRank(actorAff):
		return notAllowed("you cannot change the role of someone with a higher affiliation")
	}
	return nil
}

// setAff changes an affiliation and what follows from it for occupants
// (XEP-0045 9: ban 301, members-only removal 321), r.mu held.
func (m *Module) setAff(ctx context.Context, r *room, ds []delivery, bare jid.JID, aff, reason, actorNick string) ([]delivery, error) {
	if _, had := r.affs[bare.String()]; !had && aff != affNone && len(r.affs) >= maxAffiliations {
		return ds, errTooMany
	}
	undo := r.snapshot()
	out := m.applyAff(r, ds, bare, aff, reason, actorNick)
	if err := m.save(ctx, r); err != nil {
		undo()
		m.log.Error("a room's affiliation could not be saved", "room", r.jid.String(), "err", err)
		return ds, err
	}
	return out, nil
}

// applyAff is setAff in memory only (the caller saves), r.mu held.
func (m *Module) applyAff(r *room, ds []delivery, bare jid.JID, aff, reason, actorNick string) []delivery {
	k := bare.String()
	old := r.affs[k]
	if aff == affNone {
		delete(r.affs, k)
	} else {
		a := old
		a.aff, a.reason = aff, reason
		r.affs[k] = a
	}
	var extra []*stanza.Element
	if actorNick != "" {
		extra = append(extra, stanza.New("actor", NSUser, "nick", actorNick))
	}
	if reason != "" {
		extra = append(extra, stanza.New("reason", NSUser).AppendText(reason))
	}
	present := r.byBare(bare)
	if len(present) == 0 && aff != old.aff && actorNick != "" {
		// Someone not in the room hears of a change an occupant made
		// (101, which XEP-0045 9.3 leaves to the service). The server's
		// own changes (the admin's, the family room taking every account
		// in, a deleted account leaving) are silent: they would wait as
		// a bodiless offline message in every account.
		x := stanza.New("x", NSUser).Append(stanza.New("item", NSUser, "affiliation", aff, "jid", k).Append(extra...), statusEl(101))
		msg := stanza.New("message", stanza.NSClient, "from", r.jid.String()).Append(x)
		ds = append(ds, addressed(msg, bare))
	}
	for _, o := range present {
		switch {
		case aff == affOutcast:
			ds = m.kickOut(r, ds, o, []int{301}, extra...)
		case r.cfg.MembersOnly && aff == affNone:
			ds = m.kickOut(r, ds, o, []int{321}, extra...)
		default:
			was := o.role
			if affRank(aff) >= affRank(affAdmin) {
				o.role = roleModerator
			} else if o.role == roleModerator && affRank(old.aff) >= affRank(affAdmin) || o.role == roleVisitor && aff == affMember {
				o.role = r.defaultRole(aff)
			}
			ds = r.broadcastPresence(ds, o, "", nil, nil, extra...)
			ds = r.reveal(ds, o, was)
		}
	}
	return ds
}

// errTooMany: a room has as many affiliations as it may keep.
var errTooMany = fmt.Errorf("the room has %d affiliations, the most it keeps; remove some first", maxAffiliations)

// setRole changes an occupant's role (kick 307, voice, moderator), r.mu
// held.
func (m *Module) setRole(r *room, ds []delivery, o *occupant, role, reason, actorNick string) []delivery {
	var extra []*stanza.Element
	if actorNick != "" {
		extra = append(extra, stanza.New("actor", NSUser, "nick", actorNick))
	}
	if reason != "" {
		extra = append(extra, stanza.New("reason", NSUser).AppendText(reason))
	}
	if role == roleNone {
		return m.kickOut(r, ds, o, []int{307}, extra...)
	}
	was := o.role
	o.role = role
	ds = r.broadcastPresence(ds, o, "", nil, nil, extra...)
	return r.reveal(ds, o, was)
}

// reveal sends a new moderator of a semi-anonymous room everyone's
// presence again, now with their real JIDs, r.mu held.
func (r *room) reveal(ds []delivery, o *occupant, was string) []delivery {
	if r.cfg.WhoisAnyone || was == roleModerator || o.role != roleModerator {
		return ds
	}
	for _, p := range r.sorted() {
		if p == o {
			continue
		}
		el := r.presenceOf(p, "", true, nil)
		for _, s := range o.sessions {
			ds = append(ds, addressed(el, s))
		}
	}
	return ds
}
