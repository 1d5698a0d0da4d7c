package router

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Target is where a stanza is addressed, as the router classifies it once.
type Target uint8

// Targets. A pattern may name several.
const (
	// ToServer is the domain itself (to='example.org').
	ToServer Target = 1 << iota
	// ToAccount is a local account's bare JID (to='alice@example.org').
	ToAccount
	// ToFull is a local full JID (to='alice@example.org/phone'); a handler
	// registered for it runs instead of delivery to the session.
	ToFull

	targetCount = 3
)

func (t Target) String() string {
	switch t {
	case ToServer:
		return "server"
	case ToAccount:
		return "account"
	case ToFull:
		return "full JID"
	}
	return fmt.Sprintf("targets(%#x)", uint8(t))
}

// Stanza types in patterns. A message without a type is "normal" (RFC 6121
// 5.2.2) and a presence without one is "available" (RFC 6121 4.7.1).
const (
	TypeNormal    = "normal"
	TypeAvailable = "available"
)

// types are the types of each kind that handlers are found for. IQ results
// and errors are answers, never dispatched to handlers.
var types = map[stanza.Kind][]string{
	stanza.KindIQ:       {"get", "set"},
	stanza.KindMessage:  {TypeNormal, "chat", "groupchat", "headline", "error"},
	stanza.KindPresence: {TypeAvailable, "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error"},
}

// Pattern selects the stanzas a handler gets.
type Pattern struct {
	// Kind is the stanza kind (HandleIQ sets it).
	Kind stanza.Kind
	// Types are the stanza types; none means every type of the kind.
	Types []string
	// Target is one or more targets; it is required.
	Target Target
	// Name and NS select the payload: the child of an IQ, or a child
	// element a message carries. An empty Name matches any element in NS;
	// both empty match any payload. Presence has no payload here.
	Name, NS string
}

// Handler handles a message or a presence stanza whose from is trusted. A
// returned error is sent back to the sender (RFC 6120 8.3).
type Handler func(ctx context.Context, st *stanza.Stanza) *stanza.Error

// IQHandler answers an IQ get or set. It returns the result payload (nil
// for an empty result) or a stanza error; a handler that sent its own
// answer returns ErrAnswered.
type IQHandler func(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error)

// ErrAnswered tells the router that the handler sent its own reply.
var ErrAnswered = &stanza.Error{Condition: "answered"}

// OutboundHandler takes the stanzas of one kind that a local session sends,
// before they are routed (presence: RFC 6121 4).
type OutboundHandler func(ctx context.Context, from *Session, st *stanza.Stanza)

// Remote routes stanzas to other domains (federation).
type Remote interface {
	// Route hands st to the link to its domain; an error bounces it.
	Route(ctx context.Context, st *stanza.Stanza) *stanza.Error
}

// Blocker answers XEP-0191 questions: whether user blocks other.
type Blocker interface {
	Blocks(user string, other jid.JID) bool
}

// Outcome is what became of a routed stanza.
type Outcome struct {
	// Sessions are the local sessions it was handed to.
	Sessions []*Session
	// Stored: it was taken for offline storage (XEP-0160). From a
	// client's stream the write may still be under way (it joins the
	// stream's Pending); if it then fails, the sender gets the error and
	// observers are not told again.
	Stored bool
	// Remote: it was handed to another domain.
	Remote bool
	// Handled: a handler or a local host took it.
	Handled bool
	// Error: it was refused with this error (and bounced, unless it was an
	// error or a result itself).
	Error *stanza.Error
}

// OutboundObserver sees every message a local session sent, after
// routing, with its outcome: to local accounts, local hosts and other
// domains alike (carbons' sent copies, the sender's archive).
type OutboundObserver interface {
	Outbound(ctx context.Context, from *Session, st *stanza.Stanza, out Outcome)
}

// InboundObserver sees every message routed to a local account, from
// anywhere, after delivery decisions (carbons' received copies, the
// recipient's archive).
type InboundObserver interface {
	Inbound(ctx context.Context, st *stanza.Stanza, out Outcome)
}

// DeliveryObserver sees every stanza handed to a local session, whoever
// sent it: messages, presence broadcasts, roster pushes, IQ results. It
// runs just before the stanza is queued, so that nothing it sees can reach
// the client first. Deliveries to one session from several goroutines may
// be observed in another order than they are queued: what must follow the
// queue's order exactly (stream management's counts) belongs to the
// session's queue, which every stanza reaches through Deliver too.
type DeliveryObserver interface {
	Delivering(ctx context.Context, s *Session, el *stanza.Element)
}

