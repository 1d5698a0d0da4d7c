package server_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"hearth/server"
	"hearth/server/internal/stream"
)

// TestFederationLANHost: the LAN bridge's host (lan.<domain>) is never
// federated (XEP-0174). Another server cannot open a stream to it, ask
// for a dialback key for it, or send a stanza to it over a link it
// authenticated; its users' stanzas to it come back as errors from their
// own server, never an answer from lan.<domain>; and no link to another
// server is ever opened in its name. Nobody takes part in LAN chat here,
// so nothing goes on the network beyond loopback.
func TestFederationLANHost(t *testing.T) {
	p := federate(t, true, func(c *server.Config) { c.LinkLocal.Host = "hearthbox" })
	const lan = "lan.a.test"

	t.Run("a stream to it", func(t *testing.T) {
		nc, err := net.Dial("tcp", p.a.Server.S2SAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		r := &rawS2S{t: t, conn: nc, dec: stream.NewDecoder(nc, stream.Limits{})}
		r.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='b.test' to='` + lan + `' version='1.0'>`)
		if _, err := r.dec.Header(); err != nil {
			t.Fatal(err)
		}
		if got := r.streamError(); got != "host-unknown" {
			t.Errorf("a stream to %s: stream error %q, want host-unknown", lan, got)
		}
	})

	t.Run("a dialback key for it", func(t *testing.T) {
		r, _ := dialS2S(t, p.a.Server.S2SAddr(), "b.test", "a.test", nil)
		r.send(`<db:result from='b.test' to='` + lan + `'>` + strings.Repeat("ab", 32) + `</db:result>`)
		if el := r.next(); el.Name != "result" || el.Attr("type") != "error" {
			t.Errorf("a dialback key for %s answered with %s, want type error", lan, el)
		}
	})

	t.Run("a stanza to it over an authenticated link", func(t *testing.T) {
		bcert, err := p.b.TLS().GetCertificate(&tls.ClientHelloInfo{ServerName: "b.test"})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := dialS2S(t, p.a.Server.S2SAddr(), "b.test", "a.test", bcert)
		r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
		if el := r.next(); el.Name != "success" {
			t.Fatalf("EXTERNAL answered with %s", el)
		}
		r.open("b.test", "a.test")
		r.send(`<message from='bob@b.test/x' to='bob%familydevice@` + lan + `' type='chat' id='l1'><body>hi</body></message>`)
		if got := r.streamError(); got != "host-unknown" {
			t.Errorf("a message to %s over b.test's link: stream error %q, want host-unknown", lan, got)
		}
	})

	t.Run("from a user of the other server", func(t *testing.T) {
		// b.test finds lan.a.test where a.test listens, as it would if
		// the name were in DNS.
		p.dns.mu.Lock()
		p.dns.fixed[lan] = p.a.Server.S2SAddr()
		p.dns.mu.Unlock()
		bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
		bob.Send(`<iq to='` + lan + `' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		el := bob.Expect(`<iq from='` + lan + `' to='bob@b.test/pc' type='error' id='d1'>*</iq>`)
		if got := errorCondition(el); got != "remote-server-not-found" {
			t.Errorf("disco#info of %s from b.test: %s, want remote-server-not-found from b.test", lan, el)
		}
		bob.Send(`<message to='bob%familydevice@` + lan + `' type='chat' id='m1'><body>hi</body></message>`)
		el = bob.Expect(`<message from='bob%familydevice@` + lan + `' to='bob@b.test/pc' type='error' id='m1'>*</message>`)
		if got := errorCondition(el); got != "remote-server-not-found" {
			t.Errorf("a message to a peer on %s from b.test: %s, want remote-server-not-found from b.test", lan, el)
		}
		for _, l := range links(t, p.a, "b.test") {
			if l.Local == lan {
				t.Errorf("a.test has a link to b.test in the name of %s: %+v", lan, l)
			}
		}
		for _, l := range links(t, p.b, lan) {
			t.Errorf("b.test has a link with %s: %+v", lan, l)
		}
	})
}
