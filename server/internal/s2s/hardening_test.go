package s2s

// Tests from the federation security review: each guards against one of
// its findings (a peer that reads nothing, slots taken by one address,
// queues bounded in bytes, links ended while set up, bidi before the
// stream restart, policy on piggybacked and IDN domains, name
// constraints on XMPP identities, races), each of which failed on the code
// as it was reviewed.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/internal/testdns"
	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// reviewPKI is a CA both sides trust, with certificates for a.test (the
// federation under test) and for peers.
type reviewPKI struct {
	ca   *testCA
	pool *x509.CertPool
}

func newReviewPKI(t testing.TB) *reviewPKI {
	ca := newTestCA(t, "Review CA", nil)
	return &reviewPKI{ca: ca, pool: certPool(ca)}
}

func (p *reviewPKI) leaf(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	l := signCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    names,
	}, p.ca, newCertKey(t))
	return tls.Certificate{Certificate: [][]byte{l.cert.Raw}, PrivateKey: l.key, Leaf: l.cert}
}

// recorder keeps what the federation routed in.
type recorder struct {
	mu      sync.Mutex
	got     []*stanza.Stanza
	bounced int
}

func (r *recorder) FromRemote(_ context.Context, st *stanza.Stanza) {
	r.mu.Lock()
	r.got = append(r.got, st)
	r.mu.Unlock()
}
func (r *recorder) Bounce(context.Context, *stanza.Stanza, *stanza.Error) {
	r.mu.Lock()
	r.bounced++
	r.mu.Unlock()
}
func (r *recorder) bounces() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bounced
}
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// reviewFederation serves a.test on a loopback listener.
func reviewFederation(t testing.TB, p *reviewPKI, mod func(*Config)) (*Federation, string, *recorder) {
	t.Helper()
	cert := p.leaf(t, "a.test")
	tcfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	rec := &recorder{}
	cfg := Config{Domain: "a.test", TLS: func() *tls.Config { return tcfg }, Roots: p.pool, Dialback: NewDialback(),
		Resolver: nowhereDNS{}, Inbound: rec, NegotiateTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	f := New(cfg)
	f.SetPolicy(Policy{Enabled: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; f.Close() })
	return f, ln.Addr().String(), rec
}

// peer is a hand-driven server connecting to the federation.
type peer struct {
	t    testing.TB
	conn net.Conn
	dec  *stream.Decoder
	id   string
}

func (p *peer) send(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatalf("peer write: %v", err)
	}
}

func (p *peer) next() (*stanza.Element, error) { return p.dec.Next() }

func (p *peer) mustNext() *stanza.Element {
	p.t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	return el
}

func header(from, to string) string {
	f := ""
	if from != "" {
		f = ` from='` + from + `'`
	}
	return `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'` + f + ` to='` + to + `' version='1.0'>`
}

// open sends a header and reads the answer's header and features.
func (p *peer) open(from, to string) *stanza.Element {
	p.t.Helper()
	p.send(header(from, to))
	h, err := p.dec.Header()
	if err != nil {
		p.t.Fatalf("peer: stream header: %v", err)
	}
	p.id = h.ID
	return p.mustNext()
}

// dialPeer connects from local (a loopback address, "" for any), opens a
// stream from from, starts TLS with cert, and opens again.
func dialPeer(t testing.TB, addr, local, from string, cert *tls.Certificate) (*peer, *stanza.Element) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	p := &peer{t: t, conn: nc, dec: stream.NewDecoder(nc, stream.Limits{})}
	p.open(from, "a.test")
	p.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if el := p.mustNext(); el.Name != "proceed" {
		t.Fatalf("starttls: %s", el)
	}
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: "a.test"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p.conn, p.dec = tc, stream.NewDecoder(tc, stream.Limits{})
	return p, p.open(from, "a.test")
}

