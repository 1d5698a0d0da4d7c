package muc

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// handleMessage: groupchat messages and subjects to the room, private
// messages to occupants, invitations and declines (XEP-0045 7.4 to 7.8).
func (m *Module) handleMessage(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	r := m.locked(st.To.Local)
	if r == nil {
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is no such room")
	}
	o := r.byReal(st.From)
	if st.To.Resource != "" {
		return m.private(ctx, r, o, st)
	}
	if x := st.El.Child("x", NSUser); x != nil && st.Type != "groupchat" {
		return m.mediated(ctx, r, o, st, x)
	}
	if f := ParseForm(st.El.Child("x", stanza.NSDataForms)); f != nil && st.Type != "groupchat" {
		if ft, _ := f.Value("FORM_TYPE"); ft == nsRequest && f.Type == "submit" {
			return m.voice(ctx, r, o, st, f)
		}
	}
	if st.Type != "groupchat" {
		r.mu.Unlock()
		return stanza.NewError(stanza.Modify, stanza.BadRequest, "messages to a room are of type groupchat")
	}
	if o == nil {
		r.mu.Unlock()
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "you are not in this room; join it first")
	}
	if roleRank(o.role) < roleRank(roleParticipant) {
		r.mu.Unlock()
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "this room is moderated and you have no voice; ask a moderator")
	}
	if !m.allow(o) {
		r.mu.Unlock()
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are sending messages too fast; wait a moment")
	}
	subject := st.El.Child("subject", stanza.NSClient)
	if subject != nil && st.El.Child("body", stanza.NSClient) == nil {
		if o.role != roleModerator && !(r.cfg.ChangeSubject && roleRank(o.role) >= roleRank(roleParticipant)) {
			r.mu.Unlock()
			return stanza.NewError(stanza.Auth, stanza.Forbidden, "only moderators may change the subject of this room")
		}
		old, oldBy := r.subject, r.subjectBy
		r.subject, r.subjectBy = subject.Content(), o.nick
		if err := m.save(ctx, r); err != nil {
			r.subject, r.subjectBy = old, oldBy
			r.mu.Unlock()
			return stanza.NewError(stanza.Wait, stanza.InternalServerError, "the subject could not be saved; try again")
		}
	}
	out := r.outgoing(st.El, o)
	// Messages with a body are kept (history, archive); chat states and
	// other bodiless ones only pass.
	kept := st.El.Child("body", stanza.NSClient) != nil
	if kept {
		m.fill(ctx, r) // the history from before a restart goes first
	}
	// The archive's write is queued here, under r.mu, and waited for
	// after it (send): the messages of a busy room share group commits.
	var d router.Durable
	if kept && r.archived(m) {
		var stored *stanza.Element
		stored, d = m.archive.Store(ctx, r.jid, o.nick, out)
		if stored != nil {
			out = stored // with the room's stanza-id
		}
	}
	if kept {
		r.history.add(entry{el: out, at: m.now()})
	}
	ds := r.toAll(nil, out)
	if e := m.send(ctx, r, ds, d); e != nil {
		// Not archived: not sent, and out of the history again.
		r.mu.Lock()
		r.history.drop(out)
		r.mu.Unlock()
		return e
	}
	return nil
}

// outgoing is a message as the room sends it from o: from room/nick, the
// client's children but those only the room or a server may set, and o's
// occupant id.
func (r *room) outgoing(el *stanza.Element, o *occupant) *stanza.Element {
	out := stanza.New("message", stanza.NSClient, "from", r.jid.WithResource(o.nick).String(), "type", el.Attr("type"), "id", el.Attr("id"))
	if l := el.Lang(); l != "" {
		out.Attrs = append(out.Attrs, stanza.Attr{Space: stanza.NSXML, Name: "lang", Value: l})
	}
	for _, c := range el.Children {
		if c.Name == "" || roomOnly(c) {
			continue
		}
		out.Children = append(out.Children, c)
	}
	return out.Append(stanza.New("occupant-id", nsOccupantID, "id", o.id))
}

