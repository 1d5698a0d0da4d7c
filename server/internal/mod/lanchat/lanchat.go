// Package lanchat bridges Hearth's accounts and serverless link-local chat
// on the LAN (XEP-0174): people on the local network using Pidgin's
// Bonjour, Adium, Gajim's zeroconf accounts and the like.
//
// Each account that opted in is announced as a _presence._tcp instance
// user@<host> while it has an available session, its TXT record following
// the account's presence. The peers found on the LAN appear on the local
// host lan.<domain> as name%machine@lan.<domain> (names.go), with their
// presence from their TXT records; messages go both ways over XEP-0174
// streams (server/internal/linklocal). The host is never federated: only
// this server's accounts reach it, and peers reach only the accounts
// announced.
package lanchat

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"hearth/discovery"
	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router
	Domain string
	// Host is the single-label host name the instances are announced on
	// ("family" for family.local): user@Host.
	Host string
	// Addr is where XEP-0174 streams are accepted; "" means port 5298
	// (the protocol's usual one), or any free port when it is taken.
	Addr string
	// Ifaces are the interfaces to work on; nil means every one that is
	// up, multicast-capable and not the loopback.
	Ifaces []net.Interface
	// TLS, if set, gives the certificate offered to peers that ask for
	// TLS.
	TLS func() *tls.Config
	// Enabled is the setting linklocal.enabled at start.
	Enabled bool
	Log     *slog.Logger
}

// sendTimeout bounds a message's way to a peer: the dial, at each
// address it announces, and the write.
const sendTimeout = 15 * time.Second

// Module is the bridge.
type Module struct {
	db     *storage.DB
	r      *router.Router
	domain string
	lan    string // lan.<domain>
	host   string
	addr   string
	ifaces []net.Interface
	tls    func() *tls.Config
	log    *slog.Logger

	wake chan struct{}

	mu      sync.Mutex
	life    context.Context // Run's; nil before and after
	enabled bool
	optIn   map[string]bool
	loaded  bool
	rt      *runtime
	reason  string // why nothing is announced, for the admin
	failed  bool   // the runtime could not start: tried again
	ann     map[string]*announcement
	dirty   map[string]bool
	peers   map[string]*peer // by nameKey of the instance
	byLocal map[string]*peer // by the localpart on lan.<domain>
	given   map[*router.Session]bool
}

// announcement is one account's published instance.
type announcement struct {
	user string
	inst *discovery.Instance
	txt  []string
	pres discovery.Presence
}

// peer is a link-local peer the browser found.
type peer struct {
	instance string
	local    string // on lan.<domain>
	entry    discovery.Entry
	pres     discovery.Presence
}

// New returns the module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: d.DB, r: d.Router, domain: d.Domain, lan: "lan." + d.Domain, host: d.Host, addr: d.Addr,
		ifaces: d.Ifaces, tls: d.TLS, log: d.Log, enabled: d.Enabled, wake: make(chan struct{}, 1),
		optIn: map[string]bool{}, ann: map[string]*announcement{}, dirty: map[string]bool{},
		peers: map[string]*peer{}, byLocal: map[string]*peer{}, given: map[*router.Session]bool{}}
}

// Register installs the LAN host.
func (m *Module) Register(mux *router.Mux) {
	mux.LocalHost(m.lan, m.handle)
}

// Host is the local host the peers are on.
func (m *Module) Host() string { return m.lan }

// SetEnabled applies linklocal.enabled: off withdraws every announcement
// (goodbyes) and ends the streams with peers.
func (m *Module) SetEnabled(on bool) {
	m.mu.Lock()
	m.enabled = on
	m.mu.Unlock()
	m.kick()
}

// SetOptIn applies an account's choice, stored already.
func (m *Module) SetOptIn(user string, on bool) {
	var give []delivery
	m.mu.Lock()
	if on {
		m.optIn[user] = true
		give = m.giveUser(user)
	} else {
		delete(m.optIn, user)
		give = m.takeBackPeers(user)
	}
	m.dirty[user] = true
	m.mu.Unlock()
	m.deliver(give)
	m.kick()
}

// UserRemoved forgets a deleted account (its opt-in row went with it).
func (m *Module) UserRemoved(_ context.Context, user string) { m.SetOptIn(user, false) }

