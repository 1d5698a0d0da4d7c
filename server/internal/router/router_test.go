package router_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

func noIQ(context.Context, *stanza.Stanza) (*stanza.Element, *stanza.Error) { return nil, nil }
func noop(context.Context, *stanza.Stanza) *stanza.Error                    { return nil }

type blocker struct{}

func (blocker) Blocks(string, jid.JID) bool { return false }

type remote struct {
	mu   sync.Mutex
	sent []string
}

func (r *remote) Route(_ context.Context, st *stanza.Stanza) *stanza.Error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, st.El.String())
	return nil
}

// panics reports the panic value of f, or "" when it does not panic.
func panics(f func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
		}
	}()
	f()
	return ""
}

// TestMuxRefusesDuplicates: a second registration of the same thing is a
// programming error caught when the server is built, never a silent
// overwrite.
func TestMuxRefusesDuplicates(t *testing.T) {
	roster := router.Pattern{Types: []string{"get", "set"}, Target: router.ToAccount, Name: "query", NS: stanza.NSRoster}
	tests := []struct {
		name        string
		first, then func(m *router.Mux)
		want        string // in the panic; "" for no panic
	}{
		{"same IQ payload, type and target", func(m *router.Mux) { m.HandleIQ(roster, noIQ) }, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToAccount, Name: "query", NS: stanza.NSRoster}, noIQ)
		}, "second handler for iq set to the account, payload {jabber:iq:roster}query"},
		{"every type overlaps one", func(m *router.Mux) { m.HandleIQ(roster, noIQ) }, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{Target: router.ToServer | router.ToAccount, Name: "query", NS: stanza.NSRoster}, noIQ)
		}, "second handler"},
		{"another target is fine", func(m *router.Mux) { m.HandleIQ(roster, noIQ) }, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{Target: router.ToServer, Name: "query", NS: stanza.NSRoster}, noIQ)
		}, ""},
		{"another name is fine", func(m *router.Mux) { m.HandleIQ(roster, noIQ) }, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{Target: router.ToAccount, Name: "other", NS: stanza.NSRoster}, noIQ)
		}, ""},
		{"message handler", func(m *router.Mux) {
			m.Handle(router.Pattern{Kind: stanza.KindMessage, Target: router.ToServer, NS: "urn:x"}, noop)
		}, func(m *router.Mux) {
			m.Handle(router.Pattern{Kind: stanza.KindMessage, Types: []string{"chat"}, Target: router.ToServer, NS: "urn:x"}, noop)
		}, "second handler for message chat to the server"},
		{"presence handler", func(m *router.Mux) {
			m.Handle(router.Pattern{Kind: stanza.KindPresence, Target: router.ToAccount}, noop)
		}, func(m *router.Mux) {
			m.Handle(router.Pattern{Kind: stanza.KindPresence, Types: []string{router.TypeAvailable}, Target: router.ToAccount}, noop)
		}, "second handler for presence available"},
		{"outbound handler", func(m *router.Mux) {
			m.HandleOutbound(stanza.KindPresence, func(context.Context, *router.Session, *stanza.Stanza) {})
		}, func(m *router.Mux) {
			m.HandleOutbound(stanza.KindPresence, func(context.Context, *router.Session, *stanza.Stanza) {})
		}, "second outbound handler for presence"},
		{"host", func(m *router.Mux) { m.Host("conference.example.org", noop) }, func(m *router.Mux) {
			m.Host("Conference.Example.org", noop)
		}, "second handler for host conference.example.org"},
		{"remote", func(m *router.Mux) { m.Remote(&remote{}) }, func(m *router.Mux) { m.Remote(&remote{}) }, "second remote"},
		{"blocker", func(m *router.Mux) { m.Blocker(blocker{}) }, func(m *router.Mux) { m.Blocker(blocker{}) }, "second blocker"},
		{"IQ through Handle", func(*router.Mux) {}, func(m *router.Mux) {
			m.Handle(router.Pattern{Kind: stanza.KindIQ, Target: router.ToServer, NS: "urn:x"}, noop)
		}, "use HandleIQ"},
		{"no target", func(*router.Mux) {}, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{NS: "urn:x"}, noIQ)
		}, "needs a target"},
		{"result is no handler type", func(*router.Mux) {}, func(m *router.Mux) {
			m.HandleIQ(router.Pattern{Types: []string{"result"}, Target: router.ToServer, NS: "urn:x"}, noIQ)
		}, `"result" is not a iq type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := modtest.Router()
			tt.first(r.Mux())
			got := panics(func() { tt.then(r.Mux()) })
			switch {
			case tt.want == "" && got != "":
				t.Fatalf("panicked: %s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Fatalf("panic %q, want one saying %q", got, tt.want)
			}
		})
	}
	t.Run("after routing started", func(t *testing.T) {
		r := modtest.Router()
		r.Route(context.Background(), modtest.Stanza(t, `<message from='a@example.org/x' to='example.org'/>`))
		if got := panics(func() { r.Mux().HandleIQ(router.Pattern{Target: router.ToServer, NS: "urn:x"}, noIQ) }); !strings.Contains(got, "after routing started") {
			t.Fatalf("panic %q", got)
		}
	})
}

// observed is one call of a test observer.
type observed struct {
	dir      string // out or in
	from, to string
	sessions []string
	stored   bool
	remote   bool
	handled  bool
	err      string
}

type recorder struct {
	mu    sync.Mutex
	calls []observed
}

func (o *recorder) add(dir string, st *stanza.Stanza, out router.Outcome) {
	c := observed{dir: dir, from: st.From.String(), to: st.To.String(), stored: out.Stored, remote: out.Remote, handled: out.Handled}
	for _, s := range out.Sessions {
		c.sessions = append(c.sessions, s.JID.String())
	}
	if out.Error != nil {
		c.err = out.Error.Condition
	}
	o.mu.Lock()
	o.calls = append(o.calls, c)
	o.mu.Unlock()
}

func (o *recorder) Outbound(_ context.Context, from *router.Session, st *stanza.Stanza, out router.Outcome) {
	if from.JID != st.From {
		panic("outbound observer: the session is not the sender")
	}
	o.add("out", st, out)
}

func (o *recorder) Inbound(_ context.Context, st *stanza.Stanza, out router.Outcome) {
	o.add("in", st, out)
}

func (o *recorder) take() []observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.calls
	o.calls = nil
	return c
}

type offline struct{ users []string }

func (s *offline) Store(_ context.Context, user string, _ *stanza.Stanza) (router.Durable, *stanza.Error) {
	s.users = append(s.users, user)
	return durable{}, nil
}

func (s *offline) Restore(_ context.Context, user string, _ *stanza.Stanza) {
	s.users = append(s.users, user)
}

// durable is a write that is durable already.
type durable struct{}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (durable) Done() <-chan struct{} { return closed }
func (durable) Failed() *stanza.Error { return nil }

type everyone struct{}

func (everyone) Exists(_ context.Context, user string) (bool, error) { return user != "nobody", nil }

// TestObservers: what a session sends is seen after routing, to another
// domain, a local host and a local account alike, and what an account
// receives is seen from wherever it comes, with what became of it.
func TestObservers(t *testing.T) {
	ctx := context.Background()
	store := &offline{}
	r := router.New(router.Config{Domain: modtest.Domain, Accounts: everyone{}})
	r.Mux().Offline(store)
	rec := &recorder{}
	rem := &remote{}
	var hosted []string
	r.Mux().Remote(rem)
	r.Mux().Host("conference.example.org", func(_ context.Context, st *stanza.Stanza) *stanza.Error {
		hosted = append(hosted, st.El.String())
		return nil
	})
	r.Mux().ObserveOutbound(rec)
	r.Mux().ObserveInbound(rec)
	alice, _ := modtest.Bind(t, r, "alice@example.org/phone")
	bob, bobConn := modtest.Bind(t, r, "bob@example.org/laptop")
	bob.SetPresence(stanza.New("presence", stanza.NSClient), 0)

	send := func(s *router.Session, xml string) { r.FromClient(ctx, s, modtest.Element(t, xml)) }
	tests := []struct {
		name string
		do   func()
		want []observed
	}{
		{"to another domain", func() { send(alice, `<message to='romeo@montague.net' type='chat'><body>hi</body></message>`) },
			[]observed{{dir: "out", from: "alice@example.org/phone", to: "romeo@montague.net", remote: true}}},
		{"to a local account", func() { send(alice, `<message to='bob@example.org' type='chat'><body>hi</body></message>`) },
			[]observed{
				{dir: "in", from: "alice@example.org/phone", to: "bob@example.org", sessions: []string{"bob@example.org/laptop"}},
				{dir: "out", from: "alice@example.org/phone", to: "bob@example.org", sessions: []string{"bob@example.org/laptop"}},
			}},
		{"to a full JID", func() { send(alice, `<message to='bob@example.org/laptop'><body>hi</body></message>`) },
			[]observed{
				{dir: "in", from: "alice@example.org/phone", to: "bob@example.org/laptop", sessions: []string{"bob@example.org/laptop"}},
				{dir: "out", from: "alice@example.org/phone", to: "bob@example.org/laptop", sessions: []string{"bob@example.org/laptop"}},
			}},
		{"to an offline account", func() { send(bob, `<message to='alice@example.org' type='chat'><body>later</body></message>`) },
			[]observed{
				{dir: "in", from: "bob@example.org/laptop", to: "alice@example.org", stored: true},
				{dir: "out", from: "bob@example.org/laptop", to: "alice@example.org", stored: true},
			}},
		{"to a local host", func() {
			send(alice, `<message to='family@conference.example.org' type='groupchat'><body>hi all</body></message>`)
		},
			[]observed{{dir: "out", from: "alice@example.org/phone", to: "family@conference.example.org", handled: true}}},
		{"to no account", func() { send(alice, `<message to='nobody@example.org'><body>?</body></message>`) },
			[]observed{
				// The error comes back to alice as a message: inbound too.
				{dir: "in", from: "nobody@example.org", to: "alice@example.org/phone", sessions: []string{"alice@example.org/phone"}},
				{dir: "in", from: "alice@example.org/phone", to: "nobody@example.org", err: stanza.ServiceUnavailable},
				{dir: "out", from: "alice@example.org/phone", to: "nobody@example.org", err: stanza.ServiceUnavailable},
			}},
		{"inbound from another domain", func() {
			r.Route(ctx, modtest.Stanza(t, `<message from='romeo@montague.net/garden' to='bob@example.org' type='chat'><body>hello</body></message>`))
		}, []observed{{dir: "in", from: "romeo@montague.net/garden", to: "bob@example.org", sessions: []string{"bob@example.org/laptop"}}}},
		{"inbound from a local host", func() {
			r.Route(ctx, modtest.Stanza(t, `<message from='family@conference.example.org/mum' to='bob@example.org/laptop' type='groupchat'><body>tea</body></message>`))
		}, []observed{{dir: "in", from: "family@conference.example.org/mum", to: "bob@example.org/laptop", sessions: []string{"bob@example.org/laptop"}}}},
		{"presence and IQs are not observed", func() {
			send(alice, `<presence to='bob@example.org/laptop'/>`)
			send(alice, `<iq type='get' id='1' to='romeo@montague.net'><ping xmlns='urn:xmpp:ping'/></iq>`)
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			got := rec.take()
			if !slices.EqualFunc(got, tt.want, func(a, b observed) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
				t.Fatalf("observed\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	if len(rem.sent) != 2 || !strings.Contains(rem.sent[0], `to="romeo@montague.net"`) {
		t.Errorf("remote got %q", rem.sent)
	}
	if len(hosted) != 1 || !strings.Contains(hosted[0], `from="alice@example.org/phone"`) {
		t.Errorf("host got %q", hosted)
	}
	if !slices.Equal(store.users, []string{"alice"}) {
		t.Errorf("offline store got %q", store.users)
	}
	// bob got the three messages for him and the directed presence.
	if n := len(bobConn.Take()); n != 5 {
		t.Errorf("bob's session got %d stanzas, want 5", n)
	}
}

// TestHosts: a local host gets every stanza for its domain, from local
// sessions and from elsewhere; it is never treated as another domain, and
// an error it returns is bounced to the sender.
func TestHosts(t *testing.T) {
	ctx := context.Background()
	r := modtest.Router()
	var got []string
	r.Mux().Host("conference.example.org", func(_ context.Context, st *stanza.Stanza) *stanza.Error {
		got = append(got, st.Kind.String()+" "+st.To.String())
		if st.To.Local == "closed" {
			return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "no such room")
		}
		return nil
	})
	alice, conn := modtest.Bind(t, r, "alice@example.org/phone")
	for _, xml := range []string{
		`<presence to='family@conference.example.org/alice'/>`,
		`<message to='family@conference.example.org' type='groupchat'><body>hi</body></message>`,
		`<iq type='get' id='q1' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<message to='closed@conference.example.org' type='groupchat'><body>hi</body></message>`,
		`<message to='room@other.example.org'><body>not ours</body></message>`,
	} {
		r.FromClient(ctx, alice, modtest.Element(t, xml))
	}
	want := []string{"presence family@conference.example.org/alice", "message family@conference.example.org", "iq conference.example.org", "message closed@conference.example.org"}
	if !slices.Equal(got, want) {
		t.Errorf("host got %q\nwant %q", got, want)
	}
	bounced := conn.Take()
	if len(bounced) != 2 || !strings.Contains(bounced[0], "item-not-found") || !strings.Contains(bounced[1], "remote-server-not-found") {
		t.Errorf("alice got %q; want item-not-found from the host and remote-server-not-found for the other domain", bounced)
	}
	if hs := r.Mux().Hosts(); !slices.Equal(hs, []string{"conference.example.org"}) {
		t.Errorf("Hosts = %q", hs)
	}
}

// TestLocalHost: a host registered with LocalHost is left out of Hosts
// (what federation serves); what other servers send it is dropped before
// its handler sees it, and nothing from it is handed to the Remote.
func TestLocalHost(t *testing.T) {
	ctx := context.Background()
	r := modtest.Router()
	var got []string
	r.Mux().Host("conference.example.org", func(context.Context, *stanza.Stanza) *stanza.Error { return nil })
	r.Mux().LocalHost("lan.example.org", func(_ context.Context, st *stanza.Stanza) *stanza.Error {
		got = append(got, st.From.String()+" "+st.To.String())
		return nil
	})
	rem := &remote{}
	r.Mux().Remote(rem)
	if hs := r.Mux().Hosts(); !slices.Equal(hs, []string{"conference.example.org"}) {
		t.Errorf("Hosts = %q, want conference.example.org only", hs)
	}
	if hs := r.Mux().LocalHosts(); !slices.Equal(hs, []string{"lan.example.org"}) {
		t.Errorf("LocalHosts = %q", hs)
	}
	r.FromRemote(ctx, modtest.Stanza(t, `<message from='eve@elsewhere.net/x' to='bob@lan.example.org' id='m'><body>hi</body></message>`))
	r.FromRemote(ctx, modtest.Stanza(t, `<iq from='eve@elsewhere.net/x' to='lan.example.org' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`))
	if len(got) != 0 {
		t.Errorf("the local host got %q from another server", got)
	}
	out := r.Route(ctx, modtest.Stanza(t, `<message from='bob@lan.example.org' to='eve@elsewhere.net' id='o'><body>out</body></message>`))
	if out.Remote || out.Error == nil {
		t.Errorf("a message from the local host to another domain: outcome %+v", out)
	}
	alice, _ := modtest.Bind(t, r, "alice@example.org/phone")
	r.FromClient(ctx, alice, modtest.Element(t, `<message to='bob@lan.example.org'><body>hi</body></message>`))
	if want := []string{"alice@example.org/phone bob@lan.example.org"}; !slices.Equal(got, want) {
		t.Errorf("the local host got %q, want %q", got, want)
	}
	rem.mu.Lock()
	defer rem.mu.Unlock()
	if len(rem.sent) != 0 {
		t.Errorf("handed to the remote: %q", rem.sent)
	}
}

// deliveries records every stanza handed to a session.
type deliveries struct {
	mu  sync.Mutex
	got []string
}

func (d *deliveries) Delivering(_ context.Context, s *router.Session, el *stanza.Element) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, fmt.Sprintf("%s %s %s", s.JID, el.Name, el.Attr("type")))
}

// TestDispatch: IQs go to the handler registered for their payload, type
// and target; the answer goes back through Deliver.
func TestDispatch(t *testing.T) {
	ctx := context.Background()
	r := modtest.Router()
	d := &deliveries{}
	r.Mux().ObserveDelivery(d)
	r.Mux().HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer, Name: "ping", NS: stanza.NSPing}, noIQ)
	r.Mux().HandleIQ(router.Pattern{Target: router.ToAccount, NS: "urn:any"}, func(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
		return stanza.New("answer", "urn:any", "to", st.To.String()), nil
	})
	alice, conn := modtest.Bind(t, r, "alice@example.org/phone")
	for _, xml := range []string{
		`<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`,                      // to her account: nobody handles it
		`<iq type='get' id='2' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,     // answered
		`<iq type='set' id='3' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`,     // a get only
		`<iq type='get' id='4' to='example.org'><pong xmlns='urn:xmpp:ping'/></iq>`,     // unknown
		`<iq type='set' id='5' to='bob@example.org'><anything xmlns='urn:any'/></iq>`,   // any name in the namespace
		`<iq type='result' id='6' to='example.org'/>`,                                   // an answer: dropped
		`<iq type='get' id='7' to='example.org/res'><ping xmlns='urn:xmpp:ping'/></iq>`, // the server has no resources
	} {
		r.FromClient(ctx, alice, modtest.Element(t, xml))
	}
	want := []string{
		`<iq xmlns="jabber:client" id="1" to="alice@example.org/phone" from="alice@example.org" type="error"><ping xmlns="urn:xmpp:ping"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		`<iq xmlns="jabber:client" type="result" id="2" to="alice@example.org/phone" from="example.org"/>`,
		`<iq xmlns="jabber:client" id="3" to="alice@example.org/phone" from="example.org" type="error"><ping xmlns="urn:xmpp:ping"/><error type="cancel"><not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		`<iq xmlns="jabber:client" id="4" to="alice@example.org/phone" from="example.org" type="error"><pong xmlns="urn:xmpp:ping"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		`<iq xmlns="jabber:client" type="result" id="5" to="alice@example.org/phone" from="bob@example.org"><answer xmlns="urn:any" to="bob@example.org"/></iq>`,
		`<iq xmlns="jabber:client" id="7" to="alice@example.org/phone" from="example.org/res" type="error"><ping xmlns="urn:xmpp:ping"/><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
	}
	if got := conn.Take(); !slices.Equal(got, want) {
		t.Errorf("alice got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	seen := []string{
		"alice@example.org/phone iq error", "alice@example.org/phone iq result", "alice@example.org/phone iq error",
		"alice@example.org/phone iq error", "alice@example.org/phone iq result", "alice@example.org/phone iq error",
	}
	if !slices.Equal(d.got, seen) {
		t.Errorf("delivery observer saw %q\nwant %q", d.got, seen)
	}
}

