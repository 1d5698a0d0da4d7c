package xmpptest

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Raw is a stream taken through STARTTLS by hand, for SASL tests: the
// server's post-TLS features have been read.
type Raw struct {
	t    testing.TB
	Conn net.Conn
	Dec  *stream.Decoder
	// Features are the stream features after TLS.
	Features *stanza.Element
}

// StartTLS connects, negotiates TLS and opens the secured stream.
func (s *Server) StartTLS(t testing.TB) *Raw {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &Client{conn: nc, t: t}
	c.dec = stream.NewDecoder(nc, stream.Limits{MaxStanza: 1 << 20})
	if _, err := c.open(s.Domain); err != nil {
		t.Fatal(err)
	}
	c.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if el, err := c.dec.Next(); err != nil || el.Name != "proceed" {
		t.Fatalf("starttls: %v %v", el, err)
	}
	tc := tls.Client(nc, s.TLSConfig())
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn = tc
	c.gate = NewGate(tc)
	c.dec = stream.NewDecoder(c.gate, stream.Limits{MaxStanza: 1 << 20})
	f, err := c.open(s.Domain)
	if err != nil {
		t.Fatal(err)
	}
	return &Raw{t: t, Conn: tc, Dec: c.dec, Features: f}
}

// Send writes raw XML.
func (r *Raw) Send(s string) {
	if _, err := r.Conn.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// Next reads the next element, or returns the stream error condition as
// an element named by it when the stream ends with one.
func (r *Raw) Next() *stanza.Element {
	r.t.Helper()
	el, err := r.Dec.Next()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return el
}