// PresenceChanged follows an account's own presence (the presence module
// tells the server, which tells this): the announcement is published,
// updated or withdrawn, and a session that just became available learns
// who is on the LAN.
func (m *Module) PresenceChanged(s *router.Session) {
	user := s.JID.Local
	m.mu.Lock()
	if !m.optIn[user] {
		m.mu.Unlock()
		return
	}
	m.dirty[user] = true
	var give []delivery
	if s.Available() {
		give = m.give(s)
	} else {
		delete(m.given, s)
	}
	m.mu.Unlock()
	m.deliver(give)
	m.kick()
}

// give is the presence of every peer for a session of an account that
// takes part, the first time it is available while the bridge runs. The
// caller holds mu.
func (m *Module) give(s *router.Session) []delivery {
	if m.given[s] || m.rt == nil || !s.Available() {
		return nil
	}
	m.given[s] = true
	var out []delivery
	for _, p := range m.peers {
		if !m.blocked(s, p) {
			out = append(out, delivery{s, m.peerPresence(p, s.JID, false)})
		}
	}
	return out
}

// giveUser is give for every session of user. The caller holds mu.
func (m *Module) giveUser(user string) []delivery {
	var out []delivery
	for _, s := range m.r.Sessions(user) {
		out = append(out, m.give(s)...)
	}
	return out
}

// SessionEnded forgets the session.
func (m *Module) SessionEnded(_ context.Context, s *router.Session) {
	m.mu.Lock()
	delete(m.given, s)
	if m.optIn[s.JID.Local] {
		m.dirty[s.JID.Local] = true
	}
	m.mu.Unlock()
	m.kick()
}

func (m *Module) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// handle takes what the server's accounts send to the LAN host.
func (m *Module) handle(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.From.Domain != m.domain {
		// Only this server's accounts reach the LAN host (it is never
		// federated): anything else is dropped, never answered, so that
		// nothing from lan.<domain> leaves for another server.
		m.log.Debug("a stanza to the LAN host from outside this server was dropped", "from", st.From.String(), "to", st.To.String())
		return nil
	}
	if st.To.Local == "" {
		return m.handleHost(ctx, st)
	}
	if st.From.Local == "" {
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "people on the LAN can be reached only from accounts of this server")
	}
	m.mu.Lock()
	rt, p, a, in := m.rt, m.byLocal[st.To.Local], m.ann[st.From.Local], m.optIn[st.From.Local]
	m.mu.Unlock()
	switch st.Kind {
	case stanza.KindPresence:
		m.presenceToPeer(ctx, st, p)
		return nil
	case stanza.KindIQ:
		if st.Type == "get" || st.Type == "set" {
			return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "only messages reach people on the LAN")
		}
		return nil
	}
	switch {
	case rt == nil:
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "chat on the LAN is off on this server")
	case a == nil && in:
		return stanza.NewError(stanza.Wait, stanza.RecipientUnavailable,
			"your account is being announced on the LAN (that takes a second after you come online); try again in a moment")
	case a == nil:
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed,
			"your account does not take part in chat on the LAN; the administrator turns it on with: hearth lan on NAME")
	case p == nil:
		return stanza.NewError(stanza.Wait, stanza.RecipientUnavailable, "no one by that name is on the LAN now")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rt != rt {
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "chat on the LAN is off on this server")
	}
	if !m.enqueue(rt, a, p, st) {
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "too many messages wait for "+p.instance+"; try again in a moment")
	}
	return nil
}

// presenceToPeer answers an account's presence to a peer: peers need no
// subscription (XEP-0174 is serverless), so a request is approved at
// once, and a probe gets the peer's presence, for an account that takes
// part while the bridge runs (taking part says: they may see us, we see
// them). With the bridge stopped a request is declined and a probe
// answered unavailable; an account that does not take part learns
// nothing, not even whether the peer is there.
func (m *Module) presenceToPeer(ctx context.Context, st *stanza.Stanza, p *peer) {
	me := st.To.Bare()
	user := st.From.Bare()
	send := func(typ string) {
		el := stanza.New("presence", stanza.NSClient, "from", me.String(), "to", user.String())
		if typ != "" {
			el.SetAttr("type", typ)
		}
		m.route(ctx, el)
	}
	if st.Type == "unsubscribe" {
		send("unsubscribed")
		return
	}
	if st.Type != "subscribe" && st.Type != "probe" {
		return
	}
	m.mu.Lock()
	in, running := m.optIn[user.Local], m.rt != nil
	m.mu.Unlock()
	switch {
	case !in:
		m.log.Debug("presence to a peer on the LAN from an account that does not take part was dropped", "from", user.String(), "to", me.String())
		return
	case !running:
		if st.Type == "subscribe" {
			send("unsubscribed")
		}
		send("unavailable")
		return
	}
	if st.Type == "subscribe" {
		send("subscribed")
	}
	m.mu.Lock()
	var el *stanza.Element
	if p != nil && m.byLocal[p.local] == p {
		el = m.peerPresence(p, user, false)
	}
	m.mu.Unlock()
	if el != nil {
		m.route(ctx, el)
	} else {
		send("unavailable")
	}
}

