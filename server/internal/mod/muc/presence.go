package muc

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// nick validates and normalises a requested nick (PRECIS Nickname, RFC
// 8266) and returns it with its comparison key.
func (m *Module) nick(s string) (nick, key string, e *stanza.Error) {
	n, err := precis.Nickname.String(s)
	if err != nil || n == "" {
		return "", "", stanza.NewError(stanza.Modify, stanza.JIDMalformed, "this nickname cannot be used: use letters, digits and ordinary symbols")
	}
	if max := int(m.maxNick.Load()); utf8.RuneCountInString(n) > max {
		return "", "", stanza.NewError(stanza.Modify, stanza.JIDMalformed, fmt.Sprintf("nicknames are at most %d characters here", max))
	}
	k, err := precis.Nickname.CompareKey(n)
	if err != nil {
		return "", "", stanza.NewError(stanza.Modify, stanza.JIDMalformed, "this nickname cannot be used")
	}
	return n, k, nil
}

// lookupKey is the comparison key of a nick that names an occupant (no
// length bound: the nick may be older than the bound).
func lookupKey(s string) (string, *stanza.Error) {
	k, err := precis.Nickname.CompareKey(s)
	if err != nil || k == "" {
		return "", stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room")
	}
	return k, nil
}

// nickKeyOr is the comparison key of a stored nick (the nick itself if it
// has none).
func nickKeyOr(n string) string {
	if k, err := precis.Nickname.CompareKey(n); err == nil {
		return k
	}
	return n
}

func statusEl(code int) *stanza.Element {
	return stanza.New("status", NSUser, "code", strconv.Itoa(code))
}

// presenceOf is an occupant's presence as the room sends it: the
// client's own children (show, status, caps...), then the muc#user item
// (with the real JID when withJID) and the status codes, then its
// occupant id.
func (r *room) presenceOf(o *occupant, typ string, withJID bool, codes []int, itemExtra ...*stanza.Element) *stanza.Element {
	p := stanza.New("presence", stanza.NSClient, "from", r.jid.WithResource(o.nick).String(), "type", typ)
	if typ == "" && o.presence != nil {
		for _, c := range o.presence.Children {
			if c.Name == "" || c.NS == NS || c.NS == NSUser || c.NS == nsOccupantID || c.Name == "error" {
				continue
			}
			p.Children = append(p.Children, c)
		}
	} else if typ == "unavailable" && o.presence != nil {
		if s := o.presence.Child("status", stanza.NSClient); s != nil {
			p.Children = append(p.Children, s)
		}
	}
	role, aff := o.role, r.affOf(o.real)
	if typ == "unavailable" {
		role = roleNone
	}
	item := stanza.New("item", NSUser, "affiliation", aff, "role", role)
	if withJID {
		item.SetAttr("jid", o.latest().String())
	}
	item.Append(itemExtra...)
	x := stanza.New("x", NSUser).Append(item)
	for _, c := range codes {
		x.Append(statusEl(c))
	}
	p.Append(x, stanza.New("occupant-id", nsOccupantID, "id", o.id))
	return p
}

// seesJIDs: whether the occupant may see real JIDs (non-anonymous room,
// or a moderator).
func (r *room) seesJIDs(o *occupant) bool { return r.cfg.WhoisAnyone || o.role == roleModerator }

// broadcastPresence adds o's presence for every occupant (self: with
// 110 and selfCodes) to ds.
func (r *room) broadcastPresence(ds []delivery, o *occupant, typ string, codes, selfCodes []int, itemExtra ...*stanza.Element) []delivery {
	var anon, named *stanza.Element
	self := r.presenceOf(o, typ, true, append(append([]int{110}, selfCodes...), codes...), itemExtra...)
	for _, p := range r.sorted() {
		if p == o {
			for _, s := range p.sessions {
				ds = append(ds, addressed(self, s))
			}
			continue
		}
		var el *stanza.Element
		if r.seesJIDs(p) {
			if named == nil {
				named = r.presenceOf(o, typ, true, codes, itemExtra...)
			}
			el = named
		} else {
			if anon == nil {
				anon = r.presenceOf(o, typ, false, codes, itemExtra...)
			}
			el = anon
		}
		for _, s := range p.sessions {
			ds = append(ds, addressed(el, s))
		}
	}
	return ds
}

