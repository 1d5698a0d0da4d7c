package server_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/internal/mod/extdisco"
	"hearth/server/internal/stanza"
	"hearth/server/internal/turn"
	"hearth/server/internal/turn/turntest"
	"hearth/server/xmpptest"
)

// withTURN runs the STUN/TURN service on the loopback, relays announced
// there, on ports of this test's own.
func withTURN(c *server.Config) {
	c.TURN = server.TURN{On: true, Addr: "127.0.0.1:0", TLSAddr: "127.0.0.1:0", RelayIP: net.IPv4(127, 0, 0, 1),
		RelayMin: 41000, RelayMax: 41999, PerUser: 3, Total: 10}
}

// services asks the server for its XEP-0215 services over c's stream and
// returns the answer's <service/> elements.
func services(t *testing.T, c *xmpptest.Client, id, payload string) []*stanza.Element {
	t.Helper()
	c.Send(`<iq type='get' id='` + id + `' to='` + c.JID[strings.Index(c.JID, "@")+1:strings.Index(c.JID, "/")] + `'>` + payload + `</iq>`)
	res := c.Next()
	if res.Attr("type") != "result" || res.Attr("id") != id {
		t.Fatalf("answer to %s: %s", payload, res)
	}
	p := res.FirstElement()
	if p == nil || p.NS != extdisco.NS {
		t.Fatalf("answer to %s without its payload: %s", payload, res)
	}
	return p.Elements()
}

// pick is the service of a type and transport.
func pick(t *testing.T, svcs []*stanza.Element, typ, transport string) *stanza.Element {
	t.Helper()
	for _, s := range svcs {
		if s.Attr("type") == typ && s.Attr("transport") == transport {
			return s
		}
	}
	t.Fatalf("no %s/%s service in %v", typ, transport, svcs)
	return nil
}