// handleHost answers what is sent to lan.<domain> itself: its service
// discovery.
func (m *Module) handleHost(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.Kind != stanza.KindIQ || (st.Type != "get" && st.Type != "set") {
		return nil
	}
	q := st.Payload()
	if st.Type != "get" || q == nil || q.Name != "query" || q.Attr("node") != "" {
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "")
	}
	switch q.NS {
	case stanza.NSDiscoInfo:
		info := stanza.New("query", stanza.NSDiscoInfo).Append(
			stanza.New("identity", stanza.NSDiscoInfo, "category", "gateway", "type", "xmpp", "name", "People on the LAN (XEP-0174)"),
			stanza.New("feature", stanza.NSDiscoInfo, "var", stanza.NSDiscoInfo),
			stanza.New("feature", stanza.NSDiscoInfo, "var", stanza.NSDiscoItems))
		m.route(ctx, st.Result(info))
	case stanza.NSDiscoItems:
		// The people on the LAN come as presence, not as items.
		m.route(ctx, st.Result(stanza.New("query", stanza.NSDiscoItems)))
	default:
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "")
	}
	return nil
}

// route routes an element the module made.
func (m *Module) route(ctx context.Context, el *stanza.Element) {
	st, e := stanza.Parse(el)
	if e != nil {
		m.log.Error("the LAN bridge made a stanza it cannot route", "err", e.Text)
		return
	}
	m.r.Route(ctx, st)
}

// fromPeer takes a stanza a peer sent one of the announced accounts.
func (m *Module) fromPeer(peerName, local string, st *stanza.Stanza) {
	m.mu.Lock()
	user := m.userOf(local)
	life := m.life
	m.mu.Unlock()
	pl, ok := peerLocal(peerName, m.lan)
	if user == "" || !ok || life == nil {
		m.log.Info("a stanza from the LAN was dropped: it names no account announced now, or its sender's name cannot be written as an address", "peer", peerName, "to", local)
		return
	}
	m.mu.Lock()
	p := m.byLocal[pl]
	m.mu.Unlock()
	if p == nil || nameKey(p.instance) != nameKey(peerName) {
		// The address stands for another instance (or for none now):
		// never deliver in someone else's name.
		m.log.Info("a stanza from the LAN was dropped: its sender's address belongs to another peer, or to none now", "peer", peerName, "to", local)
		return
	}
	// What a peer sent is delivered or stored even while the server
	// stops (the stream was read before it).
	ctx := context.WithoutCancel(life)
	from := jid.JID{Local: pl, Domain: m.lan}
	to := jid.JID{Local: user, Domain: m.domain}
	switch st.Kind {
	case stanza.KindMessage:
		m.r.Route(ctx, m.peerMessage(st, from, to))
	case stanza.KindIQ:
		if st.Type == "get" || st.Type == "set" {
			reply := st.ErrorReply(stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "only messages reach this account"))
			m.mu.Lock()
			rt := m.rt
			m.mu.Unlock()
			if rt != nil {
				rs, _ := stanza.Parse(reply)
				if rs != nil {
					sctx, cancel := context.WithTimeout(ctx, sendTimeout)
					rt.svc.Send(sctx, local, peerName, rs) // best effort, as an answer
					cancel()
				}
			}
		}
	}
}

// peerMessage is a peer's message as it is routed: from the peer's
// address on the bridge to the account, without delays claiming to be
// this server's (as for clients' messages).
func (m *Module) peerMessage(st *stanza.Stanza, from, to jid.JID) *stanza.Stanza {
	out := st.WithAddrs(from, to) // a copy of its own
	m.r.StripOwnDelay(out.El)
	return out
}

// userOf is the account announced as the instance name; "" for none.
// The caller holds mu.
func (m *Module) userOf(name string) string {
	k := nameKey(name)
	for u, a := range m.ann {
		if nameKey(a.inst.Name()) == k {
			return u
		}
	}
	return ""
}
