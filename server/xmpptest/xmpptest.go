// Package xmpptest is the test harness: a real Hearth server on 127.0.0.1:0
// with a temporary database, real clients that speak STARTTLS and SCRAM,
// and transcripts compared as canonical XML.
package xmpptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/certs"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Server is a running server for one test.
type Server struct {
	Domain   string
	Addr     string // STARTTLS listener
	TLSAddr  string // direct TLS listener
	DataDir  string
	CertFile string // the home CA's certificate: what clients trust
	DB       *storage.DB
	Admin    admin.API
	Roots    *x509.CertPool
	// Server is the server itself.
	Server *server.Server
	// TLS is the server's TLS configuration (its certificates).
	TLS func() *tls.Config
}

// Option changes the server's configuration.
type Option func(*server.Config)

// Start runs a server for hearth.test until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return StartAt(t, "hearth.test", opts...)
}

// StartAt runs a server for domain until the test ends. Its federation
// listener opens on 127.0.0.1 when federation.enabled is set (S2SAddr).
func StartAt(t testing.TB, domain string, opts ...Option) *Server {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := certs.Start(ctx, certs.Config{DataDir: dir, Domain: domain, Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	level := slog.LevelError
	if os.Getenv("HEARTH_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	cfg := server.Config{Domain: domain, DataDir: dir, TLS: cm.TLSConfig,
		Certificates: func() admin.Certificates { return admin.CertificatesOf(cm, "") },
		Log:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	s2s := func() (net.Listener, error) { return listenLoopback() }
	go func() { done <- srv.Serve(ctx, server.Listeners{C2S: ln, C2STLS: tln, S2S: s2s}) }()
	select {
	case <-srv.Serving():
	case err := <-done:
		t.Fatalf("server: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("server did not stop within 10s")
		}
		db.Close()
		cm.Close()
	})
	pem, err := os.ReadFile(cm.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &Server{Domain: domain, Addr: ln.Addr().String(), TLSAddr: tln.Addr().String(), DataDir: dir,
		CertFile: cm.CAFile(), DB: db, Admin: srv.Admin(), Roots: roots, Server: srv, TLS: cfg.TLS}
}

// AddUser creates an account through the admin API.
func (s *Server) AddUser(t testing.TB, local, password string) {
	t.Helper()
	if err := s.Admin.AddUser(context.Background(), local+"@"+s.Domain, password); err != nil {
		t.Fatalf("add user %s: %v", local, err)
	}
}

// WaitOffline waits up to five seconds for user to have n offline messages
// stored and fails the test if they do not: a delivered message is deleted
// once it was written to the client, a moment after the client may have
// read it.
func (s *Server) WaitOffline(t testing.TB, user string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.DB.CountOffline(context.Background(), user)
		if err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d offline messages stored, want %d", user, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TLSConfig is a client configuration that trusts the server's certificate.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{ServerName: s.Domain, RootCAs: s.Roots}
}

// Client is a test client on a real socket.
type Client struct {
	t       testing.TB
	Name    string
	JID     string
	conn    net.Conn
	dec     *stream.Decoder
	in      chan *stanza.Element
	errc    chan error
	pending []*stanza.Element
	seq     int
	stopped atomic.Bool
	gate    *Gate
}

// Raw is an unnegotiated connection for bad-input tests.
func (s *Server) Raw(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Login connects over STARTTLS, authenticates with SCRAM-SHA-256 and binds
// the resource.
func (s *Server) Login(t testing.TB, local, password, resource string) *Client {
	t.Helper()
	return LoginTo(t, s.Endpoint(), local, password, resource)
}

// Dial is Login without a test, returning the error.
func (s *Server) Dial(local, password, resource string) (*Client, error) {
	return s.DialFrom("", local, password, resource)
}

// DialFrom is Dial from the local address from ("" for any): tests tell
// clients apart by address with 127.0.0.2, 127.0.0.3, ...
func (s *Server) DialFrom(from, local, password, resource string) (*Client, error) {
	return DialTo(s.Endpoint(), from, local, password, resource)
}

// Authenticate connects from the local address from ("" for any), takes
// the stream through STARTTLS and SCRAM-SHA-256 and opens the stream after
// authentication; the client binds a resource with Bind.
func (s *Server) Authenticate(from, local, password string) (*Client, error) {
	return AuthenticateTo(s.Endpoint(), from, local, password)
}

// Endpoint is where the server's clients connect (STARTTLS).
func (s *Server) Endpoint() Endpoint {
	return Endpoint{Addr: s.Addr, Domain: s.Domain, TLS: s.TLSConfig()}
}

// Endpoint is where a client connects: the STARTTLS port of any XMPP
// server, Hearth or a peer (Peer.Endpoint).
type Endpoint struct {
	Addr   string      // host:port
	Domain string      // the stream's 'to', and the name the certificate is checked for
	TLS    *tls.Config // nil: the system's roots; ServerName is set to Domain if empty
}

// LoginTo connects to ep over STARTTLS, authenticates with the best SCRAM
// it offers (SCRAM-SHA-256, else SCRAM-SHA-1) and binds the resource; the
// client is closed when the test ends.
func LoginTo(t testing.TB, ep Endpoint, local, password, resource string) *Client {
	t.Helper()
	c, err := DialTo(ep, "", local, password, resource)
	if err != nil {
		t.Fatalf("login %s@%s: %v", local, ep.Domain, err)
	}
	c.t = t
	c.Name = local
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// DialTo is LoginTo without a test, from the local address from ("" for
// any), returning the error.
func DialTo(ep Endpoint, from, local, password, resource string) (*Client, error) {
	c, err := AuthenticateTo(ep, from, local, password)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(resource); err != nil {
		return nil, err
	}
	return c, nil
}

// AuthenticateTo connects to ep from the local address from ("" for
// any), takes the stream through STARTTLS and SCRAM (SCRAM-SHA-256 if
// offered, else SCRAM-SHA-1) and opens the stream after authentication;
// the client binds a resource with Bind.
func AuthenticateTo(ep Endpoint, from, local, password string) (*Client, error) {
	c, features, err := startTLS(ep, from)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Client, error) { c.conn.Close(); return nil, err }
	mech, err := scramMechanism(features)
	if err != nil {
		return fail(err)
	}
	if err := c.scram(mech, local, password); err != nil {
		return fail(err)
	}
	c.dec.Reset(nil)
	if _, err := c.open(ep.Domain); err != nil {
		return fail(err)
	}
	return c, nil
}

// startTLS connects to ep from the local address from ("" for any) and
// takes the stream through STARTTLS, returning the features offered
// after it.
func startTLS(ep Endpoint, from string) (*Client, *stanza.Element, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", ep.Addr)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &Client{conn: nc}
	fail := func(err error) (*Client, *stanza.Element, error) { nc.Close(); return nil, nil, err }
	c.dec = stream.NewDecoder(nc, stream.Limits{MaxStanza: 1 << 20})
	if _, err := c.open(ep.Domain); err != nil {
		return fail(err)
	}
	c.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if el, err := c.dec.Next(); err != nil || el.Name != "proceed" {
		return fail(fmt.Errorf("starttls: %v %v", el, err))
	}
	cfg := ep.TLS.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.Domain
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return fail(err)
	}
	c.conn = tc
	c.gate = NewGate(tc)
	c.dec = stream.NewDecoder(c.gate, stream.Limits{MaxStanza: 1 << 20})
	features, err := c.open(ep.Domain)
	if err != nil {
		return fail(err)
	}
	return c, features, nil
}

// scramMechanisms are the SASL mechanisms the client speaks, best first.
var scramMechanisms = []struct {
	name string
	hash scram.HashGeneratorFcn
}{{"SCRAM-SHA-256", scram.SHA256}, {"SCRAM-SHA-1", scram.SHA1}}

// scramMechanism picks the best mechanism the server offers in features.
func scramMechanism(features *stanza.Element) (string, error) {
	var offered []string
	if m := features.Child("mechanisms", stanza.NSSASL); m != nil {
		for _, el := range m.Elements() {
			if el.Name == "mechanism" {
				offered = append(offered, strings.TrimSpace(el.Content()))
			}
		}
	}
	for _, m := range scramMechanisms {
		if slices.Contains(offered, m.name) {
			return m.name, nil
		}
	}
	return "", fmt.Errorf("the server offers none of SCRAM-SHA-256 and SCRAM-SHA-1, only %q", offered)
}

// Closed waits up to d for the server to end the stream of a client that
// has not bound yet (see Authenticate), without sending anything, and
// reports whether it did.
func (c *Client) Closed(d time.Duration) bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	defer c.conn.SetReadDeadline(time.Time{})
	for {
		el, err := c.dec.Next()
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		if el.Name == "error" && el.NS == stanza.NSStream {
			return true
		}
	}
}

// Bind binds the resource on an authenticated client ("" for one the
// server picks) and starts reading its stanzas. On failure the connection
// is closed and the error says what the server sent.
func (c *Client) Bind(resource string) error {
	res := ""
	if resource != "" {
		res = "<resource>" + resource + "</resource>"
	}
	c.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` + res + `</bind></iq>`)
	el, err := c.dec.Next()
	if err != nil {
		c.conn.Close()
		return err
	}
	if b := el.ChildNS(stanza.NSBind); b != nil {
		c.JID = b.ChildText("jid", "")
	}
	if c.JID == "" {
		c.conn.Close()
		return fmt.Errorf("bind failed: %s", el)
	}
	_ = c.conn.SetDeadline(time.Time{})
	c.in = make(chan *stanza.Element, 1024)
	c.errc = make(chan error, 1)
	go c.read()
	return nil
}

// open sends a stream header and reads the server's header and features.
func (c *Client) open(domain string) (*stanza.Element, error) {
	c.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` + domain + `' version='1.0'>`)
	if _, err := c.dec.Header(); err != nil {
		return nil, err
	}
	f, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if f.Name != "features" {
		return nil, fmt.Errorf("expected features, got %s", f)
	}
	return f, nil
}

func (c *Client) scram(mechanism, user, pass string) error {
	var hash scram.HashGeneratorFcn
	for _, m := range scramMechanisms {
		if m.name == mechanism {
			hash = m.hash
		}
	}
	cl, err := hash.NewClient(user, pass, "")
	if err != nil {
		return err
	}
	conv := cl.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return err
	}
	c.write(`<auth xmlns='` + stanza.NSSASL + `' mechanism='` + mechanism + `'>` + base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	for {
		el, err := c.dec.Next()
		if err != nil {
			return err
		}
		data, _ := base64.StdEncoding.DecodeString(el.Content())
		switch el.Name {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				return err
			}
			c.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				return fmt.Errorf("server signature: %w", err)
			}
			return nil
		default:
			return fmt.Errorf("sasl: %s", el)
		}
	}
}

