package xmpptest_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/internal/testdns"
	"hearth/server/xmpptest"
)

const (
	pDomain = "prosody.test"
	eDomain = "ejabberd.test"
)

// authLine is what the peers log about how s2s streams authenticate.
var authLine = regexp.MustCompile(`SASL EXTERNAL|dialback key|s2s (EXTERNAL|dialback) authentication|authenticated for|s2s connection \S+ complete|certificate chain validation result|Peer certificate rejected`)

// TestPeersFederate: the harness's two peers, Prosody and ejabberd,
// federate with each other on 127.0.0.1, finding each other through the
// test's DNS server. With certificates from a CA both trust, the streams
// authenticate with SASL EXTERNAL; with self-signed ones, with dialback,
// or not at all where SecureAuth asks for valid certificates. Where both
// ways work, a user on each subscribes to the other, both see each
// other's presence, and a message crosses each way; where one does not,
// a message that way comes back as an error.
func TestPeersFederate(t *testing.T) {
	trustedCA := func(usage xmpptest.Usage) func(t *testing.T) (string, string, string, string, []string) {
		return func(t *testing.T) (string, string, string, string, []string) {
			ca := xmpptest.NewCA(t, "Federation Test CA")
			pc, pk := ca.Issue(t, pDomain, usage)
			ec, ek := ca.Issue(t, eDomain, usage)
			return pc, pk, ec, ek, []string{ca.CertFile}
		}
	}
	selfSigned := func(t *testing.T) (string, string, string, string, []string) {
		pc, pk := xmpptest.SelfSigned(t, pDomain)
		ec, ek := xmpptest.SelfSigned(t, eDomain)
		return pc, pk, ec, ek, nil
	}
	tests := []struct {
		name       string
		secureAuth bool
		certs      func(t *testing.T) (pCert, pKey, eCert, eKey string, trust []string)
		// Whether a stream comes up each way.
		prosodyToEjabberd, ejabberdToProsody bool
		// What each log must say, and must not, about how the streams
		// authenticated (each peer logs both directions).
		prosodyLog, prosodyNot, ejabberdLog, ejabberdNot []string
	}{
		{
			name:              "trusted CA",
			secureAuth:        true,
			certs:             trustedCA(xmpptest.ServerAndClient),
			prosodyToEjabberd: true, ejabberdToProsody: true,
			prosodyLog: []string{
				"SASL EXTERNAL with " + eDomain + " succeeded",     // outgoing
				"Accepting SASL EXTERNAL identity from " + eDomain, // incoming
			},
			prosodyNot: []string{"dialback key"},
			ejabberdLog: []string{
				"Accepted inbound s2s EXTERNAL authentication " + pDomain + " -> " + eDomain,
				"Accepted outbound s2s EXTERNAL authentication " + eDomain + " -> " + pDomain,
			},
			ejabberdNot: []string{"dialback authentication"},
		},
		{
			name:              "self-signed",
			certs:             selfSigned,
			prosodyToEjabberd: true, ejabberdToProsody: true,
			prosodyLog: []string{
				"SASL EXTERNAL with " + eDomain + " failed", // ejabberd offers it all the same
				"SASL EXTERNAL failed, falling back to dialback",
				"verified dialback key... it is valid", // ejabberd asked about Prosody's key
			},
			prosodyNot: []string{"SASL EXTERNAL with " + eDomain + " succeeded", "Accepting SASL EXTERNAL identity"},
			ejabberdLog: []string{
				"Accepted inbound s2s dialback authentication " + pDomain + " -> " + eDomain,
				"Accepted outbound s2s dialback authentication " + eDomain + " -> " + pDomain,
			},
			ejabberdNot: []string{"Accepted inbound s2s EXTERNAL", "Accepted outbound s2s EXTERNAL"},
		},
		{
			name:       "self-signed, secure auth",
			secureAuth: true,
			certs:      selfSigned,
			prosodyLog: []string{"SASL EXTERNAL with " + eDomain + " failed", "Outgoing s2s stream " + pDomain + "->" + eDomain + " closed"},
			prosodyNot: []string{"s2s connection " + pDomain + "->" + eDomain + " complete", "s2s connection " + eDomain + "->" + pDomain + " complete"},
			ejabberdLog: []string{
				"Failed inbound s2s EXTERNAL authentication " + pDomain + " -> " + eDomain,
				"Failed to establish outbound s2s connection " + eDomain + " -> " + pDomain + ": Peer certificate rejected",
			},
			ejabberdNot: []string{"Accepted inbound s2s", "Accepted outbound s2s"},
		},
		{
			// Let's Encrypt's certificates since 2026: ejabberd (OpenSSL)
			// refuses one as a client certificate, Prosody takes it.
			name:              "serverAuth only, secure auth",
			secureAuth:        true,
			certs:             trustedCA(xmpptest.ServerOnly),
			ejabberdToProsody: true,
			prosodyLog: []string{
				"SASL EXTERNAL with " + eDomain + " failed: error<cancel:not-authorized:unsupported certificate purpose>",
				"Accepting SASL EXTERNAL identity from " + eDomain,
			},
			ejabberdLog: []string{
				"Failed inbound s2s EXTERNAL authentication " + pDomain + " -> " + eDomain + " (127.0.0.1): unsupported certificate purpose",
				"Accepted outbound s2s EXTERNAL authentication " + eDomain + " -> " + pDomain,
			},
			ejabberdNot: []string{"Accepted inbound s2s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			dns := testdns.Start(t)
			pc, pk, ec, ek, trust := tc.certs(t)
			pros := xmpptest.StartProsody(t, xmpptest.PeerConfig{Domain: pDomain, CertFile: pc, KeyFile: pk,
				TrustCAFiles: trust, DNS: dns.Addr(), SecureAuth: tc.secureAuth, Users: map[string]string{"alice": "alice-pw"}})
			ejab := xmpptest.StartEjabberd(t, xmpptest.PeerConfig{Domain: eDomain, CertFile: ec, KeyFile: ek,
				TrustCAFiles: trust, DNS: dns.Addr(), SecureAuth: tc.secureAuth, Users: map[string]string{"bob": "bob-pw"}})
			pros.Publish(dns)
			ejab.Publish(dns)
			t.Logf("peers up in %s", time.Since(start).Round(time.Millisecond))

			alice := pros.Login(t, "alice", "alice-pw", "home")
			bob := ejab.Login(t, "bob", "bob-pw", "work")
			const wait = 10 * time.Second
			for _, c := range []*xmpptest.Client{alice, bob} {
				c.Online(wait)
			}
			aliceJID, bobJID := "alice@"+pDomain, "bob@"+eDomain
			if tc.prosodyToEjabberd && tc.ejabberdToProsody {
				xmpptest.SubscribeBoth(alice, aliceJID+"/home", bob, bobJID+"/work", wait)
			}
			for _, m := range []struct {
				from, to       *xmpptest.Client
				fromJID, toJID string
				id, body       string
				crosses        bool
			}{
				{alice, bob, aliceJID + "/home", bobJID, "m1", "hello from prosody", tc.prosodyToEjabberd},
				{bob, alice, bobJID + "/work", aliceJID, "m2", "hello from ejabberd", tc.ejabberdToProsody},
			} {
				m.from.Send(`<message to='` + m.toJID + `' type='chat' id='` + m.id + `'><body>` + m.body + `</body></message>`)
				if m.crosses {
					m.to.ExpectLike(`<message from='`+m.fromJID+`' type='chat'><body>`+m.body+`</body></message>`, wait)
				} else {
					m.from.ExpectLike(`<message from='`+m.toJID+`' type='error' id='`+m.id+`'><error/></message>`, wait)
				}
			}
			t.Logf("done in %s", time.Since(start).Round(time.Millisecond))

			for _, p := range []struct {
				peer      *xmpptest.Peer
				want, not []string
			}{{pros, tc.prosodyLog, tc.prosodyNot}, {ejab, tc.ejabberdLog, tc.ejabberdNot}} {
				for _, s := range p.want {
					if !p.peer.LogSays(s, 5*time.Second) {
						t.Errorf("%s's log does not say %q", p.peer.Kind, s)
					}
				}
				logs := p.peer.Logs()
				for _, s := range p.not {
					if strings.Contains(logs, s) {
						t.Errorf("%s's log says %q", p.peer.Kind, s)
					}
				}
				var said []string
				for _, line := range strings.Split(logs, "\n") {
					if authLine.MatchString(line) {
						said = append(said, strings.TrimSpace(line))
					}
				}
				t.Logf("%s on s2s authentication:\n%s", p.peer.Kind, strings.Join(said, "\n"))
			}
			for _, name := range []string{pDomain, eDomain} {
				if dns.Asked("_xmpp-server._tcp."+name, "SRV") == 0 {
					t.Errorf("nobody looked up the SRV record of %s in the test's DNS server", name)
				}
			}
		})
	}
}
