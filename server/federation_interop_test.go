package server_test

import (
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"hearth/internal/testdns"
	"hearth/server"
	"hearth/server/xmpptest"
)

// TestFederationInterop: alice on Hearth and bob on a real Prosody 0.12 or
// ejabberd 23.01 (Debian's), each finding the other through the test's
// DNS server on loopback, subscribe to each other, see each other's
// presence and chat both ways. Where each trusts the other's CA, the links
// authenticate by certificate (SASL EXTERNAL) both ways, also when the
// peer's certificate is for servers only (serverAuth); with a self-signed
// peer that does not trust Hearth's home CA, by dialback both ways.
func TestFederationInterop(t *testing.T) {
	for _, tc := range []struct {
		name, peer string
		trust      bool
		usage      xmpptest.Usage
		auth       string
	}{
		{"prosody/certificates", "prosody", true, xmpptest.ServerAndClient, "certificate"},
		// Let's Encrypt's certificates since 2026 are for servers only:
		// Hearth takes one as a client certificate too.
		{"prosody/serverAuth-only certificate", "prosody", true, xmpptest.ServerOnly, "certificate"},
		{"prosody/dialback", "prosody", false, 0, "dialback"},
		{"ejabberd/certificates", "ejabberd", true, xmpptest.ServerAndClient, "certificate"},
		{"ejabberd/dialback", "ejabberd", false, 0, "dialback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			dns := testdns.Start(t)
			peerDomain := tc.peer + ".test"
			roots := x509.NewCertPool()
			var certFile, keyFile string
			var trust []string
			var ca *xmpptest.CA
			if tc.trust {
				ca = xmpptest.NewCA(t, "Interop Test CA")
				certFile, keyFile = ca.Issue(t, peerDomain, tc.usage)
				roots = ca.Pool
			} else {
				certFile, keyFile = xmpptest.SelfSigned(t, peerDomain)
			}
			h := xmpptest.StartAt(t, "hearth.test", func(c *server.Config) {
				c.Federation.Resolver = dns.Resolver()
				c.Federation.Roots = roots
				c.Federation.ConnectTimeout = 15 * time.Second
			})
			if tc.trust {
				trust = []string{ca.CertFile, h.CertFile}
			}
			setSetting(t, h, "federation.enabled", "true")
			_, port, _ := net.SplitHostPort(h.Server.S2SAddr())
			p, _ := strconv.Atoi(port)
			if tc.peer == "prosody" {
				// Prosody 0.12 tries one address of a name, the first
				// of A and AAAA to answer: a name with only 127.0.0.1.
				dns.SetSRV("xmpp-server", "tcp", "hearth.test", testdns.SRV{Target: "s2s.hearth.test", Port: uint16(p)})
				dns.SetHost("s2s.hearth.test", "127.0.0.1")
			} else {
				// ejabberd looks an SRV target up in /etc/hosts: localhost.
				xmpptest.PublishS2S(dns, "hearth.test", uint16(p))
			}
			cfg := xmpptest.PeerConfig{Domain: peerDomain, CertFile: certFile, KeyFile: keyFile, TrustCAFiles: trust,
				DNS: dns.Addr(), SecureAuth: tc.trust, Users: map[string]string{"bob": "bob-interop-pw"}}
			var peer *xmpptest.Peer
			if tc.peer == "prosody" {
				peer = xmpptest.StartProsody(t, cfg)
			} else {
				peer = xmpptest.StartEjabberd(t, cfg)
			}
			peer.Publish(dns)
			h.AddUser(t, "alice", "silver-kettle-pw")
			t.Logf("servers up in %s; hearth s2s at %s", time.Since(start).Round(time.Millisecond), h.Server.S2SAddr())
			defer func() {
				if t.Failed() {
					t.Logf("DNS asked: SRV hearth.test %d, xmpps %d, A hearth.test %d, localhost %d", dns.Asked("_xmpp-server._tcp.hearth.test", "SRV"),
						dns.Asked("_xmpps-server._tcp.hearth.test", "SRV"), dns.Asked("hearth.test", "A"), dns.Asked("localhost", "A"))
					t.Logf("%s's log:\n%s", tc.peer, peer.Logs())
				}
			}()

			alice := h.Login(t, "alice", "silver-kettle-pw", "phone")
			bob := peer.Login(t, "bob", "bob-interop-pw", "work")
			const wait = 15 * time.Second
			for _, c := range []*xmpptest.Client{alice, bob} {
				c.Online(wait)
			}
			aliceJID, bobJID := "alice@hearth.test", "bob@"+peerDomain
			xmpptest.SubscribeBoth(alice, aliceJID+"/phone", bob, bobJID+"/work", wait)

			alice.Send(`<message to='` + bobJID + `' type='chat' id='h1'><body>hello from Hearth</body></message>`)
			bob.ExpectLike(`<message from='`+aliceJID+`/phone' type='chat'><body>hello from Hearth</body></message>`, wait)
			bob.Send(`<message to='` + aliceJID + `' type='chat' id='p1'><body>hello from ` + tc.peer + `</body></message>`)
			alice.ExpectLike(`<message from='`+bobJID+`/work' type='chat'><body>hello from `+tc.peer+`</body></message>`, wait)
			bob.Send(`<iq to='hearth.test' type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>`)
			bob.ExpectLike(`<iq from='hearth.test' type='result' id='ping1'/>`, wait)

			ways := map[string]string{}
			for _, l := range links(t, h, peerDomain) {
				if l.Direction == "both" {
					ways["in"], ways["out"] = l.Auth, l.Auth
				} else {
					ways[l.Direction] = l.Auth
				}
			}
			if ways["in"] != tc.auth || ways["out"] != tc.auth {
				t.Errorf("Hearth's links with %s authenticated in: %q, out: %q; want %s both ways", peerDomain, ways["in"], ways["out"], tc.auth)
			}
			t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