// parked queues what it is sent and reports it written or not when told.
type parked struct {
	mu    sync.Mutex
	dones []func(bool)
}

func (p *parked) Send(_ *stanza.Element, done func(bool)) bool {
	p.mu.Lock()
	p.dones = append(p.dones, done)
	p.mu.Unlock()
	return true
}
func (p *parked) Room() (int, int)     { return 1 << 20, 1 << 30 }
func (p *parked) Close(string, string) {}

// settle tells the sender of each stanza whether it was written.
func (p *parked) settle(written bool) {
	p.mu.Lock()
	dones := p.dones
	p.dones = nil
	p.mu.Unlock()
	for _, d := range dones {
		if d != nil {
			d(written)
		}
	}
}

// TestFanOutStoredOnce: a message to an account with two sessions of the
// same priority goes to both; it goes to offline storage only if neither
// writes its copy, and then once.
func TestFanOutStoredOnce(t *testing.T) {
	for _, tt := range []struct {
		name         string
		phone, table bool // which session writes its copy
		stored       int
	}{
		{"both write", true, true, 0},
		{"one writes", true, false, 0},
		{"the other writes", false, true, 0},
		{"neither writes", false, false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &offline{}
			r := router.New(router.Config{Domain: modtest.Domain, Accounts: everyone{}})
			r.Mux().Offline(store)
			alice, _ := modtest.Bind(t, r, "alice@example.org/phone")
			var conns []*parked
			for _, res := range []string{"phone", "tablet"} {
				c := &parked{}
				j, _ := jid.Parse("bob@example.org/" + res)
				s := &router.Session{JID: j, Conn: c}
				r.Bind(s)
				s.SetPresence(stanza.New("presence", stanza.NSClient), 0)
				conns = append(conns, c)
			}
			r.FromClient(t.Context(), alice, modtest.Element(t, `<message to='bob@example.org' type='chat'><body>hi</body></message>`))
			conns[0].settle(tt.phone)
			conns[1].settle(tt.table)
			if len(store.users) != tt.stored {
				t.Errorf("stored %d times, want %d", len(store.users), tt.stored)
			}
		})
	}
}