// roomOnly reports whether a child of an occupant's message is one only
// the room or a server may set, which a client could only forge: the
// muc namespaces' elements (<x xmlns='…muc#user'> with someone's <item
// jid/> or status codes), occupant ids, stanza-ids (whoever they claim
// is their by) and delays.
func roomOnly(c *stanza.Element) bool {
	switch {
	case c.NS == NS || strings.HasPrefix(c.NS, NS+"#"):
		return true
	case c.NS == nsOccupantID, c.NS == nsSID && c.Name == "stanza-id":
		return true
	case c.Name == "delay" && c.NS == stanza.NSDelay, c.Name == "x" && c.NS == "jabber:x:delay":
		return true
	}
	return false
}

// toAll adds el for every session of every occupant.
func (r *room) toAll(ds []delivery, el *stanza.Element) []delivery {
	n := 0
	for _, p := range r.occ {
		n += len(p.sessions)
	}
	ds = slices.Grow(ds, n)
	for _, p := range r.occ {
		for _, s := range p.sessions {
			ds = append(ds, addressed(el, s))
		}
	}
	return ds
}

// private forwards a private message to an occupant (XEP-0045 7.5),
// r.mu held.
func (m *Module) private(ctx context.Context, r *room, o *occupant, st *stanza.Stanza) *stanza.Error {
	fail := func(e *stanza.Error) *stanza.Error { r.mu.Unlock(); return e }
	if o == nil {
		return fail(stanza.NewError(stanza.Modify, stanza.NotAcceptable, "you are not in this room; join it first"))
	}
	if st.Type == "groupchat" {
		return fail(stanza.NewError(stanza.Modify, stanza.BadRequest, "a private message is of type chat"))
	}
	if e := r.mayPM(o); e != nil {
		return fail(e)
	}
	key, e := lookupKey(st.To.Resource)
	if e != nil {
		return fail(stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room"))
	}
	to := r.occ[key]
	if to == nil {
		return fail(stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room"))
	}
	if !m.allow(o) {
		return fail(stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are sending messages too fast; wait a moment"))
	}
	el := r.outgoing(st.El, o).Append(stanza.New("x", NSUser)) // a private message (XEP-0045 7.5)
	var ds []delivery
	for _, s := range to.sessions {
		ds = append(ds, addressed(el, s))
	}
	r.mu.Unlock()
	// Through Route, not Deliver: a private message is a message to the
	// account like any other (its block list, its archive, stanza-ids in
	// our name removed, carbons' rules).
	for _, d := range ds {
		m.route(ctx, d.el)
	}
	return nil
}

// maxInvites bounds the invitations in one message; maxInvitesKept the
// invitations a room remembers (for their declines).
const (
	maxInvites     = 10
	maxInvitesKept = 1000
)

// invited remembers that inviter invited invitee, whose decline goes
// back to inviter, r.mu held.
func (r *room) invited(invitee, inviter jid.JID) {
	if r.invites == nil {
		r.invites = map[string]jid.JID{}
	}
	if len(r.invites) >= maxInvitesKept {
		for k := range r.invites { // forget one, any
			delete(r.invites, k)
			break
		}
	}
	r.invites[invitee.String()] = inviter
}

// mayPM applies the room's allowpm to o's private messages and queries
// to other occupants, r.mu held.
func (r *room) mayPM(o *occupant) *stanza.Error {
	switch r.cfg.AllowPM {
	case "none":
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "private messages are off in this room")
	case "moderators":
		if o.role != roleModerator {
			return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "only moderators may send private messages in this room")
		}
	case "participants":
		if roleRank(o.role) < roleRank(roleParticipant) {
			return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "visitors may not send private messages in this room")
		}
	}
	return nil
}