func (c *Client) write(s string) {
	if _, err := c.conn.Write([]byte(s)); err != nil && c.t != nil {
		c.t.Fatalf("%s write: %v", c.Name, err)
	}
}

func (c *Client) read() {
	for !c.stopped.Load() {
		el, err := c.dec.Next()
		if err != nil {
			c.errc <- err
			close(c.in)
			return
		}
		c.in <- el
	}
}

// Send writes raw XML.
func (c *Client) Send(xml string) { c.t.Helper(); c.write(xml) }

// TrySend writes raw XML and returns the error instead of failing: for a
// client whose stream the server may have ended.
func (c *Client) TrySend(xml string) error {
	_, err := c.conn.Write([]byte(xml))
	return err
}

// Close ends the stream and waits for the server's closing tag.
func (c *Client) Close() {
	c.write(stream.Close)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				c.conn.Close()
				return
			}
		case <-deadline:
			c.t.Fatalf("%s: server did not close the stream", c.Name)
		}
	}
}

// Next returns the next stanza (or fails after 5 s).
func (c *Client) Next() *stanza.Element {
	c.t.Helper()
	return c.NextWithin(5 * time.Second)
}

// NextWithin returns the next stanza, or fails after d.
func (c *Client) NextWithin(d time.Duration) *stanza.Element {
	c.t.Helper()
	if len(c.pending) > 0 {
		el := c.pending[0]
		c.pending = c.pending[1:]
		return el
	}
	select {
	case el, ok := <-c.in:
		if !ok {
			c.t.Fatalf("%s: stream ended: %v", c.Name, <-c.errc)
		}
		return el
	case <-time.After(d):
		c.t.Fatalf("%s: nothing received in %s", c.Name, d)
	}
	return nil
}