// fakeComponents is one configured component, bot.example.org,
// connected or not.
type fakeComponents struct {
	connected bool
	got       []string
}

func (f *fakeComponents) Component(domain string) router.Handler {
	if domain != "bot.example.org" {
		return nil
	}
	return func(_ context.Context, st *stanza.Stanza) *stanza.Error {
		if !f.connected {
			return stanza.ErrServiceUnavailable()
		}
		f.got = append(f.got, st.Kind.String()+" "+st.To.String())
		return nil
	}
}

func (f *fakeComponents) Configured() []string { return []string{"bot.example.org"} }

func (f *fakeComponents) Connected() []string {
	if f.connected {
		return []string{"bot.example.org"}
	}
	return nil
}

// TestComponents: a configured component is served (federation's
// Hosts) whether connected or not, listed (disco items) only while
// connected, and gets its domain's stanzas through its handler.
func TestComponents(t *testing.T) {
	ctx := context.Background()
	r := modtest.Router()
	comps := &fakeComponents{}
	r.Mux().Host("conference.example.org", func(context.Context, *stanza.Stanza) *stanza.Error { return nil })
	r.Mux().Components(comps)
	if msg := panics(func() { r.Mux().Components(comps) }); msg == "" {
		t.Error("a second Components did not panic")
	}
	alice, conn := modtest.Bind(t, r, "alice@example.org/phone")
	r.FromClient(ctx, alice, modtest.Element(t, `<iq type='get' id='q1' to='bot.example.org'><query xmlns='urn:example:x'/></iq>`))
	if got := conn.Take(); len(got) != 1 || !strings.Contains(got[0], "service-unavailable") {
		t.Errorf("not connected: alice got %q", got)
	}
	if hs, ls := r.Mux().Hosts(), r.Mux().Listed(); !slices.Equal(hs, []string{"bot.example.org", "conference.example.org"}) || !slices.Equal(ls, []string{"conference.example.org"}) {
		t.Errorf("not connected: Hosts %q, Listed %q", hs, ls)
	}
	comps.connected = true
	r.FromClient(ctx, alice, modtest.Element(t, `<message to='someone@bot.example.org/x'><body>hi</body></message>`))
	if got := conn.Take(); len(got) != 0 || !slices.Equal(comps.got, []string{"message someone@bot.example.org/x"}) {
		t.Errorf("connected: alice got %q, the component %q", got, comps.got)
	}
	if ls := r.Mux().Listed(); !slices.Equal(ls, []string{"bot.example.org", "conference.example.org"}) {
		t.Errorf("connected: Listed %q", ls)
	}
}
