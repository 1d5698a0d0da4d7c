package linklocal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"math/big"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stream"
)

// selfSigned is a certificate of the kind a LAN peer has: its own.
func selfSigned(t testing.TB, name string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"hearth.local"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// Two Services with certificates secure the stream one of them opens,
// and messages go both ways over it.
func TestTLSServiceToService(t *testing.T) {
	a := newHarnessAs(t, Config{TLS: selfSigned(t, "alice")}, "alice@hearth")
	b := newHarnessAs(t, Config{TLS: selfSigned(t, "bob")}, "bob@otherbox")
	a.dir.announce("bob@otherbox", b.port, "127.0.0.1")
	b.dir.announce("alice@hearth", a.port, "127.0.0.1")
	ctx := context.Background()
	if err := a.s.Send(ctx, "alice@hearth", "bob@otherbox", message("secret one")); err != nil {
		t.Fatal(err)
	}
	if r := b.receive(t); r.peer != "alice@hearth" || r.st.Body() != "secret one" {
		t.Fatalf("b received %q %s", r.peer, r.st.El)
	}
	if err := b.s.Send(ctx, "bob@otherbox", "alice@hearth", message("secret two")); err != nil {
		t.Fatal(err)
	}
	if r := a.receive(t); r.peer != "bob@otherbox" || r.st.Body() != "secret two" {
		t.Fatalf("a received %q %s", r.peer, r.st.El)
	}
	as, bs := a.s.Streams(), b.s.Streams()
	if len(as) != 1 || len(bs) != 1 || !as[0].TLS || !bs[0].TLS {
		t.Fatalf("streams: a %+v, b %+v", as, bs)
	}
	b.logs.wait(t, "link-local stream secured with TLS")
}

// A peer that opens with version 1.0 is offered STARTTLS and may take it;
// one that opens without a version (libpurple) gets no features, and one
// that asks for TLS where it was not offered gets a stream error.
func TestTLSOffered(t *testing.T) {
	h := newHarness(t, Config{TLS: selfSigned(t, "alice")})
	h.dir.announce("bob@laptop", 5298, "127.0.0.1")

	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "1.0")
	p.header()
	f := p.mustNext()
	if f.XMLName.Local != "features" || !strings.Contains(f.Inner, "starttls") {
		t.Fatalf("features: %+v", f)
	}
	p.send(`<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`)
	if e := p.mustNext(); e.XMLName.Local != "proceed" {
		t.Fatalf("got <%s>", e.XMLName.Local)
	}
	tc := tls.Client(p.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p.nc, p.dec = tc, xml.NewDecoder(tc)
	p.open("bob@laptop", "alice@hearth", "1.0")
	if hdr := p.header(); hdr.attr("from") != "alice@hearth" {
		t.Fatalf("header after TLS: from %q", hdr.attr("from"))
	}
	if f := p.mustNext(); f.XMLName.Local != "features" || strings.TrimSpace(f.Inner) != "" {
		t.Fatalf("features after TLS: %+v", f)
	}
	p.send(`<message><body>over tls</body></message>`)
	if r := h.receive(t); r.st.Body() != "over tls" {
		t.Fatalf("received %s", r.st.El)
	}
	if err := h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("back over tls")); err != nil {
		t.Fatal(err)
	}
	if m := p.mustNext(); !strings.Contains(m.Inner, "back over tls") {
		t.Fatalf("bob got %+v", m)
	}

	// Again, while TLS is on: refused.
	p.send(`<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`)
	if cond := p.streamError(); cond != stream.PolicyViolation {
		t.Fatalf("second starttls: %q", cond)
	}

	q := dialFrom(t, "", h.addr())
	q.open("bob@laptop", "alice@hearth", "")
	q.header()
	q.send(`<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`)
	if cond := q.streamError(); cond != stream.PolicyViolation {
		t.Fatalf("starttls not offered: %q", cond)
	}
	h.logs.wait(t, "it asked for TLS where none was offered")
}

// A Service with a certificate dials a peer that offers no TLS, or sends
// no version: the stream stays plain and works.
func TestTLSNotOfferedByPeer(t *testing.T) {
	h := newHarness(t, Config{TLS: selfSigned(t, "alice")})
	bob := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", bob.port(), "127.0.0.1")
	for i, version := range []string{"1.0", ""} {
		sent := make(chan error, 1)
		go func() { sent <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("plain")) }()
		p := bob.accept()
		p.header()
		p.open("bob@laptop", "alice@hearth", version)
		if version != "" {
			p.send(`<stream:features/>`)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		if m := p.mustNext(); !strings.Contains(m.Inner, "plain") {
			t.Fatalf("bob got %+v", m)
		}
		if got := h.s.Streams(); len(got) != 1 || got[0].TLS {
			t.Fatalf("round %d: streams %+v", i, got)
		}
		p.send(stream.Close)
		p.closed()
		for len(h.s.Streams()) > 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
}
