package server_test

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// loopDNS is the resolver seam for federation tests: each test domain's
// server on loopback, at the federation port it has open now; other names
// do not exist.
type loopDNS struct {
	mu      sync.Mutex
	servers map[string]*xmpptest.Server
	fixed   map[string]string // domain → host:port, for servers that are not Hearth
	direct  bool              // announce direct TLS (XEP-0368) instead of STARTTLS
}

func (d *loopDNS) addr(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.TrimSuffix(name, ".")
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

func (d *loopDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	want := "xmpp-server"
	if d.direct {
		want = "xmpps-server"
	}
	a := d.addr(name)
	if service != want || a == "" {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	host, port, _ := net.SplitHostPort(a)
	p, _ := strconv.Atoi(port)
	return "", []*net.SRV{{Target: host, Port: uint16(p)}}, nil
}

func (d *loopDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
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
	dns := &loopDNS{servers: map[string]*xmpptest.Server{}, fixed: map[string]string{}}
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
			p.dns.direct = tt.direct
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
				}
			}
		})
	}
}