// mediated handles invitations and declines through the room
// (XEP-0045 7.8.2, 7.8.2.1), r.mu held.
func (m *Module) mediated(ctx context.Context, r *room, o *occupant, st *stanza.Stanza, x *stanza.Element) *stanza.Error {
	fail := func(e *stanza.Error) *stanza.Error { r.mu.Unlock(); return e }
	var ds []delivery
	if inv := x.Child("invite", NSUser); inv != nil {
		if o == nil {
			return fail(stanza.NewError(stanza.Modify, stanza.NotAcceptable, "only people in the room may invite"))
		}
		aff := r.affOf(o.real)
		if r.cfg.MembersOnly && !r.cfg.AllowInvites && affRank(aff) < affRank(affAdmin) {
			return fail(stanza.NewError(stanza.Auth, stanza.Forbidden, "only admins may invite to this room"))
		}
		n := 0
		for _, inv := range x.Elements() {
			if inv.Name == "invite" {
				n++
			}
		}
		if n > maxInvites {
			return fail(stanza.NewError(stanza.Modify, stanza.PolicyViolation, fmt.Sprintf("at most %d invitations go in one message", maxInvites)))
		}
		changed := false
		for _, inv := range x.Elements() {
			if inv.Name != "invite" {
				continue
			}
			// Each invitation is a message to someone: it costs what a
			// message to the room costs.
			if !m.allow(o) {
				return fail(stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are sending invitations too fast; wait a moment"))
			}
			to, err := jid.Parse(inv.Attr("to"))
			if err != nil {
				return fail(stanza.NewError(stanza.Modify, stanza.JIDMalformed, "the invitation's to is not an address"))
			}
			// Members-only: the invitee becomes a member when an admin
			// invites, or anyone where invitations are allowed.
			if r.cfg.MembersOnly && r.affOf(to.Bare()) == affNone && (affRank(aff) >= affRank(affAdmin) || r.cfg.AllowInvites) {
				if len(r.affs) >= maxAffiliations {
					return fail(stanza.NewError(stanza.Wait, stanza.ResourceConstraint, errTooMany.Error()))
				}
				r.affs[to.Bare().String()] = affRec{aff: affMember}
				changed = true
			}
			from := o.real
			if !r.cfg.WhoisAnyone {
				from = r.jid.WithResource(o.nick)
			}
			ix := stanza.New("x", NSUser)
			in := stanza.New("invite", NSUser, "from", from.String())
			if reason := inv.Child("reason", NSUser); reason != nil {
				in.Append(reason)
			}
			ix.Append(in)
			if r.cfg.Password != "" {
				ix.Append(stanza.New("password", NSUser).AppendText(r.cfg.Password))
			}
			msg := stanza.New("message", stanza.NSClient, "from", r.jid.String(), "id", st.ID).Append(ix)
			msg.Append(stanza.New("x", nsConference, "jid", r.jid.String()))
			ds = append(ds, delivery{to: to, el: msg})
			r.invited(to.Bare(), o.real)
		}
		if changed {
			if err := m.save(ctx, r); err != nil {
				return fail(stanza.NewError(stanza.Wait, stanza.InternalServerError, "the invitee's membership could not be saved; try again"))
			}
		}
	} else if dec := x.Child("decline", NSUser); dec != nil {
		if _, err := jid.Parse(dec.Attr("to")); err != nil && dec.Attr("to") != "" {
			return fail(stanza.NewError(stanza.Modify, stanza.JIDMalformed, "the decline's to is not an address"))
		}
		// Only someone invited declines, once, to whoever invited them.
		to, ok := r.invites[st.From.Bare().String()]
		if !ok {
			return fail(stanza.NewError(stanza.Cancel, stanza.NotAcceptable, "you have no invitation to this room to decline"))
		}
		delete(r.invites, st.From.Bare().String())
		d := stanza.New("decline", NSUser, "from", st.From.Bare().String())
		if reason := dec.Child("reason", NSUser); reason != nil {
			d.Append(reason)
		}
		msg := stanza.New("message", stanza.NSClient, "from", r.jid.String(), "id", st.ID).Append(stanza.New("x", NSUser).Append(d))
		ds = append(ds, delivery{to: to, el: msg})
	} else {
		return fail(stanza.NewError(stanza.Modify, stanza.BadRequest, "a message to the room is groupchat, an invitation or a decline"))
	}
	r.mu.Unlock()
	for _, d := range ds {
		d.el.SetAttr("to", d.to.String())
		m.route(ctx, d.el)
	}
	return nil
}
