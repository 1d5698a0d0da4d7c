package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/internal/testdns"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// loopDNS maps each test domain to its server on loopback, at the
// federation port it has open now; other names do not exist.
type loopDNS struct {
	testdns.Seam
	mu      sync.Mutex
	servers map[string]*xmpptest.Server
	fixed   map[string]string // domain → host:port, for servers that are not Hearth
}

func newLoopDNS() *loopDNS {
	d := &loopDNS{servers: map[string]*xmpptest.Server{}, fixed: map[string]string{}}
	d.Seam.Addr = d.addr
	return d
}

func (d *loopDNS) addr(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.fixed[name]; ok {
		return a
	}
	if s := d.servers[name]; s != nil {
		if a := s.Server.S2SAddr(); a != "" {
			return a
		}
		return "127.0.0.1:1" // federation off there: nothing listens
	}
	return ""
}

// fedPair is two Hearth servers, a.test and b.test, that find each other
// through loopDNS, with federation on.
type fedPair struct {
	a, b *xmpptest.Server
	dns  *loopDNS
}

// federate starts a.test and b.test. With trust, each trusts the other's
// home CA, so links authenticate by certificate (SASL EXTERNAL); without,
// by dialback.
func federate(t testing.TB, trust bool, opts ...xmpptest.Option) *fedPair {
	t.Helper()
	dns := newLoopDNS()
	pool := x509.NewCertPool()
	opt := func(c *server.Config) {
		c.Federation.Resolver = dns
		c.Federation.Roots = pool
		c.Federation.ConnectTimeout = 5 * time.Second
	}
	opts = append([]xmpptest.Option{opt}, opts...)
	a := xmpptest.StartAt(t, "a.test", opts...)
	b := xmpptest.StartAt(t, "b.test", opts...)
	if trust {
		for _, s := range []*xmpptest.Server{a, b} {
			pem, err := os.ReadFile(s.CertFile)
			if err != nil {
				t.Fatal(err)
			}
			pool.AppendCertsFromPEM(pem)
		}
	}
	dns.mu.Lock()
	dns.servers["a.test"], dns.servers["b.test"] = a, b
	dns.mu.Unlock()
	for _, s := range []*xmpptest.Server{a, b} {
		setSetting(t, s, "federation.enabled", "true")
	}
	a.AddUser(t, "alice", "silver-kettle-pw")
	b.AddUser(t, "bob", "copper-lantern-pw")
	return &fedPair{a: a, b: b, dns: dns}
}

func setSetting(t testing.TB, s *xmpptest.Server, key, value string) {
	t.Helper()
	if _, err := s.Admin.SetSetting(context.Background(), key, value); err != nil {
		t.Fatalf("%s: set %s: %v", s.Domain, key, err)
	}
}

// links returns the server's federation links to remote.
func links(t testing.TB, s *xmpptest.Server, remote string) []admin.FederationLink {
	t.Helper()
	info, err := s.Admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []admin.FederationLink
	for _, l := range info.Federation.Links {
		if l.Remote == remote && !l.Since.IsZero() {
			out = append(out, l)
		}
	}
	return out
}

