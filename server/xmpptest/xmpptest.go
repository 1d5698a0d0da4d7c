// Package xmpptest is the test harness: a real Hearth server on 127.0.0.1:0
// with a temporary database, real clients that speak STARTTLS and SCRAM,
// and transcripts compared as canonical XML.
package xmpptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hearth/certs"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/settings"
	"hearth/storage"
)

// Server is a running server for one test.
type Server struct {
	Domain   string
	Addr     string // STARTTLS listener
	TLSAddr  string // direct TLS listener
	HTTPAddr string // HTTPS listener (file upload)
	DataDir  string
	CertFile string // the home CA's certificate: what clients trust
	DB       *storage.DB
	Admin    admin.API
	Roots    *x509.CertPool
	// Server is the server itself.
	Server *server.Server
	// TLS is the server's TLS configuration (its certificates).
	TLS func() *tls.Config

	stop func() // stops the server and closes its database, once
}

// Option changes the server's configuration.
type Option func(*server.Config)

// Start runs a server for hearth.test until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return StartAt(t, "hearth.test", opts...)
}

// StartFamily is Start with the family room as a new server has it
// (muc.family_room's default), which Start switches off.
func StartFamily(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return startIn(t, "hearth.test", t.TempDir(), false, opts...)
}

// StartWithoutHTTPS runs a server for hearth.test with no HTTPS listener
// (--http off): what needs one (file upload, WebSocket) is unavailable.
func StartWithoutHTTPS(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return startWith(t, "hearth.test", t.TempDir(), true, false, opts...)
}

// StartAt runs a server for domain until the test ends. Its federation
// listener opens on 127.0.0.1 when federation.enabled is set (S2SAddr).
func StartAt(t testing.TB, domain string, opts ...Option) *Server {
	t.Helper()
	return startIn(t, domain, t.TempDir(), true, opts...)
}

// Restart stops the server and starts a new one on the same data
// directory, as a restart of the process does: clients of the old one
// are cut off.
func (s *Server) Restart(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s.stop()
	return startIn(t, s.Domain, s.DataDir, false, opts...)
}

// startIn runs a server on dir; on a new one (first), the family room
// (muc.family_room, on by default) is switched off first, so that a test
// sees no room nor bookmark it did not ask for (the family room's tests
// set it), and so is archiving in new chat rooms
// (muc.archive_by_default): a room's test turns it on in the room's form.
func startIn(t testing.TB, domain, dir string, first bool, opts ...Option) *Server {
	t.Helper()
	return startWith(t, domain, dir, first, true, opts...)
}

func startWith(t testing.TB, domain, dir string, first, https bool, opts ...Option) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := certs.Start(ctx, certs.Config{DataDir: dir, Domain: domain, Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	if first {
		for _, kv := range [][2]string{{settings.KeyFamilyRoom, ""}, {settings.KeyMUCArchive, "false"}} {
			if err := db.SetSetting(ctx, kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
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
	var hln net.Listener
	httpAddr := ""
	if https {
		if hln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		httpAddr = hln.Addr().String()
	}
	done := make(chan error, 1)
	s2s := func() (net.Listener, error) { return listenLoopback() }
	// External components (components.listen) connect on a port of their
	// own on loopback, whatever address the setting names (ComponentAddr).
	comp := func(string) (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	go func() {
		done <- srv.Serve(ctx, server.Listeners{C2S: ln, C2STLS: tln, S2S: s2s, HTTP: hln, Component: comp})
	}()
	select {
	case <-srv.Serving():
	case err := <-done:
		t.Fatalf("server: %v", err)
	}
	stop := sync.OnceFunc(func() {
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
	t.Cleanup(stop)
	pem, err := os.ReadFile(cm.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &Server{Domain: domain, Addr: ln.Addr().String(), TLSAddr: tln.Addr().String(), HTTPAddr: httpAddr, DataDir: dir,
		CertFile: cm.CAFile(), DB: db, Admin: srv.Admin(), Roots: roots, Server: srv, TLS: cfg.TLS, stop: stop}
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

// Closed waits up to d for the server to end the stream of a client that
// has not bound yet (see Authenticate), without sending anything, and
// reports whether it did.
func (c *Client) Closed(d time.Duration) bool {
	if c.in != nil {
		panic("xmpptest: Closed is for a stream that has not bound; a bound one has StreamEnd")
	}
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