type key struct {
	kind       stanza.Kind
	target     Target
	typ        string
	name, ns   string
	hasPayload bool
}

// entry is a registered handler: h for messages and presence, iq for IQs.
type entry struct {
	h  Handler
	iq IQHandler
}

func (e entry) ok() bool { return e.h != nil || e.iq != nil }

type consumed struct{ name, ns string }

type payloadKey struct {
	kind     stanza.Kind
	target   Target
	name, ns string
}

// Mux maps stanzas to the handlers of the modules: by kind, type, payload
// and target, plus local hosts, the federation hand-off, the block list and
// observers. Everything is registered while the server is built; a second
// registration of the same thing panics, and so does registering once the
// router has started routing. Observers run in the order registered.
type Mux struct {
	handlers map[key]entry
	payloads map[payloadKey]bool // registered for some type
	// any[kind][target] counts handlers, so that the common case (no
	// handler for a message to an account) costs one array read.
	any      [4][targetCount]int
	outbound map[stanza.Kind]OutboundHandler
	hosts    map[string]Handler
	lanOnly  map[string]bool // hosts registered with LocalHost: never federated
	remote   Remote
	comps    Components // hosts that come and go (XEP-0114); nil: none
	blocker  Blocker
	offline  OfflineStore

	consume  []consumed // children the server takes out of what clients send
	archiver Archiver

	outObs      []OutboundObserver
	inObs       []InboundObserver
	deliveryObs []DeliveryObserver

	started atomic.Bool
	// federated is Hosts once registration closed: it is asked for on
	// every stanza from another server.
	federatedOnce sync.Once
	federated     []string
	served        atomic.Pointer[servedHosts] // Hosts with the components
}

func newMux() *Mux {
	return &Mux{
		handlers: make(map[key]entry),
		payloads: make(map[payloadKey]bool),
		outbound: make(map[stanza.Kind]OutboundHandler),
		hosts:    make(map[string]Handler),
		lanOnly:  make(map[string]bool),
	}
}

// start closes registration; it is called on every stanza, so it writes
// the shared flag only once.
func (m *Mux) start() {
	if !m.started.Load() {
		m.started.Store(true)
	}
}

func (m *Mux) mustOpen(what string) {
	if m.started.Load() {
		panic("router: " + what + " registered after routing started")
	}
}

func targetIndex(t Target) int {
	switch t {
	case ToServer:
		return 0
	case ToAccount:
		return 1
	}
	return 2
}

// Handle registers h for message or presence stanzas matching p.
func (m *Mux) Handle(p Pattern, h Handler) {
	m.mustOpen("handler")
	if p.Kind != stanza.KindMessage && p.Kind != stanza.KindPresence {
		panic(fmt.Sprintf("router: Handle takes message or presence patterns, not %v (use HandleIQ)", p.Kind))
	}
	if p.Kind == stanza.KindPresence && (p.Name != "" || p.NS != "") {
		panic("router: presence patterns have no payload")
	}
	m.add(p, entry{h: h})
}

// HandleIQ registers h for IQ gets and sets matching p (p.Kind is set to
// IQ). A payload registered for some types answers the others with
// not-allowed; an unknown payload gets service-unavailable.
func (m *Mux) HandleIQ(p Pattern, h IQHandler) {
	m.mustOpen("IQ handler")
	p.Kind = stanza.KindIQ
	m.add(p, entry{iq: h})
}

func (m *Mux) add(p Pattern, h entry) {
	if p.Target == 0 || p.Target&^(ToServer|ToAccount|ToFull) != 0 {
		panic(fmt.Sprintf("router: pattern %+v needs a target", p))
	}
	if p.Name != "" && p.NS == "" {
		panic(fmt.Sprintf("router: pattern %+v names a payload without its namespace", p))
	}
	ts := p.Types
	if len(ts) == 0 {
		ts = types[p.Kind]
	}
	for _, typ := range ts {
		if !slices.Contains(types[p.Kind], typ) {
			panic(fmt.Sprintf("router: %q is not a %v type handlers get", typ, p.Kind))
		}
	}
	for t := ToServer; t <= ToFull; t <<= 1 {
		if p.Target&t == 0 {
			continue
		}
		for _, typ := range ts {
			k := key{kind: p.Kind, target: t, typ: typ, name: p.Name, ns: p.NS, hasPayload: p.NS != ""}
			if _, dup := m.handlers[k]; dup {
				panic(fmt.Sprintf("router: second handler for %v %s to the %v, payload {%s}%s", p.Kind, typ, t, p.NS, p.Name))
			}
			m.handlers[k] = h
			m.any[p.Kind][targetIndex(t)]++
		}
		m.payloads[payloadKey{p.Kind, t, p.Name, p.NS}] = true
	}
}

