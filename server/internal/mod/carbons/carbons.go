// Package carbons implements XEP-0280: Message Carbons. A session that
// enabled carbons gets a copy of each chat message its account sends from
// another session (sent) and of each one the account receives on another
// session (received), so that a conversation continues on every device.
// It is built on the router's outbound and inbound observers: the copies
// follow what routing did, and nothing else.
package carbons

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"hearth/server/internal/c2s"
	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Namespaces.
const (
	NS        = "urn:xmpp:carbons:2"
	NSForward = "urn:xmpp:forward:0" // XEP-0297
	NSHints   = "urn:xmpp:hints"     // XEP-0334
)

// Deps are what the module needs.
type Deps struct {
	Router *router.Router
	Log    *slog.Logger
}

// Module keeps which sessions want carbons and sends them their copies.
type Module struct {
	r   *router.Router
	log *slog.Logger

	mu      sync.Mutex
	enabled map[*router.Session]bool
	byJID   map[jid.JID]*router.Session // the enabled session of each full JID
	users   map[string]int              // sessions with carbons on, per account
	total   atomic.Int64                // all of them: none, and messages cost one load
}

// New returns the carbons module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{r: d.Router, log: d.Log, enabled: map[*router.Session]bool{}, byJID: map[jid.JID]*router.Session{}, users: map[string]int{}}
}

// Register installs the enable and disable requests (XEP-0280 4, sent to
// the account's own bare JID, which is where a request without 'to'
// goes) and the observers.
func (m *Module) Register(mux *router.Mux) {
	for _, name := range []string{"enable", "disable"} {
		mux.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToAccount, Name: name, NS: NS}, m.set)
	}
	mux.ObserveOutbound(m)
	mux.ObserveInbound(m)
	// XEP-0280 7: <private/> is for the sending server; the recipient
	// gets the message without it.
	mux.Consume("private", NS)
}

// Features advertises carbons on the server (XEP-0280 3).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{NS}}
}

// set enables or disables carbons for the session that asked.
func (m *Module) set(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.To.Local != st.From.Local || st.From.Resource == "" {
		// Only a session of the account itself, about itself.
		return nil, stanza.NewError(stanza.Cancel, stanza.NotAllowed, "carbons are enabled by the client itself, for its own session")
	}
	s := m.r.Session(st.From)
	if s == nil {
		return nil, stanza.ErrItemNotFound()
	}
	m.setEnabled(s, st.El.FirstElement().Name == "enable")
	return nil, nil
}

// setEnabled turns carbons on or off for s.
func (m *Module) setEnabled(s *router.Session, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.enabled[s] == on {
		return
	}
	user := s.JID.Local
	if on {
		// A session that replaced another of the same resource (a
		// device back with its stable Bind 2 resource) ends the old
		// one's entry: the router does not report its end.
		if o := m.byJID[s.JID]; o != nil && o != s {
			m.forgetLocked(o)
		}
		m.byJID[s.JID] = s
		m.enabled[s] = true
		m.users[user]++
		m.total.Add(1)
		return
	}
	m.forgetLocked(s)
}

// forgetLocked drops a session's entry; m.mu is held.
func (m *Module) forgetLocked(s *router.Session) {
	user := s.JID.Local
	delete(m.enabled, s)
	if m.byJID[s.JID] == s {
		delete(m.byJID, s.JID)
	}
	if m.users[user]--; m.users[user] <= 0 {
		delete(m.users, user)
	}
	m.total.Add(-1)
}

// BindInlines lets a client enable carbons in its Bind 2 request
// (XEP-0386 2.2: <enable xmlns='urn:xmpp:carbons:2'/>; no answer in
// <bound/>, the enabling cannot fail), so that no message slips between
// binding and enabling.
func (m *Module) BindInlines() []c2s.Inline {
	return []c2s.Inline{{NS: NS, Handle: func(_ context.Context, s *c2s.Stream, el *stanza.Element) *stanza.Element {
		if el.Name == "enable" {
			m.setEnabled(s.Session(), true)
		}
		return nil
	}}}
}

// SessionEnded forgets the session.
func (m *Module) SessionEnded(_ context.Context, s *router.Session) {
	m.setEnabled(s, false)
}

// Outbound sends a sent copy of a message a session of the account sent to
// the account's other sessions that want carbons (XEP-0280 6).
func (m *Module) Outbound(ctx context.Context, from *router.Session, st *stanza.Stanza, out router.Outcome) {
	if m.total.Load() == 0 || out.Error != nil || !eligible(st) {
		return
	}
	m.copy(ctx, from.JID.Local, "sent", st, func(s *router.Session) bool { return s == from })
}

// Inbound sends a received copy of a message to a local account to its
// sessions that want carbons and did not get the message itself
// (XEP-0280 5).
func (m *Module) Inbound(ctx context.Context, st *stanza.Stanza, out router.Outcome) {
	if m.total.Load() == 0 || out.Error != nil || len(out.Sessions) == 0 || !eligible(st) {
		return
	}
	m.mu.Lock()
	n := m.users[st.To.Local]
	m.mu.Unlock()
	if n == 0 {
		return
	}
	got := map[*router.Session]bool{}
	for _, s := range out.Sessions {
		got[s] = true
	}
	m.copy(ctx, st.To.Local, "received", st, func(s *router.Session) bool { return got[s] })
}

// copy delivers st, wrapped in a carbon of kind (sent or received), to
// each of user's sessions that want carbons, but those skip says.
func (m *Module) copy(ctx context.Context, user, kind string, st *stanza.Stanza, skip func(*router.Session) bool) {
	var to []*router.Session
	m.mu.Lock()
	if m.users[user] == 0 {
		m.mu.Unlock()
		return
	}
	for _, s := range m.r.Sessions(user) {
		if m.enabled[s] && !skip(s) {
			to = append(to, s)
		}
	}
	m.mu.Unlock()
	if len(to) == 0 {
		return
	}
	bare := jid.JID{Local: user, Domain: m.r.Domain}.String()
	for _, s := range to {
		c := stanza.New("message", stanza.NSClient, "from", bare, "to", s.JID.String(), "type", st.Type).Append(
			stanza.New(kind, NS).Append(
				stanza.New("forwarded", NSForward).Append(st.El)))
		m.r.Deliver(ctx, s, c)
	}
}

// eligible says whether a message is copied (XEP-0280 6.1): chat, and
// normal ones with a body; not groupchat, errors, carbons themselves, or
// messages that ask not to be (<private/> of XEP-0280 7, <no-copy/> of
// XEP-0334).
func eligible(st *stanza.Stanza) bool {
	if st.Kind != stanza.KindMessage {
		return false
	}
	switch st.Type {
	case "chat":
	case "", "normal":
		if st.El.Child("body", stanza.NSClient) == nil {
			return false
		}
	default:
		return false
	}
	for _, c := range st.El.Elements() {
		switch {
		case c.NS == NS: // private, or a carbon itself (sent, received)
			return false
		case c.NS == NSHints && c.Name == "no-copy":
			return false
		}
	}
	return true
}