// StreamEnd waits for the stream to end and returns the stream error
// condition, if one was sent.
func (c *Client) StreamEnd() string {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case el, ok := <-c.in:
			if !ok {
				return ""
			}
			if el.Name == "error" && el.NS == stanza.NSStream {
				if f := el.FirstElement(); f != nil {
					return f.Name
				}
			}
		case <-deadline:
			c.t.Fatalf("%s: stream did not end", c.Name)
			return ""
		}
	}
}

// Expect waits for a stanza matching want (canonical XML; an attribute
// value of "*" matches any value). Stanzas that arrive first and do not
// match are kept for later expectations, so independent flows may
// interleave; Sync checks that none are left over.
func (c *Client) Expect(want string) *stanza.Element {
	c.t.Helper()
	return c.expect(want, Match, 5*time.Second)
}

// ExpectLike is Expect with MatchLike, for real servers that add
// attributes and children of their own (id, xml:lang, delay), waiting up
// to d.
func (c *Client) ExpectLike(want string, d time.Duration) *stanza.Element {
	c.t.Helper()
	return c.expect(want, MatchLike, d)
}

func (c *Client) expect(want string, match func(want, got *stanza.Element) bool, d time.Duration) *stanza.Element {
	c.t.Helper()
	w, err := stream.Unmarshal([]byte(want))
	if err != nil {
		c.t.Fatalf("bad expectation %q: %v", want, err)
	}
	for i, el := range c.pending {
		if match(w, el) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return el
		}
	}
	deadline := time.After(d)
	for {
		select {
		case el, ok := <-c.in:
			if !ok {
				c.t.Fatalf("%s: stream ended while expecting %s: %v (pending: %s)", c.Name, want, <-c.errc, c.dump())
			}
			if match(w, el) {
				return el
			}
			c.pending = append(c.pending, el)
		case <-deadline:
			c.t.Fatalf("%s: expected %s\nreceived instead: %s", c.Name, Canonical(w), c.dump())
			return nil
		}
	}
}