// HandleOutbound registers h for the stanzas of kind a local session
// sends, before routing; only presence uses it (RFC 6121 4).
func (m *Mux) HandleOutbound(kind stanza.Kind, h OutboundHandler) {
	m.mustOpen("outbound handler")
	if _, dup := m.outbound[kind]; dup {
		panic(fmt.Sprintf("router: second outbound handler for %v", kind))
	}
	m.outbound[kind] = h
}

// Host registers a local host: a subdomain of the server such as
// conference.example.org whose every stanza goes to h. It is never
// treated as another domain, and other servers reach it over federation.
func (m *Mux) Host(domain string, h Handler) {
	m.host(domain, h, false)
}

// LocalHost registers a local host that only this server's accounts
// reach (the LAN bridge, XEP-0174 3): it is left out of Hosts, so
// federation neither accepts streams nor stanzas for it, and the router
// hands nothing from it to the Remote.
func (m *Mux) LocalHost(domain string, h Handler) {
	m.host(domain, h, true)
}

func (m *Mux) host(domain string, h Handler, localOnly bool) {
	m.mustOpen("host")
	j, err := jid.Parse(domain)
	if err != nil || !j.IsDomain() {
		panic(fmt.Sprintf("router: host %q is not a domain", domain))
	}
	if _, dup := m.hosts[j.Domain]; dup {
		panic(fmt.Sprintf("router: second handler for host %s", j.Domain))
	}
	m.hosts[j.Domain] = h
	if localOnly {
		m.lanOnly[j.Domain] = true
	}
}

// Components are local hosts the administrator adds and removes while
// the server runs: external components (XEP-0114), each a subdomain or
// a name of its own, served while their program is connected.
type Components interface {
	// Component returns the handler of a configured component's domain
	// (connected or not), or nil when domain is none.
	Component(domain string) Handler
	// Configured lists the configured components' domains, sorted;
	// Connected those connected now. Callers must not change the lists.
	Configured() []string
	Connected() []string
}

// Components registers the external components; the router tries them
// for a domain that is no registered host.
func (m *Mux) Components(c Components) {
	m.mustOpen("components")
	if m.comps != nil {
		panic("router: second components")
	}
	m.comps = c
}

// Hosts returns the local hosts other servers may reach (those
// registered with Host, not LocalHost, and the configured components),
// sorted: what federation serves. Once routing started the registered
// ones are listed once and shared: callers must not change the list.
func (m *Mux) Hosts() []string {
	if m.comps == nil {
		return m.withFixed(nil)
	}
	// Asked for on every stanza from another server: the list is made
	// again only when the components' list is another one.
	c := m.comps.Configured()
	if h := m.served.Load(); h != nil && m.started.Load() && sameList(h.comps, c) {
		return h.all
	}
	all := m.withFixed(c)
	if m.started.Load() {
		m.served.Store(&servedHosts{comps: c, all: all})
	}
	return all
}

// servedHosts is Hosts made for one list of components.
type servedHosts struct{ comps, all []string }