// handlePresence: joining, presence updates, nick changes and leaving
// (XEP-0045 7.2 to 7.14).
func (m *Module) handlePresence(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	switch st.Type {
	case "", "unavailable":
	default:
		return nil // subscriptions and probes mean nothing to a room
	}
	if st.Type == "unavailable" {
		r := m.locked(st.To.Local)
		if r == nil {
			return nil
		}
		o := r.byReal(st.From)
		if o != nil && st.To.Resource != "" {
			// Unavailable to another occupant's room JID is not leaving:
			// blocking an occupant (XEP-0191 3.3) sends it.
			if key, e := lookupKey(st.To.Resource); e != nil || key != o.key {
				o = nil
			}
		}
		if o == nil {
			r.mu.Unlock()
			return nil
		}
		m.leave(ctx, r, o, st.From, st.El)
		return nil
	}
	if st.To.Resource == "" {
		return stanza.NewError(stanza.Modify, stanza.JIDMalformed, "join a room as room@"+m.service+"/nickname")
	}
	nick, key, e := m.nick(st.To.Resource)
	if e != nil {
		return e
	}
	r := m.room(st.To.Local)
	created := false
	if r == nil {
		var e *stanza.Error
		if r, created, e = m.create(st.To.Local, st.From); e != nil {
			return e
		}
	}
	r.mu.Lock()
	if r.gone {
		r.mu.Unlock()
		return m.handlePresence(ctx, st) // vanished meanwhile: begin again
	}
	if o := r.byReal(st.From); o != nil {
		if !m.allow(o) {
			// Presence updates reach everyone too.
			r.mu.Unlock()
			return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are changing your presence too fast; wait a moment")
		}
		if o.key == key && st.El.Child("x", NS) != nil {
			// A join from a session the room counts in: its client lost
			// track (a new stream under the same resource); it gets the
			// room again as on joining (XEP-0045 7.2), the others nothing.
			return m.join(ctx, r, st, nick, key, false, true)
		}
		if o.key == key {
			o.presence = st.El
			ds := r.broadcastPresence(nil, o, "", nil, nil)
			m.flush(ctx, r, ds)
			return nil
		}
		return m.changeNick(ctx, r, o, st, nick, key)
	}
	return m.join(ctx, r, st, nick, key, created, false)
}