// TestFederation: alice@a.test and bob@b.test, on two Hearth servers,
// subscribe to each other, see each other's presence, chat both ways and
// query each other's server and account (disco, ping, vCard) and client
// (an unknown namespace between full JIDs). Links authenticate by
// certificate where the servers trust each other's CA, else by dialback;
// with direct TLS (XEP-0368) too.
func TestFederation(t *testing.T) {
	for _, tt := range []struct {
		name   string
		trust  bool
		direct bool
		auth   string
	}{
		{"certificates", true, false, "certificate"},
		{"dialback", false, false, "dialback"},
		{"direct TLS", true, true, "certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := federate(t, tt.trust)
			p.dns.Direct = tt.direct
			alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
			bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
			for _, c := range []*xmpptest.Client{alice, bob} {
				c.Send(`<presence/>`)
				c.Expect(`<presence from='` + c.JID + `' to='` + c.JID + `'/>`)
			}

			// RFC 6121 3: a subscription each way.
			alice.Send(`<presence to='bob@b.test' type='subscribe'/>`)
			bob.Expect(`<presence from='alice@a.test' to='bob@b.test' type='subscribe'/>`)
			bob.Send(`<presence to='alice@a.test' type='subscribed'/>`)
			alice.Expect(`<presence from='bob@b.test' to='alice@a.test' type='subscribed'/>`)
			alice.Expect(`<presence from='bob@b.test/pc' to='alice@a.test/phone'/>`)
			bob.Send(`<presence to='alice@a.test' type='subscribe'/>`)
			alice.Expect(`<presence from='bob@b.test' to='alice@a.test' type='subscribe'/>`)
			alice.Send(`<presence to='bob@b.test' type='subscribed'/>`)
			bob.Expect(`<presence from='alice@a.test' to='bob@b.test' type='subscribed'/>`)
			bob.Expect(`<presence from='alice@a.test/phone' to='bob@b.test/pc'/>`)
			for _, s := range []struct {
				srv        *xmpptest.Server
				user, peer string
			}{{p.a, "alice", "bob@b.test"}, {p.b, "bob", "alice@a.test"}} {
				it, err := s.srv.DB.RosterItem(context.Background(), s.user, s.peer)
				if err != nil || it.Subscription != "both" {
					t.Fatalf("%s's roster item for %s: %+v, %v; want subscription both", s.user, s.peer, it, err)
				}
			}

			// Presence updates and messages both ways.
			bob.Send(`<presence><show>away</show></presence>`)
			alice.Expect(`<presence from='bob@b.test/pc' to='alice@a.test/phone'><show>away</show></presence>`)
			alice.Send(`<message to='bob@b.test' type='chat' id='m1'><body>hi bob</body></message>`)
			bob.Expect(`<message from='alice@a.test/phone' to='bob@b.test' type='chat' id='m1'><body>hi bob</body></message>`)
			bob.Send(`<message to='alice@a.test/phone' type='chat' id='m2'><body>hi alice</body></message>`)
			alice.Expect(`<message from='bob@b.test/pc' to='alice@a.test/phone' type='chat' id='m2'><body>hi alice</body></message>`)

			// IQs: the other server, an account's vCard, a client.
			alice.Send(`<iq to='b.test' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
			alice.Expect(`<iq from='b.test' to='alice@a.test/phone' type='result' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'>*</query></iq>`)
			alice.Send(`<iq to='b.test' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
			alice.Expect(`<iq from='b.test' to='alice@a.test/phone' type='result' id='p1'/>`)
			bob.Send(`<iq type='set' id='v0'><vCard xmlns='vcard-temp'><FN>Bob Builder</FN></vCard></iq>`)
			bob.Expect(`<iq from='bob@b.test' to='bob@b.test/pc' type='result' id='v0'/>`)
			alice.Send(`<iq to='bob@b.test' type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>`)
			alice.Expect(`<iq from='bob@b.test' to='alice@a.test/phone' type='result' id='v1'><vCard xmlns='vcard-temp'><FN>Bob Builder</FN></vCard></iq>`)
			alice.Send(`<iq to='bob@b.test/pc' type='get' id='x1'><query xmlns='urn:example:whatever'><thing a='1'/></query></iq>`)
			bob.Expect(`<iq from='alice@a.test/phone' to='bob@b.test/pc' type='get' id='x1'><query xmlns='urn:example:whatever'><thing a='1'/></query></iq>`)
			bob.Send(`<iq to='alice@a.test/phone' type='result' id='x1'><query xmlns='urn:example:whatever'/></iq>`)
			alice.Expect(`<iq from='bob@b.test/pc' to='alice@a.test/phone' type='result' id='x1'><query xmlns='urn:example:whatever'/></iq>`)

			// Going offline reaches the contact; a message waits offline.
			bob.Close()
			alice.Expect(`<presence from='bob@b.test/pc' to='alice@a.test/phone' type='unavailable'/>`)
			alice.Send(`<message to='bob@b.test' type='chat' id='m3'><body>later</body></message>`)
			p.b.WaitOffline(t, "bob", 1)

			// Back online: bob's server probes alice's (RFC 6121 4.3), and
			// alice sees bob come back.
			bob = p.b.Login(t, "bob", "copper-lantern-pw", "pc")
			bob.Send(`<presence/>`)
			bob.Expect(`<presence from='alice@a.test/phone' to='bob@b.test/pc'/>`)
			bob.Expect(`<message from='alice@a.test/phone' to='bob@b.test/pc' type='chat' id='m3'>*</message>`)
			alice.Expect(`<presence from='bob@b.test/pc' to='alice@a.test/phone'/>`)

			for _, s := range []*xmpptest.Server{p.a, p.b} {
				other := map[string]string{"a.test": "b.test", "b.test": "a.test"}[s.Domain]
				ls := links(t, s, other)
				if len(ls) == 0 {
					t.Fatalf("%s has no link to %s", s.Domain, other)
				}
				for _, l := range ls {
					if l.Auth != tt.auth || !strings.HasPrefix(l.TLS, "TLS 1.") {
						t.Errorf("%s: link %+v, want auth %s over TLS", s.Domain, l, tt.auth)
					}
					if (l.Certificate == "") != tt.trust {
						t.Errorf("%s: link %+v: the peer's certificate problem is %q; the servers trust each other: %v", s.Domain, l, l.Certificate, tt.trust)
					}
				}
			}
		})
	}
}

// rawS2S is a hand-driven server-to-server stream, for what a real server
// would not send.
type rawS2S struct {
	t    testing.TB
	conn net.Conn
	dec  *stream.Decoder
	id   string // the stream ID the receiving server gave
}

// dialS2S opens a stream from from to to at addr, with STARTTLS, offering
// cert (nil: none); it returns the stream and the features after TLS.
func dialS2S(t testing.TB, addr, from, to string, cert *tls.Certificate) (*rawS2S, *stanza.Element) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := &rawS2S{t: t, conn: nc, dec: stream.NewDecoder(nc, stream.Limits{})}
	r.open(from, to)
	r.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if el := r.next(); el.Name != "proceed" {
		t.Fatalf("starttls answered with %s", el)
	}
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: to}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	r.conn, r.dec = tc, stream.NewDecoder(tc, stream.Limits{})
	return r, r.open(from, to)
}

// open sends a stream header and returns the features.
func (r *rawS2S) open(from, to string) *stanza.Element {
	r.t.Helper()
	r.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='` + from + `' to='` + to + `' version='1.0'>`)
	h, err := r.dec.Header()
	if err != nil {
		r.t.Fatalf("stream header: %v", err)
	}
	r.id = h.ID
	return r.next()
}

func (r *rawS2S) send(s string) {
	r.t.Helper()
	if _, err := r.conn.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawS2S) next() *stanza.Element {
	r.t.Helper()
	el, err := r.dec.Next()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return el
}

// streamError reads until the stream error and returns its condition.
func (r *rawS2S) streamError() string {
	r.t.Helper()
	for {
		el, err := r.dec.Next()
		if err != nil {
			r.t.Fatalf("the stream ended without a stream error: %v", err)
		}
		if el.Name == "error" && el.NS == stanza.NSStream {
			return el.FirstElement().Name
		}
	}
}

// errorCondition is the defined condition of an error stanza.
func errorCondition(el *stanza.Element) string {
	if e := el.Child("error", stanza.NSClient); e != nil {
		for _, c := range e.Elements() {
			if c.NS == stanza.NSStanzas && c.Name != "text" {
				return c.Name
			}
		}
	}
	return ""
}

// TestFederationSpoofing: a link carries only stanzas from the domains its
// peer proved; a wrong dialback key, a key for a domain the stream was not
// opened from, a blocked domain and federation turned off all keep a
// server out.
func TestFederationSpoofing(t *testing.T) {
	p := federate(t, false)
	c := xmpptest.StartAt(t, "c.test")
	pem, err := os.ReadFile(c.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	// a.test trusts c.test's CA: c.test may authenticate by certificate.
	cpool := x509.NewCertPool()
	cpool.AppendCertsFromPEM(pem)
	a := xmpptest.StartAt(t, "a2.test", func(cfg *server.Config) {
		cfg.Federation.Resolver = p.dns
		cfg.Federation.Roots = cpool
	})
	setSetting(t, a, "federation.enabled", "true")
	a.AddUser(t, "alice", "silver-kettle-pw")
	alice := a.Login(t, "alice", "silver-kettle-pw", "phone")
	alice.Send(`<presence/>`)
	alice.Expect(`<presence from='alice@a2.test/phone' to='alice@a2.test/phone'/>`)
	ccert, err := c.TLS().GetCertificate(&tls.ClientHelloInfo{ServerName: "c.test"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("from another domain", func(t *testing.T) {
		r, feats := dialS2S(t, a.Server.S2SAddr(), "c.test", "a2.test", ccert)
		if m := feats.Child("mechanisms", stanza.NSSASL); m == nil || m.ChildText("mechanism", stanza.NSSASL) != "EXTERNAL" {
			t.Fatalf("SASL EXTERNAL not offered for a valid certificate: %s", feats)
		}
		r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
		if el := r.next(); el.Name != "success" {
			t.Fatalf("EXTERNAL answered with %s", el)
		}
		r.open("c.test", "a2.test")
		r.send(`<message from='carol@c.test/x' to='alice@a2.test' type='chat' id='ok'><body>from c</body></message>`)
		alice.Expect(`<message from='carol@c.test/x' to='alice@a2.test' type='chat' id='ok'><body>from c</body></message>`)
		r.send(`<message from='bob@b.test/x' to='alice@a2.test' type='chat' id='forged'><body>not from c</body></message>`)
		if got := r.streamError(); got != "invalid-from" {
			t.Fatalf("stream error %q, want invalid-from", got)
		}
	})

	t.Run("too big", func(t *testing.T) {
		r, _ := dialS2S(t, a.Server.S2SAddr(), "c.test", "a2.test", ccert)
		r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
		if el := r.next(); el.Name != "success" {
			t.Fatalf("EXTERNAL answered with %s", el)
		}
		r.open("c.test", "a2.test")
		r.send(`<message from='carol@c.test/x' to='alice@a2.test' type='chat'><body>` + strings.Repeat("x", 600<<10) + `</body></message>`)
		if got := r.streamError(); got != "policy-violation" {
			t.Fatalf("a 600 KiB stanza: stream error %q, want policy-violation", got)
		}
	})

	t.Run("a certificate for another domain", func(t *testing.T) {
		r, feats := dialS2S(t, a.Server.S2SAddr(), "b.test", "a2.test", ccert)
		if feats.Child("mechanisms", stanza.NSSASL) != nil {
			t.Fatalf("SASL EXTERNAL offered to b.test with c.test's certificate: %s", feats)
		}
		r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'/>`)
		if el := r.next(); el.Name != "failure" {
			t.Fatalf("EXTERNAL for b.test with c.test's certificate answered with %s", el)
		}
	})

	t.Run("a wrong dialback key", func(t *testing.T) {
		r, _ := dialS2S(t, a.Server.S2SAddr(), "b.test", "a2.test", nil)
		r.send(`<db:result from='b.test' to='a2.test'>` + strings.Repeat("ab", 32) + `</db:result>`)
		el := r.next()
		if el.Name != "result" || el.Attr("type") != "invalid" {
			t.Fatalf("a wrong key answered with %s, want type invalid", el)
		}
		r.send(`<message from='bob@b.test/x' to='alice@a2.test' type='chat'><body>forged</body></message>`)
		if got := r.streamError(); got != "not-authorized" {
			t.Fatalf("stream error %q, want not-authorized", got)
		}
	})

	t.Run("a key for a domain the stream was not opened from", func(t *testing.T) {
		r, _ := dialS2S(t, a.Server.S2SAddr(), "b.test", "a2.test", nil)
		r.send(`<db:result from='c.test' to='a2.test'>` + strings.Repeat("ab", 32) + `</db:result>`)
		if el := r.next(); el.Name != "result" || el.Attr("type") != "error" {
			t.Fatalf("a key for c.test on b.test's stream answered with %s, want type error", el)
		}
	})

	t.Run("blocked", func(t *testing.T) {
		setSetting(t, a, "federation.block", "b.test")
		bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
		bob.Send(`<message to='alice@a2.test' type='chat' id='b1'><body>let me in</body></message>`)
		el := bob.Expect(`<message from='alice@a2.test' to='bob@b.test/pc' type='error' id='b1'>*</message>`)
		if got := errorCondition(el); got != "remote-server-not-found" {
			t.Errorf("bob's message to a server that blocks b.test: error %q, want remote-server-not-found", got)
		}
		alice.Send(`<message to='bob@b.test' type='chat' id='a1'><body>hello?</body></message>`)
		el = alice.Expect(`<message from='bob@b.test' to='alice@a2.test/phone' type='error' id='a1'>*</message>`)
		if got := errorCondition(el); got != "not-allowed" {
			t.Errorf("alice's message to a blocked domain: error %q, want not-allowed", got)
		}
		nc, err := net.Dial("tcp", a.Server.S2SAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		r := &rawS2S{t: t, conn: nc, dec: stream.NewDecoder(nc, stream.Limits{})}
		r.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='b.test' to='a2.test' version='1.0'>`)
		if _, err := r.dec.Header(); err != nil {
			t.Fatal(err)
		}
		if got := r.streamError(); got != "policy-violation" {
			t.Errorf("a blocked domain opening a stream: stream error %q, want policy-violation", got)
		}
		setSetting(t, a, "federation.block", "")
	})

	t.Run("not on the allow list", func(t *testing.T) {
		setSetting(t, a, "federation.allow", "c.test")
		alice.Send(`<message to='bob@b.test' type='chat' id='a3'><body>hello?</body></message>`)
		el := alice.Expect(`<message from='bob@b.test' to='alice@a2.test/phone' type='error' id='a3'>*</message>`)
		if got := errorCondition(el); got != "not-allowed" {
			t.Errorf("a domain not on the allow list: error %q, want not-allowed", got)
		}
		r, _ := dialS2S(t, a.Server.S2SAddr(), "c.test", "a2.test", ccert)
		r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
		if el := r.next(); el.Name != "success" {
			t.Fatalf("c.test, on the allow list: EXTERNAL answered with %s", el)
		}
		setSetting(t, a, "federation.allow", "")
	})

	t.Run("off", func(t *testing.T) {
		addr := a.Server.S2SAddr()
		setSetting(t, a, "federation.enabled", "false")
		if got := a.Server.S2SAddr(); got != "" {
			t.Fatalf("federation off, but the listener is open at %s", got)
		}
		if nc, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			nc.Close()
			t.Fatalf("federation off, but %s still accepts connections", addr)
		}
		alice.Send(`<message to='bob@b.test' type='chat' id='a2'><body>hello?</body></message>`)
		el := alice.Expect(`<message from='bob@b.test' to='alice@a2.test/phone' type='error' id='a2'>*</message>`)
		if got := errorCondition(el); got != "remote-server-not-found" {
			t.Errorf("federation off: error %q, want remote-server-not-found", got)
		}
	})
}

// TestFederationFailure: a message to a domain that does not exist, or
// whose server does not answer, comes back to its sender with the right
// error within the connect timeout, while the server goes on serving.
func TestFederationFailure(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			nc, err := silent.Accept()
			if err != nil {
				return
			}
			defer nc.Close() // says nothing, until the test ends
		}
	}()
	const timeout = 1500 * time.Millisecond
	p := federate(t, true, func(c *server.Config) { c.Federation.ConnectTimeout = timeout })
	p.dns.fixed["silent.test"] = silent.Addr().String()
	p.a.AddUser(t, "carol", "plum-teapot-pw")
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
	carol := p.a.Login(t, "carol", "plum-teapot-pw", "pc")
	carol.Send(`<presence/>`)
	carol.Expect(`<presence from='carol@a.test/pc' to='carol@a.test/pc'/>`)

	start := time.Now()
	alice.Send(`<message to='bob@nowhere.test' type='chat' id='n1'><body>hello?</body></message>`)
	el := alice.Expect(`<message from='bob@nowhere.test' to='alice@a.test/phone' type='error' id='n1'>*</message>`)
	if got := errorCondition(el); got != "remote-server-not-found" {
		t.Errorf("a domain that does not exist: error %q, want remote-server-not-found", got)
	}

	alice.Send(`<message to='bob@silent.test' type='chat' id='s1'><body>hello?</body></message>`)
	// Meanwhile the server serves everyone else.
	alice.Send(`<message to='carol@a.test' type='chat' id='c1'><body>still here</body></message>`)
	carol.Expect(`<message from='alice@a.test/phone' to='carol@a.test' type='chat' id='c1'><body>still here</body></message>`)
	if waited := time.Since(start); waited > timeout/2 {
		t.Logf("note: local delivery took %s while a link was being set up", waited)
	}
	el = alice.Expect(`<message from='bob@silent.test' to='alice@a.test/phone' type='error' id='s1'>*</message>`)
	if got := errorCondition(el); got != "remote-server-timeout" {
		t.Errorf("a server that does not answer: error %q, want remote-server-timeout", got)
	}
	if waited := time.Since(start); waited > timeout+2*time.Second {
		t.Errorf("the bounce came after %s; the connect timeout is %s", waited, timeout)
	}
	// The failure is shown to the admin.
	info, err := p.a.Admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range info.Federation.Links {
		if l.Remote == "silent.test" && l.Error != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("the failed link to silent.test is not shown: %+v", info.Federation.Links)
	}
}

// TestFederationProbe: hearth federation test's steps, against another
// Hearth (every step passes, naming how each way authenticated) and
// against a domain DNS does not know (the DNS step fails, and it stops
// there).
func TestFederationProbe(t *testing.T) {
	for _, trust := range []bool{true, false} {
		p := federate(t, trust)
		steps, err := p.a.Admin.TestFederation(context.Background(), "b.test")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range steps {
			names = append(names, s.Name)
			if !s.OK {
				t.Errorf("trust %v: step %s failed: %s", trust, s.Name, s.Detail)
			}
		}
		if got := strings.Join(names, ", "); got != "DNS, Connect, TLS, Authentication, Round trip" {
			t.Errorf("steps %s", got)
		}
		auth := "dialback"
		if trust {
			auth = "certificate"
		}
		if len(steps) > 3 && !strings.Contains(steps[3].Detail, auth) {
			t.Errorf("trust %v: authentication step %q does not say %s", trust, steps[3].Detail, auth)
		}
		if trust {
			// A domain that just failed is tried again by the test: the
			// admin may have fixed it.
			setSetting(t, p.b, "federation.enabled", "false")
			alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
			alice.Send(`<message to='bob@b.test' type='chat' id='f1'><body>hello?</body></message>`)
			alice.Expect(`<message from='bob@b.test' to='alice@a.test/phone' type='error' id='f1'>*</message>`)
			setSetting(t, p.b, "federation.enabled", "true")
			steps, err = p.a.Admin.TestFederation(context.Background(), "b.test")
			if err != nil || len(steps) != 5 || !steps[4].OK {
				t.Errorf("the test right after a failure: %+v, %v; want every step to pass", steps, err)
			}

			steps, err = p.a.Admin.TestFederation(context.Background(), "nowhere.test")
			if err != nil {
				t.Fatal(err)
			}
			if len(steps) != 1 || steps[0].Name != "DNS" || steps[0].OK {
				t.Errorf("a domain DNS does not know: %+v, want the DNS step to fail alone", steps)
			}
		}
	}
}

// TestFederationIdle: a link that carries nothing for the idle timeout
// closes, on both sides, and the next message sets a new one up.
func TestFederationIdle(t *testing.T) {
	p := federate(t, true, func(c *server.Config) { c.Federation.IdleTimeout = 300 * time.Millisecond })
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
	alice.Send(`<message to='bob@b.test/pc' type='chat' id='i1'><body>one</body></message>`)
	bob.Expect(`<message from='alice@a.test/phone' to='bob@b.test/pc' type='chat' id='i1'><body>one</body></message>`)
	if len(links(t, p.a, "b.test")) == 0 {
		t.Fatal("no link after a message crossed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(links(t, p.a, "b.test"))+len(links(t, p.b, "a.test")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("links still up long after the idle timeout: %+v / %+v", links(t, p.a, "b.test"), links(t, p.b, "a.test"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	alice.Send(`<message to='bob@b.test/pc' type='chat' id='i2'><body>two</body></message>`)
	bob.Expect(`<message from='alice@a.test/phone' to='bob@b.test/pc' type='chat' id='i2'><body>two</body></message>`)
}

// TestFederationBackoff: after a domain could not be reached, messages to
// it bounce at once for a while (no new attempt per message), and after
// that a new attempt is made, which finds the server back.
func TestFederationBackoff(t *testing.T) {
	p := federate(t, true)
	setSetting(t, p.b, "federation.enabled", "false")
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
	alice.Send(`<message to='bob@b.test/pc' type='chat' id='b1'><body>one</body></message>`)
	el := alice.Expect(`<message from='bob@b.test/pc' to='alice@a.test/phone' type='error' id='b1'>*</message>`)
	if got := errorCondition(el); got != "remote-server-not-found" {
		t.Fatalf("b.test off: error %q, want remote-server-not-found", got)
	}
	failedAt := time.Now()
	setSetting(t, p.b, "federation.enabled", "true")
	// Within the backoff (1 s after a first failure) the failure stands,
	// though the server is back. (A machine too slow to get here within
	// half a second checks only what follows.)
	if time.Since(failedAt) < 500*time.Millisecond {
		alice.Send(`<message to='bob@b.test/pc' type='chat' id='b2'><body>two</body></message>`)
		el = alice.Expect(`<message from='bob@b.test/pc' to='alice@a.test/phone' type='error' id='b2'>*</message>`)
		if got := errorCondition(el); got != "remote-server-not-found" {
			t.Fatalf("within the backoff: error %q, want the failure's remote-server-not-found", got)
		}
	}
	time.Sleep(time.Until(failedAt.Add(1100 * time.Millisecond)))
	alice.Send(`<message to='bob@b.test/pc' type='chat' id='b3'><body>three</body></message>`)
	bob.Expect(`<message from='alice@a.test/phone' to='bob@b.test/pc' type='chat' id='b3'><body>three</body></message>`)
}
