// Package presence implements presence (RFC 6121 4): initial, updated and
// unavailable presence broadcast to subscribers and the account's own
// resources, probes, directed presence, and the routing of subscription
// stanzas through the roster's state machine (RFC 6121 3).
package presence

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/offline"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// LastActivity records when an account's last available session ended
// (XEP-0012: last.Module).
type LastActivity interface {
	Logout(ctx context.Context, user, status string)
}

// Events is told when a session's own presence changed (the admin window
// follows it).
type Events interface {
	PresenceChanged(s *router.Session)
}

// Watcher follows presence for personal eventing (XEP-0163 4.3: the
// last published items, XEP-0115 caps, XEP-0398 avatar hashes).
type Watcher interface {
	// Outgoing returns the available presence a session sent as it is to
	// be broadcast (el itself, or a changed copy); el is not changed.
	Outgoing(ctx context.Context, s *router.Session, el *stanza.Element) *stanza.Element
	// SessionAvailable: a session of the account sent available presence
	// (broadcast already); initial is its first.
	SessionAvailable(ctx context.Context, s *router.Session, el *stanza.Element, initial bool)
	// Presence: available or unavailable presence from someone else
	// reached the account's bare JID (a contact's broadcast, directed
	// presence), from here or another server.
	Presence(ctx context.Context, user string, st *stanza.Stanza)
}

// Invites checks the token of a pre-authenticated subscription request
// (XEP-0379): true if the user handed it to contacts and contact may use
// it now (one use is spent).
type Invites interface {
	ContactInvite(ctx context.Context, user string, contact jid.JID, token string) bool
}

// NSPreauth is XEP-0379's token element.
const NSPreauth = "urn:xmpp:pars:0"

// Deps are what the module needs.
type Deps struct {
	DB      *storage.DB
	Router  *router.Router
	Roster  *roster.Module
	Offline *offline.Store // flushed at initial presence; may be nil
	Last    LastActivity   // may be nil
	Events  Events         // may be nil
	Watcher Watcher        // may be nil
	Invites Invites        // may be nil: no request is approved by the server
	Log     *slog.Logger
}

// Module handles presence in both directions and ends sessions' presence.
type Module struct {
	db      *storage.DB
	r       *router.Router
	roster  *roster.Module
	offline *offline.Store
	last    LastActivity
	events  Events
	watcher Watcher
	invites Invites
	log     *slog.Logger
}

// New returns the presence module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: d.DB, r: d.Router, roster: d.Roster, offline: d.Offline, last: d.Last, events: d.Events, watcher: d.Watcher, invites: d.Invites, log: d.Log}
}