func hasFeature(t *testing.T, c *xmpptest.Client, domain, feature string) bool {
	t.Helper()
	c.Send(`<iq type='get' id='info' to='` + domain + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	res := c.Next()
	for _, f := range res.FirstElement().Elements() {
		if f.Name == "feature" && f.Attr("var") == feature {
			return true
		}
	}
	return false
}

// TestTURNCalls: alice and bob ask Hearth for its STUN/TURN services
// (XEP-0215) over XMPP, allocate relays with the credentials they were
// given (pion's TURN client) and exchange datagrams through them; expired
// and forged credentials are refused; the admin sees it all.
func TestTURNCalls(t *testing.T) {
	srv := xmpptest.Start(t, withTURN)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	bob := srv.Login(t, "bob", secret("bob"), "pc")
	if !hasFeature(t, alice, srv.Domain, extdisco.NS) {
		t.Fatalf("the server does not claim %s while TURN runs", extdisco.NS)
	}

	all := services(t, alice, "s1", `<services xmlns='urn:xmpp:extdisco:2'/>`)
	if len(all) != 4 {
		t.Fatalf("services: %v, want stun, turn/udp, turn/tcp, turns", all)
	}
	stun := pick(t, all, "stun", "udp")
	if stun.Attr("restricted") != "" || stun.Attr("username") != "" || stun.Attr("host") != "127.0.0.1" {
		t.Errorf("stun service: %s", stun)
	}
	if s := pick(t, all, "turns", "tcp"); s.Attr("host") != srv.Domain || s.Attr("port") == "0" {
		t.Errorf("turns service: %s", s)
	}
	at := pick(t, all, "turn", "udp")
	exp, err := time.Parse(time.RFC3339, at.Attr("expires"))
	if at.Attr("restricted") != "1" || err != nil || time.Until(exp) < 23*time.Hour {
		t.Errorf("turn service: %s (expires %v, %v)", at, exp, err)
	}
	if u := at.Attr("username"); u != strconv.FormatInt(exp.Unix(), 10)+":alice@"+srv.Domain {
		t.Errorf("turn user name %q: want <expiry>:<bare JID>", u)
	}
	bt := pick(t, services(t, bob, "s2", `<services xmlns='urn:xmpp:extdisco:2' type='turn'/>`), "turn", "udp")
	addr := net.JoinHostPort(at.Attr("host"), at.Attr("port"))

	a, err := turntest.Allocate(t, addr, at.Attr("username"), at.Attr("password"))
	if err != nil {
		t.Fatalf("alice's relay with Hearth's credentials: %v", err)
	}
	b, err := turntest.Allocate(t, addr, bt.Attr("username"), bt.Attr("password"))
	if err != nil {
		t.Fatalf("bob's relay with Hearth's credentials: %v", err)
	}
	turntest.Exchange(t, a, b, 20)

	// credentials (XEP-0215 3.3) for the TURN host: both transports.
	cr := services(t, alice, "c1", `<credentials xmlns='urn:xmpp:extdisco:2'><service host='127.0.0.1' type='turn'/></credentials>`)
	if len(cr) != 2 || cr[0].Attr("username") == "" {
		t.Errorf("credentials: %v", cr)
	}

	// Expired credentials, made with the server's own secret; and a
	// password of another secret.
	key, err := os.ReadFile(filepath.Join(srv.DataDir, "turn.secret"))
	if err != nil {
		t.Fatal(err)
	}
	expired := turn.NewCredentials(key, "alice@"+srv.Domain, time.Now().Add(-time.Second))
	if _, err := turntest.Allocate(t, addr, expired.Username, expired.Password); err == nil {
		t.Error("expired credentials: allocated")
	}
	forged := turn.NewCredentials([]byte("not the server's secret at all"), "alice@"+srv.Domain, time.Now().Add(time.Hour))
	if _, err := turntest.Allocate(t, addr, forged.Username, forged.Password); err == nil {
		t.Error("forged password: allocated")
	}

	info, err := srv.Admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Counted once each relay socket's read or write returns: the last
	// datagram may be delivered before its count.
	st := info.TURN
	if !st.Running || st.Allocations != 2 || st.RefusedAuth < 2 || st.PacketsRelayed < 78 || st.BytesRelayed < 78*6 ||
		len(st.Listening) != 3 || st.RelayAddress != "127.0.0.1" || st.RelayMin != 41000 {
		t.Errorf("admin's TURN status: %+v", st)
	}
	// The relays still work after the refusals: the server kept serving.
	turntest.Exchange(t, a, b, 2)

	// TURN over TLS, with the server's certificate for its domain: a
	// relay as good as UDP's.
	ts := pick(t, all, "turns", "tcp")
	tlsAddr := net.JoinHostPort("127.0.0.1", ts.Attr("port"))
	if _, err := turntest.AllocateTLS(t, tlsAddr, &tls.Config{ServerName: "not-" + srv.Domain, RootCAs: srv.Roots}, ts.Attr("username"), ts.Attr("password")); err == nil {
		t.Error("TURN over TLS: a certificate for another name was accepted")
	}
	// A client offering RFC 7443's ALPN protocol is served too.
	c, err := turntest.AllocateTLS(t, tlsAddr, &tls.Config{ServerName: ts.Attr("host"), RootCAs: srv.Roots, NextProtos: []string{"stun.turn"}}, ts.Attr("username"), ts.Attr("password"))
	if err != nil {
		t.Fatalf("TURN over TLS: %v", err)
	}
	turntest.Exchange(t, c, b, 5)

	// The credentials' lifetime is live: those asked for next follow it.
	restart, err := srv.Admin.SetSetting(context.Background(), "turn.credential_lifetime", "1h")
	if err != nil || restart {
		t.Fatalf("turn.credential_lifetime: restart %v, %v", restart, err)
	}
	nt := pick(t, services(t, alice, "s3", `<services xmlns='urn:xmpp:extdisco:2' type='turn'/>`), "turn", "udp")
	if exp, err := time.Parse(time.RFC3339, nt.Attr("expires")); err != nil || time.Until(exp) > time.Hour || time.Until(exp) < 59*time.Minute {
		t.Errorf("credentials after turn.credential_lifetime 1h expire at %v (%v)", exp, err)
	}
}

// TestTURNOff: without the service, nothing claims it and a request for
// services is refused.
func TestTURNOff(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	if hasFeature(t, alice, srv.Domain, extdisco.NS) {
		t.Errorf("the server claims %s with no TURN server", extdisco.NS)
	}
	alice.Send(`<iq type='get' id='s1' to='hearth.test'><services xmlns='urn:xmpp:extdisco:2'/></iq>`)
	res := alice.Next()
	if res.Attr("type") != "error" || res.Child("error", stanza.NSClient).Child(stanza.ServiceUnavailable, stanza.NSStanzas) == nil {
		t.Errorf("services with TURN off: %s", res)
	}
	info, err := srv.Admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.TURN.Running || info.TURN.Enabled || info.TURN.Reason == "" {
		t.Errorf("admin's TURN status with TURN off: %+v", info.TURN)
	}
}
