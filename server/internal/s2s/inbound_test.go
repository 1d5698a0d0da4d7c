package s2s

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// nowhereDNS knows no name: a test federation never reaches out.
type nowhereDNS struct{}

func (nowhereDNS) LookupSRV(_ context.Context, _, _, name string) (string, []*net.SRV, error) {
	return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (nowhereDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// sink takes what a federation routes and drops it.
type sink struct{}

func (sink) FromRemote(context.Context, *stanza.Stanza)            {}
func (sink) Bounce(context.Context, *stanza.Stanza, *stanza.Error) {}

// testFederation is a federation for a.test with a self-signed
// certificate, on, that can reach no other server.
func testFederation(t testing.TB) *Federation {
	ca := newTestCA(t, "a.test", nil)
	cert := tls.Certificate{Certificate: [][]byte{ca.cert.Raw}, PrivateKey: ca.key}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	f := New(Config{Domain: "a.test", TLS: func() *tls.Config { return cfg }, Dialback: NewDialback(),
		Resolver: nowhereDNS{}, Inbound: sink{}, NegotiateTimeout: 2 * time.Second, ConnectTimeout: time.Second})
	f.SetPolicy(Policy{Enabled: true})
	t.Cleanup(f.Close)
	return f
}

const testHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>`

// runInbound runs one inbound link over a pipe: the peer opens a stream,
// starts TLS, opens again and sends data; it returns what the link sent
// after TLS, once the link has ended.
func runInbound(t testing.TB, f *Federation, data []byte) string {
	peer, ours := net.Pipe()
	l := newLink(f, dirIn, "", "")
	f.mu.Lock()
	f.in[l] = struct{}{}
	f.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		l.runIn(ours)
	}()
	got := make(chan string, 1)
	go func() {
		defer peer.Close()
		_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := peer.Write([]byte(testHeader + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)); err != nil {
			got <- ""
			return
		}
		dec := stream.NewDecoder(peer, stream.Limits{})
		if _, err := dec.Header(); err != nil {
			got <- ""
			return
		}
		for {
			el, err := dec.Next()
			if err != nil {
				got <- ""
				return
			}
			if el.Name == "proceed" {
				break
			}
		}
		tc := tls.Client(peer, &tls.Config{InsecureSkipVerify: true})
		go func() {
			_, _ = tc.Write([]byte(testHeader))
			_, _ = tc.Write(data)
			_ = tc.CloseWrite()
		}()
		b, _ := io.ReadAll(tc)
		got <- string(b)
	}()
	select {
	case <-ended:
	case <-time.After(15 * time.Second):
		t.Fatalf("the inbound link did not end on input %q", data)
	}
	peer.Close()
	return <-got
}

// TestInboundNeedsAuthentication: a stanza before authentication ends the
// stream with not-authorized; a stanza from a domain the peer proved by
// dialback cannot be had without the key.
func TestInboundNeedsAuthentication(t *testing.T) {
	f := testFederation(t)
	out := runInbound(t, f, []byte(`<message from='bob@b.test' to='alice@a.test'><body>hi</body></message>`))
	if !strings.Contains(out, "not-authorized") {
		t.Errorf("a stanza before authentication: got %q, want a not-authorized stream error", out)
	}
	out = runInbound(t, f, []byte(`<db:result from='b.test' to='a.test'>0123</db:result>`))
	if !strings.Contains(out, `type="error"`) || !strings.Contains(out, "remote-connection-failed") {
		t.Errorf("a key for a domain whose server cannot be reached: got %q", out)
	}
}

// FuzzInbound feeds what a peer sends after TLS to an inbound link: it
// must never panic or hang, whatever it gets.
func FuzzInbound(f *testing.F) {
	for _, s := range []string{
		`<db:result from='b.test' to='a.test'>abcd</db:result>`,
		`<db:result from='c.test' to='a.test'>abcd</db:result>`,
		`<db:result from='b.test' to='x.test'>abcd</db:result>`,
		`<db:verify from='b.test' to='a.test' id='x'>k</db:verify>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>!!!</auth>`,
		`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`,
		`<bidi xmlns='urn:xmpp:bidi'/><message from='bob@b.test' to='alice@a.test'/>`,
		`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
		`<stream:error><host-gone xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
		`</stream:stream>`,
		`<iq type='get' id='1'/>`,
		`<foo xmlns='urn:example'/>`,
		"<<<>>>",
	} {
		f.Add([]byte(s))
	}
	fed := testFederation(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		runInbound(t, fed, data)
	})
}

// TestBucket: a link may send its burst at once; past it, each stanza
// waits until the rate has earned its size.
func TestBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := bucket{rate: 1000, burst: 4000, tokens: 4000, last: start}
		b.take(context.Background(), 4000)
		if d := time.Since(start); d != 0 {
			t.Fatalf("the burst waited %s", d)
		}
		b.take(context.Background(), 500)
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Fatalf("500 bytes past the burst at 1000 bytes/s waited %s, want 500ms", d)
		}
		time.Sleep(10 * time.Second) // the bucket fills up to its burst, no more
		mid := time.Now()
		b.take(context.Background(), 5000)
		if d := time.Since(mid); d != time.Second {
			t.Fatalf("5000 bytes after a long pause waited %s, want 1s", d)
		}
	})
}

// TestInboundPerAddress: an address may have UnauthPerAddress connections
// negotiating at once; the next one is refused with resource-constraint.
func TestInboundPerAddress(t *testing.T) {
	f := testFederation(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.Serve(t.Context(), ln)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for range UnauthPerAddress {
		c := dial()
		// Each is counted once the server has read its opening.
		if _, err := c.Write([]byte(testHeader)); err != nil {
			t.Fatal(err)
		}
		dec := stream.NewDecoder(c, stream.Limits{})
		if _, err := dec.Header(); err != nil {
			t.Fatal(err)
		}
	}
	c := dial()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), "resource-constraint") {
		t.Fatalf("connection %d from one address got %q, want a resource-constraint stream error", UnauthPerAddress+1, b)
	}
}