// Register installs the handlers: presence sessions send (before
// routing), presence to accounts, and subscription requests and probes
// addressed to a full JID, which are handled as if sent to the bare JID
// (RFC 6121 3.1.3, 4.3). Other presence to a full JID is delivered to that
// session by the router (RFC 6121 8.5.3.1).
func (m *Module) Register(mux *router.Mux) {
	mux.HandleOutbound(stanza.KindPresence, m.outbound)
	mux.Handle(router.Pattern{Kind: stanza.KindPresence, Target: router.ToAccount}, m.inbound)
	mux.Handle(router.Pattern{Kind: stanza.KindPresence, Target: router.ToFull,
		Types: []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe"}}, m.inbound)
}

// maxDirected bounds the directed presences one session tracks.
const maxDirected = 1000

func isSubscription(typ string) bool {
	return typ == "subscribe" || typ == "subscribed" || typ == "unsubscribe" || typ == "unsubscribed"
}

// outbound handles presence a local session sent.
func (m *Module) outbound(ctx context.Context, s *router.Session, st *stanza.Stanza) {
	user := s.JID.Local
	switch {
	case isSubscription(st.Type):
		if st.To.IsZero() {
			return
		}
		m.outboundSubscription(ctx, s, st)
	case st.Type == "probe":
		// Probes are the server's business (RFC 6121 4.3); answer for
		// the contact directly if local, else route with our bare JID.
		if !st.To.IsZero() {
			m.route(ctx, st.El, s.JID.Bare(), st.To.Bare(), "probe")
		}
	case st.Type == "error":
		if !st.To.IsZero() {
			m.r.Route(ctx, st)
		}
	case !st.To.IsZero():
		// Directed presence (RFC 6121 4.6).
		if m.r.Blocked(user, st.To) {
			return
		}
		if st.Type == "unavailable" {
			m.r.Route(ctx, st)
			s.RemoveDirected(st.To)
			return
		}
		// Subscribers get unavailable presence anyway; others are
		// remembered for it (4.6.3), up to a bound.
		track := !m.roster.IsSubscriber(ctx, user, st.To)
		if track && s.DirectedCount() >= maxDirected {
			m.r.Bounce(ctx, st, stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "too many directed presences"))
			return
		}
		m.r.Route(ctx, st)
		if track {
			s.AddDirected(st.To)
		}
	case st.Type == "unavailable":
		m.unavailable(ctx, s, st.El)
	default:
		m.available(ctx, s, st)
	}
}

// available handles initial and updated presence broadcast (RFC 6121 4.2, 4.4).
func (m *Module) available(ctx context.Context, s *router.Session, st *stanza.Stanza) {
	user := s.JID.Local
	prio := 0
	if p := st.El.ChildText("priority", ""); p != "" {
		if v, err := strconv.Atoi(p); err == nil && v >= -128 && v <= 127 {
			prio = v
		}
	}
	el := st.El
	if m.watcher != nil {
		el = m.watcher.Outgoing(ctx, s, el)
	}
	was := s.SetPresence(el, prio)
	if m.events != nil {
		m.events.PresenceChanged(s)
	}
	subs, err := m.roster.Subscribers(ctx, user)
	if err != nil {
		m.log.Error("presence subscribers", "user", user, "err", err)
	}
	for _, c := range subs {
		if m.r.Blocked(user, c) {
			continue
		}
		m.send(ctx, el, s.JID, c)
	}
	// The account's own available resources, this one included (4.2.2).
	for _, o := range m.r.Sessions(user) {
		if o.Available() {
			m.r.Deliver(ctx, o, withAddrs(el, s.JID, o.JID))
		}
	}
	if m.watcher != nil {
		m.watcher.SessionAvailable(ctx, s, el, !was)
	}
	if was {
		return
	}
	// The new resource learns about the account's other resources.
	for _, o := range m.r.Sessions(user) {
		if avail, _, oel := o.Presence(); avail && o != s {
			m.r.Deliver(ctx, s, withAddrs(oel, o.JID, s.JID))
		}
	}
	// Initial presence: probe contacts (4.2.2), deliver pending
	// subscription requests (3.1.3) and offline messages (XEP-0160).
	subsTo, _ := m.roster.Subscriptions(ctx, user)
	for _, c := range subsTo {
		m.probe(ctx, s.JID, c)
	}
	if pend, err := m.db.PendingFor(ctx, user); err == nil {
		for _, p := range pend {
			// The stored request keeps its status and nick.
			el, err := stream.Unmarshal(p.Stanza)
			if err != nil {
				el = stanza.New("presence", stanza.NSClient, "from", p.Contact, "to", s.JID.Bare().String(), "type", "subscribe")
			}
			m.r.Deliver(ctx, s, el)
		}
	}
	if prio >= 0 && m.offline != nil {
		m.offline.Flush(ctx, s)
	}
}

// unavailable ends a session's availability (RFC 6121 4.5).
func (m *Module) unavailable(ctx context.Context, s *router.Session, el *stanza.Element) {
	user := s.JID.Local
	directed := s.TakeDirected()
	was := s.SetPresence(nil, 0)
	if !was && len(directed) == 0 {
		return
	}
	if was && m.events != nil {
		m.events.PresenceChanged(s)
	}
	if el == nil {
		el = stanza.New("presence", stanza.NSClient, "type", "unavailable")
	}
	if was {
		subs, _ := m.roster.Subscribers(ctx, user)
		for _, c := range subs {
			if !m.r.Blocked(user, c) {
				m.send(ctx, el, s.JID, c)
			}
		}
		for _, o := range m.r.Sessions(user) {
			if o != s && o.Available() {
				m.r.Deliver(ctx, o, withAddrs(el, s.JID, o.JID))
			}
		}
	}
	for _, d := range directed {
		m.send(ctx, el, s.JID, d)
	}
	if was && m.last != nil {
		last := true
		for _, o := range m.r.Sessions(user) {
			if o != s && o.Available() {
				last = false
			}
		}
		if last {
			m.last.Logout(ctx, user, el.ChildText("status", ""))
		}
	}
}

// SessionEnded sends unavailable presence for a session that ended
// without it (RFC 6121 4.5.2).
func (m *Module) SessionEnded(ctx context.Context, s *router.Session) {
	m.unavailable(ctx, s, nil)
}

func (m *Module) outboundSubscription(ctx context.Context, s *router.Session, st *stanza.Stanza) {
	user := s.JID.Local
	contact := st.To.Bare()
	o, err := m.roster.Outbound(ctx, user, contact, st.Type)
	if errors.Is(err, roster.ErrFull) {
		m.r.Bounce(ctx, st, m.roster.Full())
		return
	}
	if err != nil {
		m.log.Error("subscription", "user", user, "err", err)
		return
	}
	from := s.JID.Bare()
	if o.Route {
		// RFC 6121 3.1.2: stamped with the bare JID.
		m.route(ctx, st.El, from, contact, st.Type)
	}
	if o.SendPresence {
		m.presenceTo(ctx, user, contact)
	}
	if o.SendUnavailable {
		for _, r := range m.r.Sessions(user) {
			if r.Available() {
				m.send(ctx, stanza.New("presence", stanza.NSClient, "type", "unavailable"), r.JID, contact)
			}
		}
	}
}

// presenceTo sends the current presence of every available resource of
// user to contact (RFC 6121 3.1.5).
func (m *Module) presenceTo(ctx context.Context, user string, contact jid.JID) {
	for _, r := range m.r.Sessions(user) {
		if avail, _, el := r.Presence(); avail {
			m.send(ctx, el, r.JID, contact)
		}
	}
}

// inbound handles presence addressed to a local account.
func (m *Module) inbound(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	user := st.To.Local
	if !m.exists(ctx, user) {
		// RFC 6121 3.1.3 / 4.3.2: answer for an account that does not exist.
		if st.Type == "subscribe" || st.Type == "probe" {
			m.route(ctx, nil, st.To.Bare(), st.From.Bare(), "unsubscribed")
		}
		return nil
	}
	switch {
	case isSubscription(st.Type):
		m.inboundSubscription(ctx, st)
	case st.Type == "probe":
		m.answerProbe(ctx, user, st.From)
	default:
		// Available, unavailable, error: to all available resources (8.5.2.1.2).
		for _, s := range m.r.Sessions(user) {
			if s.Available() {
				m.r.Deliver(ctx, s, withAddrs(st.El, st.From, s.JID))
			}
		}
		if m.watcher != nil && st.Type != "error" {
			m.watcher.Presence(ctx, user, st)
		}
	}
	return nil
}

func (m *Module) inboundSubscription(ctx context.Context, st *stanza.Stanza) {
	user := st.To.Local
	contact := st.From.Bare()
	if st.Type == "subscribe" && m.invites != nil && contact != st.To.Bare() {
		if p := st.El.Child("preauth", NSPreauth); p != nil && m.invites.ContactInvite(ctx, user, contact, p.Attr("token")) {
			m.invited(ctx, st, user, contact)
			return
		}
	}
	el := stanza.New("presence", stanza.NSClient, "from", contact.String(), "to", st.To.Bare().String(), "type", st.Type)
	for _, c := range st.El.Children {
		if c.Name == "status" || c.NS != stanza.NSClient && c.Name != "" {
			el.Append(c) // keep status text and extensions (nick)
		}
	}
	o, err := m.roster.Inbound(ctx, user, contact, st.Type, el.Bytes())
	if err != nil {
		m.log.Error("subscription", "user", user, "err", err)
		return
	}
	if o.AutoReply {
		m.route(ctx, nil, st.To.Bare(), contact, "subscribed")
	}
	if o.SendPresence {
		m.presenceTo(ctx, user, contact)
	}
	if o.Deliver {
		for _, s := range m.r.Sessions(user) {
			if s.Available() {
				m.r.Deliver(ctx, s, withAddrs(el, contact, s.JID.Bare()))
			}
		}
		// A contact that dropped our subscription goes offline for us.
		if st.Type == "unsubscribed" {
			for _, s := range m.r.Sessions(user) {
				if s.Available() {
					m.r.Deliver(ctx, s, stanza.New("presence", stanza.NSClient, "from", contact.String(), "to", s.JID.String(), "type", "unavailable"))
				}
			}
		}
	}
}

// invited approves a subscription request that carried the user's
// invitation (XEP-0379 3.3) in the user's name, and asks for the
// contact's presence in return. An account here becomes a mutual contact
// at once, as the family circle makes them; another server's account is
// sent the approval and a request of its own, which its client
// pre-approved (XEP-0379 3.2).
func (m *Module) invited(ctx context.Context, st *stanza.Stanza, user string, contact jid.JID) {
	if m.r.IsLocal(contact) {
		userSees, contactSees, err := m.roster.Mutual(ctx, user, contact.Local, "", "")
		if contactSees {
			m.Approved(ctx, user, []jid.JID{contact})
		}
		if userSees {
			m.Approved(ctx, contact.Local, []jid.JID{st.To.Bare()})
		}
		if err != nil {
			m.log.Error("invited contact not added", "user", user, "contact", contact.String(), "err", err)
		}
		return
	}
	el := stanza.New("presence", stanza.NSClient, "from", contact.String(), "to", st.To.Bare().String(), "type", "subscribe")
	if _, err := m.roster.Inbound(ctx, user, contact, "subscribe", el.Bytes()); err != nil {
		m.log.Error("subscription", "user", user, "err", err)
		return
	}
	from := st.To.Bare()
	for _, typ := range []string{"subscribed", "subscribe"} {
		o, err := m.roster.Outbound(ctx, user, contact, typ)
		if err != nil {
			m.log.Error("subscription", "user", user, "err", err)
			return
		}
		if o.Route {
			m.route(ctx, nil, from, contact, typ)
		}
		if o.SendPresence {
			m.presenceTo(ctx, user, contact)
		}
	}
}

// answerProbe sends user's presence to a prober who may see it (4.3.2).
// A probe of the account by itself gets nothing: its resources see each
// other's presence already (4.2.2).
func (m *Module) answerProbe(ctx context.Context, user string, prober jid.JID) {
	if prober.Bare() == (jid.JID{Local: user, Domain: m.r.Domain}) {
		return
	}
	if ok, err := m.roster.MaySee(ctx, user, prober); err != nil || !ok {
		return
	}
	m.presenceTo(ctx, user, prober)
}

// probe asks for contact's presence on behalf of the user's new session.
func (m *Module) probe(ctx context.Context, from, contact jid.JID) {
	if m.r.IsLocal(contact) {
		// Answer locally: no stanza round trip.
		if ok, err := m.roster.MaySee(ctx, contact.Local, from); err != nil || !ok || m.r.Blocked(from.Local, contact) {
			return
		}
		s := m.r.Session(from)
		if s == nil {
			return
		}
		for _, r := range m.r.Sessions(contact.Local) {
			if avail, _, el := r.Presence(); avail {
				m.r.Deliver(ctx, s, withAddrs(el, r.JID, from))
			}
		}
		return
	}
	m.route(ctx, nil, from.Bare(), contact, "probe")
}

func (m *Module) exists(ctx context.Context, user string) bool {
	if len(m.r.Sessions(user)) > 0 {
		return true
	}
	ok, err := m.db.UserExists(ctx, user)
	return err == nil && ok
}

// send routes presence el from a full or bare JID to a contact.
func (m *Module) send(ctx context.Context, el *stanza.Element, from, to jid.JID) {
	out := withAddrs(el, from, to)
	m.r.Route(ctx, &stanza.Stanza{El: out, Kind: stanza.KindPresence, From: from, To: to, Type: out.Attr("type"), ID: out.Attr("id")})
}

// route sends a presence of the given type, keeping base's children.
func (m *Module) route(ctx context.Context, base *stanza.Element, from, to jid.JID, typ string) {
	el := stanza.New("presence", stanza.NSClient, "type", typ)
	if base != nil {
		el.SetAttr("id", base.Attr("id"))
		el.Children = base.Children
	}
	m.send(ctx, el, from, to)
}

func withAddrs(el *stanza.Element, from, to jid.JID) *stanza.Element {
	c := el.ShallowClone()
	c.SetAttr("from", from.String())
	c.SetAttr("to", to.String())
	return c
}

// Blocked sends unavailable presence from the user's resources to contacts
// the user just blocked (XEP-0191 3.3).
func (m *Module) Blocked(ctx context.Context, user string, blocked []jid.JID) {
	for _, s := range m.r.Sessions(user) {
		if !s.Available() {
			continue
		}
		for _, b := range blocked {
			m.send(ctx, stanza.New("presence", stanza.NSClient, "type", "unavailable"), s.JID, b)
		}
	}
}

// Unblocked sends the user's current presence to unblocked contacts that
// may see it now (XEP-0191 3.4).
func (m *Module) Unblocked(ctx context.Context, user string, unblocked []jid.JID) {
	m.mayNowSee(ctx, user, unblocked)
}

// Approved sends the user's current presence to contacts that were just
// given a subscription to it by the server itself (the family circle,
// the admin's "see each other"), as the user's approval would have sent
// it (RFC 6121 3.1.5): from each available resource, to the contacts'
// available resources.
func (m *Module) Approved(ctx context.Context, user string, contacts []jid.JID) {
	m.mayNowSee(ctx, user, contacts)
}

// mayNowSee sends the user's current presence to those of contacts that
// may see it.
func (m *Module) mayNowSee(ctx context.Context, user string, contacts []jid.JID) {
	for _, c := range contacts {
		if ok, err := m.roster.MaySee(ctx, user, c); err == nil && ok {
			m.presenceTo(ctx, user, c)
		}
	}
}