// external authenticates the peer by SASL EXTERNAL; restart: also send
// the new stream header and read the features.
func (p *peer) external(from string, restart bool) {
	p.t.Helper()
	p.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>` + base64.StdEncoding.EncodeToString([]byte(from)) + `</auth>`)
	if el := p.mustNext(); el.Name != "success" {
		p.t.Fatalf("EXTERNAL: %s", el)
	}
	if restart {
		p.open(from, "a.test")
	}
}

func localStanza(t testing.TB, from, to, id string) *stanza.Stanza {
	t.Helper()
	el := stanza.New("message", stanza.NSClient, "from", from, "to", to, "type", "chat", "id", id).
		Append(stanza.New("body", stanza.NSClient).AppendText("hi"))
	st, serr := stanza.Parse(el)
	if serr != nil {
		t.Fatal(serr)
	}
	return st
}

// Guards against (security review): the link writer leaves a write deadline on the connection that
// every later write (a dialback answer on the reader's goroutine) meets
// once it has passed: an established link answers a db:verify or a
// piggybacked db:result more than WriteTimeout after its last stanza went
// out with an i/o timeout, and the link ends.
func TestStaleWriteDeadline(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, _ := reviewFederation(t, pki, func(c *Config) { c.WriteTimeout = 300 * time.Millisecond })
	bcert := pki.leaf(t, "b.test")
	p, feats := dialPeer(t, addr, "", "b.test", &bcert)
	if feats.Child("bidi", nsBidiFeat) == nil {
		t.Fatalf("no bidi offered: %s", feats)
	}
	p.send(`<bidi xmlns='urn:xmpp:bidi'/>`)
	p.external("b.test", true)
	// a.test sends a stanza over the bidirectional link: the writer sets
	// its write deadline.
	sendOverBidi(t, f, p)
	time.Sleep(time.Second) // well past WriteTimeout, idle far from over
	p.send(`<db:verify from='b.test' to='a.test' id='abc'>0123</db:verify>`)
	el, err := p.next()
	if err != nil {
		t.Fatalf("a db:verify on the established link got no answer: %v", err)
	}
	if el.Name != "verify" {
		t.Fatalf("a db:verify on the established link got %s, want a db:verify answer", el)
	}
}

// Guards against (security review): on an inbound link that asked for bidi and authenticated by
// SASL EXTERNAL, the link is usable for our stanzas as soon as <success/>
// is sent, before the stream restart: a stanza routed then is written
// before our new stream header, which breaks the peer's stream.
func TestBidiStanzaBeforeRestart(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, _ := reviewFederation(t, pki, nil)
	bcert := pki.leaf(t, "b.test")
	p, _ := dialPeer(t, addr, "", "b.test", &bcert)
	p.send(`<bidi xmlns='urn:xmpp:bidi'/>`)
	p.external("b.test", false)
	// Between <success/> and the peer's new stream header (one round
	// trip on a real network) the link carries none of our stanzas.
	time.Sleep(200 * time.Millisecond)
	f.mu.Lock()
	early := f.bidi[pair{"a.test", "b.test"}]
	f.mu.Unlock()
	if early != nil {
		t.Fatal("the link carries our stanzas before our new stream header")
	}
	p.send(header("b.test", "a.test"))
	// The peer restarted its parser after <success/>: the next thing it
	// reads must be the new stream header, then the features.
	if _, err := p.dec.Header(); err != nil {
		t.Fatalf("after SASL success the peer read something other than the new stream header: %v", err)
	}
	if el := p.mustNext(); el.Name != "features" {
		t.Fatalf("after the new header: %s, want the features", el)
	}
	sendOverBidi(t, f, p)
}

// Guards against (security review): connections that never authenticate count towards MaxLinks,
// and UnauthPerAddress only limits one address (one IPv6 /64): a few
// addresses (or one IPv6 /48) hold every link slot, and then this server
// can open no link at all, not even for its own users.
func TestUnauthenticatedTakeEveryLink(t *testing.T) {
	pki := newReviewPKI(t)
	const maxLinks = 2 * UnauthPerAddress
	f, addr, _ := reviewFederation(t, pki, func(c *Config) { c.MaxLinks = maxLinks; c.NegotiateTimeout = 20 * time.Second })
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		for range UnauthPerAddress {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			nc, err := d.Dial("tcp", addr)
			if err != nil {
				t.Skipf("cannot dial from %s: %v", src, err)
			}
			t.Cleanup(func() { nc.Close() })
			// Says nothing at all, and holds its slot for NegotiateTimeout.
		}
	}
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.in) == UnauthPerAddress })
	// c.test has no DNS here: the link to it may fail before Route
	// returns (remote-server-not-found); what must not happen is a refusal
	// for want of a link slot.
	if serr := f.Route(context.Background(), localStanza(t, "alice@a.test/x", "bob@c.test", "m1")); serr != nil && serr.Condition == stanza.ResourceConstraint {
		t.Fatalf("alice's message to c.test refused while %d silent, unauthenticated connections hold every link: %s", maxLinks, serr.Text)
	}
}

// Guards against (security review): an inbound dialback check (authoritative) runs under a context
// that Close does not cancel: Close (and so the server's shutdown) waits
// up to ConnectTimeout for a server that does not answer. Any peer can
// start one without authenticating.
func TestCloseWaitsForDialbackCheck(t *testing.T) {
	pki := newReviewPKI(t)
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
			defer nc.Close()
		}
	}()
	dns := testdns.Seam{Addr: func(d string) string { return map[string]string{"b.test": silent.Addr().String()}[d] }}
	f, addr, _ := reviewFederation(t, pki, func(c *Config) {
		c.Resolver = dns
		c.ConnectTimeout = 10 * time.Second
		c.NegotiateTimeout = 20 * time.Second
	})
	p, _ := dialPeer(t, addr, "", "b.test", nil)
	p.send(`<db:result from='b.test' to='a.test'>0123456789</db:result>`)
	time.Sleep(300 * time.Millisecond) // the check is under way, waiting on silent
	start := time.Now()
	f.Close()
	// Ending a link waits up to 2 s for the peer's closing handshake;
	// the check (ConnectTimeout 10 s) must not be waited for.
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %s: it waited for a dialback check of an unauthenticated peer", d.Round(time.Millisecond))
	}
}

// Finding (data race): SetPolicy reads l.remote of every link without
// l.mu, while an inbound link's reader writes it in open().
func TestRaceSetPolicyRemote(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, _ := reviewFederation(t, pki, nil)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	// The admin changes the policy while the link negotiates (this
	// goroutine does no I/O, which the race detector would take as
	// synchronisation).
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.SetPolicy(Policy{Enabled: true, Block: []string{"x.test"}})
			time.Sleep(time.Millisecond)
		}
	}()
	p := &peer{t: t, conn: nc, dec: stream.NewDecoder(nc, stream.Limits{})}
	p.open("b.test", "a.test") // the reader writes l.remote
	time.Sleep(50 * time.Millisecond)
	close(stop)
	<-done
}

// Finding (data race): conn.startTLS swaps c.nc and c.tls without c.wmu,
// while link.fail (Close, SetPolicy, from another goroutine) calls c.end,
// which writes to c.nc.
func TestRaceEndDuringTLS(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, _ := reviewFederation(t, pki, nil)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpnServer}})
	if err := tc.Handshake(); err != nil { // direct TLS; then nothing
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	f.Close()
}

// Guards against (security review): a link's queue is bounded in stanzas (QueueLimit, 10000), not in
// bytes. A peer that stops reading while it asks for large answers (a
// vCard with a photo is up to 256 KiB each) makes this server hold
// QueueLimit times that, and the writer copies all of it into one buffer.
func TestQueueBoundedInBytes(t *testing.T) {
	f := testFederation(t)
	l := newLink(f, dirOut, "a.test", "b.test") // being set up: nothing is written
	big := stanza.New("message", stanza.NSClient, "from", "alice@a.test", "to", "bob@b.test").
		Append(stanza.New("body", stanza.NSClient).AppendText(strings.Repeat("x", 256<<10)))
	st, _ := stanza.Parse(big)
	const bound = 64 << 20 // say, 64 MiB per link
	queued := 0
	for queued <= bound {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		ok := l.enqueue(ctx, st)
		cancel()
		if !ok {
			return // the sender was held back: bounded
		}
		queued += big.Footprint()
	}
	t.Fatalf("one link's queue took %d MiB of stanzas without holding a sender back (QueueLimit %d stanzas)", queued>>20, f.cfg.QueueLimit)
}

// Guards against (security review): the block list reaches only a link's first domain. A domain
// that authenticated later on the same stream (dialback piggybacking,
// here proved by certificate, XEP-0344) and is then blocked keeps its
// stanzas coming.
func TestBlockMissesPiggybackedDomain(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, rec := reviewFederation(t, pki, nil)
	cert := pki.leaf(t, "b.test", "c.test")
	p, _ := dialPeer(t, addr, "", "", &cert) // a stream opened without from
	for _, d := range []string{"b.test", "c.test"} {
		p.send(`<db:result from='` + d + `' to='a.test'>k</db:result>`)
		if el := p.mustNext(); el.Attr("type") != "valid" {
			t.Fatalf("%s: %s", d, el)
		}
	}
	f.SetPolicy(Policy{Enabled: true, Block: []string{"c.test"}})
	time.Sleep(100 * time.Millisecond)
	n := rec.count()
	p.send(`<message from='mallory@c.test' to='alice@a.test' type='chat'><body>still here</body></message>`)
	time.Sleep(300 * time.Millisecond)
	if rec.count() > n {
		t.Fatalf("a stanza from c.test, blocked, was routed in")
	}
}

// Guards against (security review): the federation test's IQ ids are a counter and its answer is
// taken from whichever server sends an IQ result with that id, not only
// from the domain under test.
func TestProbeAnswerFromAnotherDomain(t *testing.T) {
	f := testFederation(t)
	id := "hearth-test-1"
	ch := f.await(id, "good.test")
	defer f.unawait(id)
	el := stanza.New("iq", stanza.NSServer, "type", "result", "id", id, "from", "evil.test", "to", "a.test")
	st, _ := stanza.Parse(el)
	// As if it came from an inbound link authenticated for evil.test,
	// while the admin tests good.test.
	if f.answered(st) {
		got := <-ch
		if got.From != (jid.JID{Domain: "good.test"}) {
			t.Fatalf("the probe of good.test took an answer from %s", got.From)
		}
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// Guards against (security review): when the link ends (the peer closed its stream, Close,
// SetPolicy) while the writer is in a write, fail takes an empty queue;
// the writer then puts what it could not write back on the queue of a
// link that has ended, and nobody bounces or resends it: the stanzas are
// lost without an error to their senders.
func TestLostWhenEndRacesWriter(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, rec := reviewFederation(t, pki, func(c *Config) { c.WriteTimeout = 1500 * time.Millisecond })
	bcert := pki.leaf(t, "b.test")
	p, _ := dialPeer(t, addr, "", "b.test", &bcert)
	p.send(`<bidi xmlns='urn:xmpp:bidi'/>`)
	p.external("b.test", true)
	var l *link
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); l = f.bidi[pair{"a.test", "b.test"}]; return l != nil })
	// The peer stops reading; enough goes its way to fill the socket
	// buffers, so that the writer blocks in its write.
	const n = 300
	body := strings.Repeat("x", 64<<10)
	refused := 0 // a sender that waited QueueWait for room is refused at once
	for i := range n {
		st := localStanza(t, "alice@a.test/x", "bob@b.test", fmt.Sprint(i))
		st.El.Children[0].Children[0].Text = body
		if serr := f.Route(context.Background(), st); serr != nil {
			refused++
		}
	}
	time.Sleep(300 * time.Millisecond)
	// The peer ends its stream: our reader fails the link while the
	// writer is still blocked.
	p.send(`</stream:stream>`)
	time.Sleep(4 * time.Second) // WriteTimeout, and the end's grace
	l.mu.Lock()
	stranded := len(l.q)
	l.mu.Unlock()
	if got := rec.bounces() + int(l.out.Load()) + refused; got != n || stranded > 0 {
		t.Fatalf("%d stanzas routed: %d written, %d bounced, %d refused, %d left on the ended link's queue (lost without an error)", n, l.out.Load(), rec.bounces(), refused, stranded)
	}
}

// Guards against (security review): after authentication an inbound link has no write deadline at
// all until its writer writes (never, on a link that is not
// bidirectional). A peer that sends db:verify requests and reads nothing
// blocks the reader in a write that never ends, holding c.wmu: link.fail
// then blocks in c.end forever, and so do Close (the server's shutdown),
// SetPolicy (the admin's settings call) and the idle watch.
func TestNoWriteDeadlineHangsClose(t *testing.T) {
	pki := newReviewPKI(t)
	f, addr, _ := reviewFederation(t, pki, nil)
	bcert := pki.leaf(t, "b.test")
	p, _ := dialPeer(t, addr, "", "b.test", &bcert)
	p.external("b.test", true) // no bidi: the writer never writes
	_ = p.conn.SetDeadline(time.Time{})
	tc := p.conn
	go func() {
		req := []byte(strings.Repeat(`<db:verify from='b.test' to='a.test' id='abc'>0123</db:verify>`, 1000))
		for range 100 {
			if _, err := tc.Write(req); err != nil {
				return
			}
		}
	}()
	time.Sleep(3 * time.Second) // the answers fill the socket buffers
	closed := make(chan struct{})
	go func() { f.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		tc.Close() // let the test end
		<-closed
		t.Fatal("Close did not return within 10 s: a link's reader is stuck in a write without a deadline")
	}
}

// fakeAuthoritative answers every db:verify valid: the authoritative
// server of any domain whose DNS the attacker controls (a wildcard).
func fakeAuthoritative(t testing.TB, pki *reviewPKI) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cert := pki.leaf(t, "evil.test")
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				tc, dec := fakeTLS(nc, cert, "x1", 0, ``)
				if tc == nil {
					return
				}
				for {
					el, err := dec.Next()
					if err != nil {
						return
					}
					if el.Name == "verify" {
						tc.Write([]byte(`<db:verify from='` + el.Attr("to") + `' to='` + el.Attr("from") + `' id='` + el.Attr("id") + `' type='valid'/>`))
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// fakeTLS is a fake receiving server's side of a stream's start: after
// the peer's opening (and delay) it offers STARTTLS, does TLS with cert,
// and answers the new opening with features; nil if the peer went away.
func fakeTLS(nc net.Conn, cert tls.Certificate, id string, delay time.Duration, features string) (*tls.Conn, *stream.Decoder) {
	dec := stream.NewDecoder(nc, stream.Limits{})
	h, err := dec.Header()
	if err != nil {
		return nil, nil
	}
	time.Sleep(delay)
	open := func(w net.Conn, feats string) {
		w.Write([]byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' id='` + id + `' from='` + h.To + `' version='1.0'><stream:features>` + feats + `</stream:features>`))
	}
	open(nc, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if _, err := dec.Next(); err != nil {
		return nil, nil
	}
	nc.Write([]byte(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`))
	tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}})
	if tc.Handshake() != nil {
		return nil, nil
	}
	dec = stream.NewDecoder(tc, stream.Limits{})
	if _, err := dec.Header(); err != nil {
		return nil, nil
	}
	open(tc, features)
	return tc, dec
}

// wildcardDNS sends every name under evil.test to addr.
func wildcardDNS(addr string) testdns.Seam {
	return testdns.Seam{Addr: func(d string) string {
		if strings.HasSuffix(d, ".evil.test") {
			return addr
		}
		return ""
	}}
}

// Guards against (security review): MaxLinks is one pool for both directions with no share per
// peer once authenticated. From one address, an attacker who controls
// the DNS of one domain authenticates MaxLinks links by dialback for
// d1.evil.test, d2.evil.test, ... (its own server answers the
// db:verify), keeps them (a stanza every IdleTimeout), and this server
// then links with nobody, its own users' messages included.
func TestOneAddressTakesEveryLink(t *testing.T) {
	pki := newReviewPKI(t)
	auth := fakeAuthoritative(t, pki)
	const maxLinks = 12
	f, addr, _ := reviewFederation(t, pki, func(c *Config) { c.MaxLinks = maxLinks; c.Resolver = wildcardDNS(auth) })
	for i := range maxLinks {
		d := fmt.Sprintf("d%d.evil.test", i)
		p, _ := dialPeer(t, addr, "", d, nil)
		p.send(`<db:result from='` + d + `' to='a.test'>whatever</db:result>`)
		if el := p.mustNext(); el.Attr("type") != "valid" {
			t.Fatalf("%s: %s", d, el)
		}
	}
	// As in TestUnauthenticatedTakeEveryLink: c.test has no DNS, but no
	// link slot may be missing.
	if serr := f.Route(context.Background(), localStanza(t, "alice@a.test/x", "bob@c.test", "m1")); serr != nil && serr.Condition == stanza.ResourceConstraint {
		t.Fatalf("after one address authenticated %d links for domains of its own, alice's message to c.test: %s", maxLinks, serr.Text)
	}
}

// Guards against (security review): a certificate authority restricted by name constraints to its
// own domain (a technically constrained intermediate) can still vouch
// for any domain through the otherName identities VerifyPeer reads
// itself (XmppAddr, SRV-ID): crypto/x509 applies name constraints only to
// the names it knows (DNS, IP, email, URI).
func TestNameConstraintsOtherName(t *testing.T) {
	root := newTestCA(t, "Root", nil)
	inter := signCert(t, &x509.Certificate{
		Subject:                     pkix.Name{CommonName: "Corp CA, constrained to corp.test"},
		NotBefore:                   time.Now().Add(-time.Hour),
		NotAfter:                    time.Now().Add(24 * time.Hour),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		KeyUsage:                    x509.KeyUsageCertSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{"corp.test"},
	}, root, newCertKey(t))
	for _, spec := range []leafSpec{
		{dns: []string{"xmpp.corp.test"}, xmpp: []string{"victim.test"}},
		{dns: []string{"xmpp.corp.test"}, srv: []string{"_xmpp-server.victim.test"}},
		{dns: []string{"victim.test"}}, // the control: refused by crypto/x509
	} {
		spec.notAfter = time.Now().Add(12 * time.Hour)
		leaf := newTestLeaf(t, inter, spec)
		leaf.NotBefore = time.Now().Add(-time.Hour)
		if err := VerifyPeer([]*x509.Certificate{leaf, inter.cert}, "victim.test", certPool(root), time.Now()); err == nil {
			t.Errorf("a CA constrained to corp.test vouched for victim.test with %+v", spec)
		}
	}
}

// Guards against (security review): jid.Parse leaves a lowercase A-label domain as it is (its
// ASCII fast path) but turns every other spelling of the same domain
// into U-labels, so one domain has two normal forms, and the policy
// compares strings: a block (or allow) entry in one form misses the
// other, which the blocked server chooses (its stream's from, its
// stanzas' from).
func TestPolicyIDNForms(t *testing.T) {
	blocked := jid.MustParse("Bücher.example").Domain // as the settings store it
	p := Policy{Enabled: true, Block: []string{blocked}}
	for _, spelling := range []string{"bücher.example", "xn--bcher-kva.example"} {
		d := jid.MustParse(spelling).Domain // as a peer's stream or stanza gives it
		if p.check(d) == nil {
			t.Errorf("block %q: %q (from %q) is let through", blocked, d, spelling)
		}
	}
}

// recordingDNS remembers the names it was asked for.
type recordingDNS struct {
	mu    sync.Mutex
	names []string
}

func (d *recordingDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	d.mu.Lock()
	d.names = append(d.names, "_"+service+"._"+proto+"."+name)
	d.mu.Unlock()
	return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (d *recordingDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	d.mu.Lock()
	d.names = append(d.names, host)
	d.mu.Unlock()
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Guards against (security review): a domain with non-ASCII labels (how jid.Parse keeps any IDN
// typed other than in lowercase A-labels) goes to DNS as U-labels; Go's
// resolver refuses such a name as "no such host" without asking, so no
// internationalised domain can be reached (RFC 6120 3.2.1: A-labels).
func TestDialIDN(t *testing.T) {
	dns := &recordingDNS{}
	d := &Dialer{Resolver: dns}
	domain := jid.MustParse("user@Bücher.example").Domain
	_, _, _ = d.Dial(context.Background(), domain)
	for _, n := range dns.names {
		for _, r := range n {
			if r > 0x7f {
				t.Fatalf("DNS was asked for %q: not A-labels", n)
			}
		}
	}
	if _, err := net.DefaultResolver.LookupHost(context.Background(), domain); err != nil {
		t.Logf("the system resolver on %q: %v", domain, err)
	}
}

// fakeReceiving is a slow server of *.evil.test that a.test connects to:
// it waits before it answers, then takes a.test's dialback key, says it
// is valid, and keeps the link open, saying nothing.
func fakeReceiving(t testing.TB, pki *reviewPKI, delay time.Duration) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { ln.Close(); close(stop); conns.Wait() }) }
	t.Cleanup(end)
	cert := pki.leaf(t, "x.evil.test")
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer nc.Close()
				go func() { <-stop; nc.Close() }()
				tc, dec := fakeTLS(nc, cert, "s1", delay, `<dialback xmlns='urn:xmpp:features:dialback'/>`)
				if tc == nil {
					return
				}
				for {
					el, err := dec.Next()
					if err != nil {
						return
					}
					if el.Name == "result" {
						tc.Write([]byte(`<db:result from='` + el.Attr("to") + `' to='` + el.Attr("from") + `' type='valid'/>`))
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), end
}

// slowDNS answers after a while.
type slowDNS struct {
	Resolver
	delay time.Duration
}

func (d slowDNS) LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error) {
	time.Sleep(d.delay)
	return d.Resolver.LookupSRV(ctx, service, proto, name)
}

// Guards against (security review): link.fail on an outbound link that is still being set up
// (SetPolicy: the admin turns federation off or blocks the domain) marks
// it ended and forgets it, but connect goes on: it sets l.c after fail
// looked at it, finishes the set-up with the domain no longer allowed,
// and runOut reads that connection with no deadline, a link no map
// holds and nothing ends. Close then waits for it for ever.
func TestZombieOutboundAfterPolicy(t *testing.T) {
	pki := newReviewPKI(t)
	srv, endPeer := fakeReceiving(t, pki, 0)
	f, _, _ := reviewFederation(t, pki, func(c *Config) { c.Resolver = slowDNS{wildcardDNS(srv), 500 * time.Millisecond} })
	if serr := f.Route(context.Background(), localStanza(t, "alice@a.test/x", "bob@x.evil.test", "m1")); serr != nil {
		t.Fatal(serr)
	}
	time.Sleep(200 * time.Millisecond) // looking up DNS (a slow resolver, a far server)
	f.SetPolicy(Policy{Enabled: false})
	time.Sleep(1500 * time.Millisecond) // the set-up completes anyway
	closed := make(chan struct{})
	go func() { f.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(8 * time.Second):
		t.Errorf("Close did not return: a link federation-off ended during its set-up is still connected and read")
		endPeer() // the peer hangs up: now Close returns
		<-closed
	}
}

// sendOverBidi waits for the peer's bidirectional link from a.test to
// b.test, routes a message from a.test over it and checks the peer gets it.
func sendOverBidi(t *testing.T, f *Federation, p *peer) {
	t.Helper()
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.bidi[pair{"a.test", "b.test"}] != nil })
	if serr := f.Route(context.Background(), localStanza(t, "alice@a.test/x", "bob@b.test", "m1")); serr != nil {
		t.Fatal(serr)
	}
	if el := p.mustNext(); el.Name != "message" {
		t.Fatalf("got %s, want the message", el)
	}
}