func (c *Client) dump() string {
	if len(c.pending) == 0 {
		return "(nothing)"
	}
	var parts []string
	for _, p := range c.pending {
		parts = append(parts, Canonical(p))
	}
	return strings.Join(parts, "\n  ")
}

// Quiet fails the test if a stanza arrives within d (or one is pending).
func (c *Client) Quiet(d time.Duration) {
	c.t.Helper()
	if len(c.pending) > 0 {
		c.t.Fatalf("%s: unexpected stanzas: %s", c.Name, c.dump())
	}
	select {
	case el, ok := <-c.in:
		if ok {
			c.t.Fatalf("%s: got %s, want nothing yet", c.Name, el)
		}
	case <-time.After(d):
	}
}

// Sync is a barrier: it pings the server and fails if anything other than
// the answer (and what is still unmatched) arrived before it.
func (c *Client) Sync() {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("sync%d", c.seq)
	c.write(`<iq type='get' id='` + id + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	c.Expect(`<iq type='result' id='` + id + `' from='*' to='*'/>`)
	if len(c.pending) > 0 {
		c.t.Fatalf("%s: unexpected stanzas: %s", c.Name, c.dump())
	}
}

// Stop makes the client stop reading its socket (a slow client).
func (c *Client) Stop() {
	c.stopped.Store(true)
}

// Pause makes the client stop reading its socket until Resume, so that
// the server's writes fill the buffers between them and then block (a
// phone gone quiet).
func (c *Client) Pause() { c.gate.Pause() }

// Resume reads at full speed again.
func (c *Client) Resume() { c.gate.Resume() }

// Throttle makes the client read at most rate bytes a second (a slow
// link).
func (c *Client) Throttle(rate int) { c.gate.Throttle(rate) }

// Collect returns everything the client receives until the stream ends or
// nothing came for quiet (what Expect left pending first).
func (c *Client) Collect(quiet time.Duration) []*stanza.Element {
	var out []*stanza.Element
	c.Receive(quiet, func(el *stanza.Element) { out = append(out, el) })
	return out
}

// Receive hands fn everything the client receives until the stream ends or
// nothing came for quiet (what Expect left pending first), keeping
// nothing.
func (c *Client) Receive(quiet time.Duration, fn func(*stanza.Element)) {
	for _, el := range c.pending {
		fn(el)
	}
	c.pending = nil
	for {
		select {
		case el, ok := <-c.in:
			if !ok {
				return
			}
			fn(el)
		case <-time.After(quiet):
			return
		}
	}
}

// Use makes failures of c report to t (a subtest) until the returned
// function is called.
func (c *Client) Use(t testing.TB) (restore func()) {
	old := c.t
	c.t = t
	return func() { c.t = old }
}

// Ping is a barrier that, unlike Sync, leaves other stanzas pending: when
// it returns, everything the client sent before has been processed.
func (c *Client) Ping() {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("ping%d", c.seq)
	c.write(`<iq type='get' id='` + id + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	c.Expect(`<iq type='result' id='` + id + `' from='*' to='*'/>`)
}

// Abort drops the connection without a closing handshake.
func (c *Client) Abort() { c.conn.Close() }

// listenLoopback listens on 127.0.0.1 and, with the same port, on ::1
// where the machine has it: peers that find a server by the name
// localhost may try either address first, and some try only one.
func listenLoopback() (net.Listener, error) {
	v4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(v4.Addr().String())
	v6, err := net.Listen("tcp", net.JoinHostPort("::1", port))
	if err != nil {
		return v4, nil // no IPv6 loopback here
	}
	d := &dualListener{Listener: v4, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range []net.Listener{v4, v6} {
		d.all = append(d.all, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case d.conns <- c:
				case <-d.done:
					c.Close()
					return
				}
			}
		}()
	}
	return d, nil
}

// dualListener accepts from several listeners on one port; Addr is the
// IPv4 one's.
type dualListener struct {
	net.Listener
	all   []net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (d *dualListener) Accept() (net.Conn, error) {
	select {
	case c := <-d.conns:
		return c, nil
	case <-d.done:
		return nil, net.ErrClosed
	}
}

func (d *dualListener) Close() error {
	d.once.Do(func() {
		close(d.done)
		for _, ln := range d.all {
			ln.Close()
		}
	})
	return nil
}