// sameList reports whether a and b are the same slice (not only equal).
func sameList(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Listed returns the hosts the server's disco items list (XEP-0030 4.1):
// those of Hosts, components only while connected.
func (m *Mux) Listed() []string {
	var c []string
	if m.comps != nil {
		c = m.comps.Connected()
	}
	return m.withFixed(c)
}

// withFixed returns the registered hosts that federate, with extra.
func (m *Mux) withFixed(extra []string) []string {
	var fixed []string
	if m.started.Load() {
		m.federatedOnce.Do(func() { m.federated = m.hostList() })
		fixed = m.federated
	} else {
		fixed = m.hostList()
	}
	if len(extra) == 0 {
		return fixed
	}
	out := append(slices.Clip(fixed), extra...)
	slices.Sort(out)
	return slices.Compact(out)
}

// IsHost reports whether domain is a host registered with Host or
// LocalHost (one of the server's own services).
func (m *Mux) IsHost(domain string) bool {
	_, ok := m.hosts[domain]
	return ok
}

// hostHandler returns the handler of a local host or a configured component,
// or nil.
func (m *Mux) hostHandler(domain string) Handler {
	if h := m.hosts[domain]; h != nil {
		return h
	}
	if m.comps != nil {
		return m.comps.Component(domain)
	}
	return nil
}

func (m *Mux) hostList() []string {
	out := make([]string, 0, len(m.hosts))
	for h := range m.hosts {
		if !m.lanOnly[h] {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// LocalHosts returns the hosts registered with LocalHost, sorted.
func (m *Mux) LocalHosts() []string {
	out := make([]string, 0, len(m.lanOnly))
	for h := range m.lanOnly {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// Remote registers the hand-off to other domains (federation).
func (m *Mux) Remote(r Remote) {
	m.mustOpen("remote")
	if m.remote != nil {
		panic("router: second remote")
	}
	m.remote = r
}

// Blocker registers the block lists the router applies (XEP-0191 3.5, 3.6).
func (m *Mux) Blocker(b Blocker) {
	m.mustOpen("blocker")
	if m.blocker != nil {
		panic("router: second blocker")
	}
	m.blocker = b
}

// Offline registers the store of messages for accounts without an
// available session (XEP-0160); without one they are bounced.
func (m *Mux) Offline(s OfflineStore) {
	m.mustOpen("offline store")
	if m.offline != nil {
		panic("router: second offline store")
	}
	m.offline = s
}

// Archive registers the message archives (XEP-0313): the router calls it
// once for each message on its way to or from a local account (see
// Archiver).
func (m *Mux) Archive(a Archiver) {
	m.mustOpen("archiver")
	if m.archiver != nil {
		panic("router: second archiver")
	}
	m.archiver = a
}

// ObserveOutbound adds an observer of what local sessions send.
func (m *Mux) ObserveOutbound(o OutboundObserver) {
	m.mustOpen("observer")
	m.outObs = append(m.outObs, o)
}

// Consume names a child element that the server takes out of the messages
// clients send before routing them, because it speaks to the server only
// (carbons' <private/>, XEP-0280 7). Outbound observers still see it.
func (m *Mux) Consume(name, ns string) {
	m.mustOpen("consumed element")
	m.consume = append(m.consume, consumed{name, ns})
}

// ObserveInbound adds an observer of messages routed to local accounts.
func (m *Mux) ObserveInbound(o InboundObserver) {
	m.mustOpen("observer")
	m.inObs = append(m.inObs, o)
}

// ObserveDelivery adds an observer of everything handed to local sessions.
func (m *Mux) ObserveDelivery(o DeliveryObserver) {
	m.mustOpen("observer")
	m.deliveryObs = append(m.deliveryObs, o)
}

// observed reports whether anyone observes messages (so that outcomes
// are worth building).
func (m *Mux) observed() bool { return len(m.inObs) > 0 || len(m.outObs) > 0 }

// lookup finds the handler for st addressed to t. known reports whether
// the payload is registered for other types (an IQ then gets not-allowed).
func (m *Mux) lookup(st *stanza.Stanza, t Target) (e entry, known bool) {
	if m.any[st.Kind][targetIndex(t)] == 0 {
		return entry{}, false
	}
	typ := st.Type
	if typ == "" {
		switch st.Kind {
		case stanza.KindMessage:
			typ = TypeNormal
		case stanza.KindPresence:
			typ = TypeAvailable
		}
	}
	find := func(name, ns string) entry {
		e := m.handlers[key{kind: st.Kind, target: t, typ: typ, name: name, ns: ns, hasPayload: ns != ""}]
		if !e.ok() && ns != "" && !known {
			known = m.payloads[payloadKey{st.Kind, t, name, ns}]
		}
		return e
	}
	if st.Kind != stanza.KindPresence {
		for _, c := range st.El.Children {
			if c.Name == "" {
				continue
			}
			if e := find(c.Name, c.NS); e.ok() {
				return e, false
			}
			if e := find("", c.NS); e.ok() {
				return e, false
			}
			if st.Kind == stanza.KindIQ {
				break // an IQ has one payload
			}
		}
	}
	return find("", ""), known
}

// ServeIQ runs the handler registered for an IQ get or set to t and
// returns its answer, without routing it: not-allowed when the payload is
// registered for other types only, service-unavailable when not at all.
func (m *Mux) ServeIQ(ctx context.Context, st *stanza.Stanza, t Target) (*stanza.Element, *stanza.Error) {
	e, known := m.lookup(st, t)
	switch {
	case e.iq != nil:
		return e.iq(ctx, st)
	case known:
		return nil, stanza.ErrNotAllowed()
	}
	return nil, stanza.ErrServiceUnavailable()
}

// Features are what a module advertises in service discovery (XEP-0030):
// for the server's domain and for an account's bare JID, which are
// different lists (XEP-0030 3.1).
type Features struct {
	Server, Account []string
	// On, if not nil, says whether the features are advertised now: a
	// module a setting turns off while the server runs stops claiming
	// them at once.
	On func() bool
}