// create makes a new room for its first occupant, locked until it is
// configured (XEP-0045 10.1); made is false when someone else made it
// meanwhile.
func (m *Module) create(local string, creator jid.JID) (r *room, made bool, e *stanza.Error) {
	if creator.Domain != m.domain {
		// Rooms are made by this server's accounts; others may join them.
		return nil, false, stanza.NewError(stanza.Cancel, stanza.NotAllowed, "only accounts of "+m.domain+" create rooms here")
	}
	// Counted without m.mu: a room's lock is never taken under it.
	owned := 0
	for _, r := range m.allRooms() {
		r.mu.Lock()
		if r.affOf(creator.Bare()) == affOwner {
			owned++
		}
		r.mu.Unlock()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.rooms[local]; r != nil {
		return r, false, nil
	}
	if m.deleting[local] != nil {
		return nil, false, stanza.NewError(stanza.Wait, stanza.Conflict, "a room of this name was just destroyed and its messages are still being deleted; try again in a moment")
	}
	if max := int(m.maxRooms.Load()); owned >= max {
		return nil, false, stanza.NewError(stanza.Cancel, stanza.NotAllowed, fmt.Sprintf("you already own %d rooms, the most one person may have here; destroy one first", max))
	}
	r = newRoom(jid.JID{Local: local, Domain: m.service}, newSecret())
	r.cfg.Archive = m.archiveNew.Load()
	r.locked = true
	r.affs[creator.Bare().String()] = affRec{aff: affOwner}
	m.rooms[local] = r
	return r, true, nil
}

// mayEnter applies the rules of entering (XEP-0045 7.2.5 to 7.2.10), r.mu
// held; same is the occupant already under the nick, if any.
func (m *Module) mayEnter(r *room, st *stanza.Stanza, x *stanza.Element, bare jid.JID, key string, same *occupant) *stanza.Error {
	aff := r.affOf(bare)
	switch {
	case r.locked && aff != affOwner:
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "this room is being set up by its owner; try again in a moment")
	case aff == affOutcast:
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "you are banned from this room")
	case r.cfg.MembersOnly && affRank(aff) < affRank(affMember):
		return stanza.NewError(stanza.Auth, stanza.RegistrationRequired, "this room is for members only; ask an owner to invite you")
	}
	if same != nil && same.real != bare {
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this nickname is taken in the room; choose another")
	}
	if by := r.reservedBy(key); by != "" && by != bare.String() {
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this nickname is reserved by a member of the room; choose another")
	}
	if r.cfg.Password != "" && affRank(aff) < affRank(affAdmin) {
		if x == nil || x.ChildText("password", NS) != r.cfg.Password {
			return stanza.NewError(stanza.Auth, stanza.NotAuthorized, "this room needs a password")
		}
	}
	if same == nil && affRank(aff) < affRank(affAdmin) {
		limit := int(m.maxOccupants.Load())
		if r.cfg.MaxUsers > 0 && r.cfg.MaxUsers < limit {
			limit = r.cfg.MaxUsers
		}
		if len(r.occ) >= limit {
			return stanza.NewError(stanza.Wait, stanza.ServiceUnavailable, "the room is full")
		}
	}
	return nil
}

// join lets a new occupant in, r.mu held (released on return).
func (m *Module) join(ctx context.Context, r *room, st *stanza.Stanza, nick, key string, created, rejoin bool) *stanza.Error {
	bare := st.From.Bare()
	x := st.El.Child("x", NS)
	same := r.occ[key]
	if !rejoin {
		if e := m.mayEnter(r, st, x, bare, key, same); e != nil {
			if created && len(r.occ) == 0 {
				m.forget(r)
			}
			r.mu.Unlock()
			return e
		}
	}
	var ds []delivery
	o := same
	if o == nil {
		o = &occupant{nick: nick, key: key, real: bare, role: r.defaultRole(r.affOf(bare)), id: r.occupantID(bare)}
		r.occ[key] = o
	}
	if !o.hasSession(st.From) {
		o.sessions = append(o.sessions, st.From)
	}
	o.presence = st.El
	// 1. The others' presence, to the newcomer.
	for _, p := range r.sorted() {
		if p == o {
			continue
		}
		ds = append(ds, addressed(r.presenceOf(p, "", r.seesJIDs(o), nil), st.From))
	}
	// 2. The newcomer's presence to everyone, its own last (with 110).
	var selfCodes []int
	if r.cfg.WhoisAnyone {
		selfCodes = append(selfCodes, 100)
	}
	if r.archived(m) {
		selfCodes = append(selfCodes, 170)
	}
	if created {
		selfCodes = append(selfCodes, 201)
	}
	if nick != st.To.Resource {
		selfCodes = append(selfCodes, 210)
	}
	if same != nil {
		// Another session of an occupant: only it hears of itself.
		self := r.presenceOf(o, "", true, append([]int{110}, selfCodes...))
		ds = append(ds, addressed(self, st.From))
	} else {
		var variant [2]*stanza.Element // without and with the real JID
		for _, p := range r.sorted() {
			if p == o {
				continue
			}
			i := 0
			if r.seesJIDs(p) {
				i = 1
			}
			if variant[i] == nil {
				variant[i] = r.presenceOf(o, "", i == 1, nil)
			}
			for _, s := range p.sessions {
				ds = append(ds, addressed(variant[i], s))
			}
		}
		ds = append(ds, addressed(r.presenceOf(o, "", true, append([]int{110}, selfCodes...)), st.From))
	}
	// 3. History, then 4. the subject (even empty).
	if !created {
		ds = append(ds, m.historyFor(ctx, r, x, st.From)...)
	}
	subj := stanza.New("message", stanza.NSClient, "type", "groupchat", "id", "subject")
	if r.subjectBy != "" {
		subj.SetAttr("from", r.jid.WithResource(r.subjectBy).String())
	} else {
		subj.SetAttr("from", r.jid.String())
	}
	subj.Append(stanza.New("subject", stanza.NSClient).AppendText(r.subject))
	ds = append(ds, addressed(subj, st.From))
	m.flush(ctx, r, ds)
	return nil
}

// changeNick renames an occupant (XEP-0045 7.6), r.mu held.
func (m *Module) changeNick(ctx context.Context, r *room, o *occupant, st *stanza.Stanza, nick, key string) *stanza.Error {
	if p := r.occ[key]; p != nil && p != o {
		r.mu.Unlock()
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this nickname is taken in the room; choose another")
	}
	if by := r.reservedBy(key); by != "" && by != o.real.String() {
		r.mu.Unlock()
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this nickname is reserved by a member of the room; choose another")
	}
	var ds []delivery
	ds = r.broadcastPresence(ds, o, "unavailable", []int{303}, nil)
	// The item of the unavailable presence names the new nick.
	for _, d := range ds {
		d.el.Children = append([]*stanza.Element(nil), d.el.Children...)
		for i, c := range d.el.Children {
			if c.Name == "x" && c.NS == NSUser {
				x := c.ShallowClone()
				item := x.Children[0].ShallowClone()
				item.SetAttr("nick", nick)
				x.Children[0] = item
				d.el.Children[i] = x
			}
		}
	}
	delete(r.occ, o.key)
	o.nick, o.key, o.presence = nick, key, st.El
	r.occ[key] = o
	var codes []int
	if nick != st.To.Resource {
		codes = append(codes, 210)
	}
	ds = r.broadcastPresence(ds, o, "", nil, codes)
	m.flush(ctx, r, ds)
	return nil
}

// leave takes a session out (XEP-0045 7.14) with the status codes given
// (333: it vanished), r.mu held (released on return); the room goes when
// a temporary room is empty.
func (m *Module) leave(ctx context.Context, r *room, o *occupant, full jid.JID, pres *stanza.Element, codes ...int) {
	if len(o.sessions) > 1 {
		o.dropSession(full)
		self := r.presenceOf(o, "unavailable", true, append([]int{110}, codes...))
		m.flush(ctx, r, []delivery{addressed(self, full)})
		return
	}
	if pres != nil {
		o.presence = pres
	}
	ds := r.broadcastPresence(nil, o, "unavailable", codes, nil)
	delete(r.occ, o.key)
	if len(r.occ) == 0 && !r.cfg.Persistent {
		m.forget(r) // locked or not: its creator left
	}
	m.vacate(r)
	m.flush(ctx, r, ds)
}

// kickOut removes every session of o with the given status codes and
// item extras (kick 307, ban 301, members-only 321, ...), r.mu held.
func (m *Module) kickOut(r *room, ds []delivery, o *occupant, codes []int, extra ...*stanza.Element) []delivery {
	o.role = roleNone
	ds = r.broadcastPresence(ds, o, "unavailable", codes, nil, extra...)
	delete(r.occ, o.key)
	return ds
}
