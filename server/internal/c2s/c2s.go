// Package c2s implements client-to-server streams (RFC 6120): the accept
// loop, stream negotiation (STARTTLS, SASL, resource binding) and the bound
// session's reader and writer.
package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Accounts gives the stored credentials of a user.
type Accounts interface {
	User(ctx context.Context, name string) (storage.User, error)
}

// Lost takes the stanzas a session queued but never wrote, because it was
// closed or too slow (offline storage keeps the messages).
type Lost interface {
	Lost(ctx context.Context, s *router.Session, lost []*stanza.Element)
}

// Stage is when a stream feature is offered (RFC 6120 4.3.2).
type Stage uint8

// Stages.
const (
	// BeforeAuth: with the SASL mechanisms, on the encrypted stream.
	BeforeAuth Stage = iota
	// AfterAuth: with resource binding, after the SASL restart (roster
	// versioning, stream management).
	AfterAuth
)

// Feature is a stream feature a module offers.
type Feature struct {
	Stage   Stage
	Element *stanza.Element
}

// ElementHandler handles a top-level element that is not a stanza on a
// bound stream, such as stream management's <enable/>, <r/> and <a/>
// (XEP-0198). A *stream.Error it returns ends the stream with that error.
type ElementHandler func(ctx context.Context, s *Stream, el *stanza.Element) error

// Element registers an ElementHandler for the elements of one name.
type Element struct {
	Name, NS string
	Handle   ElementHandler
}

// Config holds the c2s settings; zero values get the Default constants.
type Config struct {
	Domain string
	// TLS returns the server's TLS configuration (reloaded certificates).
	TLS func() *tls.Config
	// Router routes what bound sessions send.
	Router *router.Router
	// Accounts has the credentials SASL checks.
	Accounts Accounts
	// Lost keeps what closed sessions never wrote; may be nil.
	Lost Lost
	// Features are the stream features modules offer.
	Features []Feature
	// Elements are the handlers of non-stanza elements on bound streams;
	// a second handler for the same element panics in New.
	Elements []Element
	// Limits bound what a client may send once it has logged in; before,
	// stream.PreAuth applies.
	Limits stream.Limits
	// Conns bounds connections per address and those not logged in yet.
	Conns ConnLimits
	// Quota bounds the resources an account may bind at once; nil: the
	// defaults.
	Quota *quota.Limits
	// AuthTimeout closes streams that are not bound in time.
	AuthTimeout time.Duration
	// IdleTimeout is how long a bound stream may be silent before the
	// server pings it (XEP-0199); it is closed if the ping goes unanswered
	// for as long again.
	IdleTimeout time.Duration
	// QueueLimit is how many stanzas may wait for a slow client.
	QueueLimit int
	// QueueBytes is how many bytes may wait for a slow client.
	QueueBytes int
	// WriteTimeout bounds one socket write.
	WriteTimeout time.Duration
	// AuthFailures is how many failed authentications an address or an
	// account may have in AuthWindow before it is slowed down: the address
	// must wait before each further attempt, the account's wrong answers
	// are held back (see guard).
	AuthFailures int
	AuthWindow   time.Duration
	Log          *slog.Logger
}

// Defaults of Config; each is written down here only.
const (
	// TLSHandshakeTimeout bounds a TLS handshake, and HeaderTimeout the
	// wait for a connection's first stream header, inside AuthTimeout.
	TLSHandshakeTimeout = 10 * time.Second
	HeaderTimeout       = 10 * time.Second
	DefaultAuthTimeout  = 30 * time.Second
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultQueueLimit   = 4096
	DefaultQueueBytes   = 4 << 20
	DefaultWriteTimeout = 30 * time.Second
	DefaultAuthFailures = 5
	DefaultAuthWindow   = time.Hour
	// ShutdownGrace is how long a stopping server lets a session's
	// writer flush what is queued to a client before it cuts the client
	// off (what is left goes to offline storage).
	ShutdownGrace = 2 * time.Second
	// DrainTimeout bounds how long an ended session keeps reading (and
	// discarding) what its client sends while the client has not yet
	// taken what was written to it (a client that stopped reading):
	// closing the socket earlier would let the kernel reset the
	// connection at the client's next word and drop what it still held.
	// A stopping server waits ShutdownGrace at most.
	DrainTimeout = 30 * time.Second
)

func (c *Config) defaults() {
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = DefaultAuthFailures
	}
	if c.AuthWindow <= 0 {
		c.AuthWindow = DefaultAuthWindow
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Quota == nil {
		c.Quota = quota.New()
	}
}

type elementKey struct{ name, ns string }

// Server accepts client streams.
type Server struct {
	cfg       Config
	router    *router.Router
	guard     *guard
	admission *admission
	elements  map[elementKey]ElementHandler

	// unbound are the streams that logged in and have not bound a
	// resource yet, by account: an account closed by the administrator
	// reaches them too.
	unboundMu sync.Mutex
	unbound   map[string]map[framing]bool // true: closed by CloseUnbound

	// settings that apply to streams opened from now on
	limits atomic.Pointer[stream.Limits]
	idle   atomic.Int64

	secret [32]byte // keys the decoy credentials of unknown names
}

// New returns a c2s server.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, router: cfg.Router, guard: newGuard(cfg.AuthFailures, cfg.AuthWindow),
		admission: newAdmission(cfg.Conns), elements: make(map[elementKey]ElementHandler),
		unbound: make(map[string]map[framing]bool)}
	for _, e := range cfg.Elements {
		k := elementKey{e.Name, e.NS}
		if _, dup := s.elements[k]; dup {
			panic("c2s: second handler for the element {" + e.NS + "}" + e.Name)
		}
		s.elements[k] = e.Handle
	}
	s.SetLimits(cfg.Limits)
	s.SetIdleTimeout(cfg.IdleTimeout)
	_, _ = rand.Read(s.secret[:])
	return s
}

// SetLimits sets the limits of streams opened from now on.
func (s *Server) SetLimits(l stream.Limits) { s.limits.Store(&l) }

// SetConnLimits sets the connection limits for connections accepted from
// now on.
func (s *Server) SetConnLimits(l ConnLimits) { s.admission.setLimits(l) }

// Stats are the login guard's counts and the connections logging in now.
type Stats struct {
	GuardStats
	// LoggingIn: connections that have not logged in yet.
	LoggingIn int
}

// Stats returns the login guard's counts.
func (s *Server) Stats() Stats {
	return Stats{GuardStats: s.guard.stats(), LoggingIn: s.admission.unauthenticated()}
}

// CloseUnbound drops the streams of user that logged in but have not
// bound a resource yet (the account was disabled, deleted or its password
// changed); bound sessions are the router's.
func (s *Server) CloseUnbound(user string) {
	s.unboundMu.Lock()
	defer s.unboundMu.Unlock()
	for f := range s.unbound[user] {
		s.unbound[user][f] = true
		f.Close()
	}
}

func (s *Server) addUnbound(user string, f framing) {
	s.unboundMu.Lock()
	defer s.unboundMu.Unlock()
	m := s.unbound[user]
	if m == nil {
		m = make(map[framing]bool)
		s.unbound[user] = m
	}
	m[f] = false
}

// bind makes the session routable, unless the administrator closed its
// stream since it logged in: under the same lock as CloseUnbound, so that
// a close reaches it either here or, once bound, through the router.
func (s *Server) bind(sess *router.Session, f framing) (old *router.Session, ok bool) {
	s.unboundMu.Lock()
	defer s.unboundMu.Unlock()
	user := sess.JID.Local
	if s.unbound[user][f] {
		return nil, false
	}
	old = s.router.Bind(sess)
	delete(s.unbound[user], f)
	if len(s.unbound[user]) == 0 {
		delete(s.unbound, user)
	}
	return old, true
}

func (s *Server) removeUnbound(user string, f framing) {
	s.unboundMu.Lock()
	defer s.unboundMu.Unlock()
	delete(s.unbound[user], f)
	if len(s.unbound[user]) == 0 {
		delete(s.unbound, user)
	}
}

// SetIdleTimeout sets how long streams bound from now on may be silent
// before they are pinged (0: DefaultIdleTimeout).
func (s *Server) SetIdleTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultIdleTimeout
	}
	s.idle.Store(int64(d))
}

// Serve accepts connections on ln until ctx is done, then closes every
// stream it started with system-shutdown and waits for them. With
// directTLS the listener speaks TLS from the first byte (XEP-0368).
func (s *Server) Serve(ctx context.Context, ln net.Listener, directTLS bool) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if retryable(err) {
				// Back off as net/http does.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.cfg.Log.Warn("accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return err
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, nc, directTLS)
		}()
	}
}

// retryable reports accept errors that pass: timeouts, and running out of
// file descriptors (EMFILE, ENFILE) until some are freed.
func retryable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// handle runs one TCP connection: TLS from the first byte or STARTTLS.
func (s *Server) handle(ctx context.Context, nc net.Conn, directTLS bool) {
	f := newTCP(nc, s.cfg.Domain, stream.PreAuth)
	f.direct = directTLS
	t, why := s.admission.admit(nc.RemoteAddr().String(), func() { nc.Close() })
	if t == nil {
		// Refused before a byte is read: an error on a stream of our own.
		s.cfg.Log.Info("connection refused", "addr", nc.RemoteAddr().String(), "why", why)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		if !directTLS {
			_ = f.End(&stream.Error{Condition: stream.PolicyViolation, Text: why})
		}
		nc.Close()
		return
	}
	defer t.release()
	// Unauthenticated streams get AuthTimeout in all (RFC 6120 13.14),
	// the TLS handshake included.
	deadline := time.Now().Add(s.cfg.AuthTimeout)
	_ = nc.SetDeadline(deadline)
	if directTLS {
		stop := context.AfterFunc(ctx, func() { nc.Close() })
		err := startTLS(f, s.cfg.TLS(), deadline)
		stop()
		if err != nil {
			nc.Close()
			return
		}
	}
	s.run(ctx, f, deadline, t)
}

// startTLS upgrades f within TLSHandshakeTimeout and the stream's
// deadline.
func startTLS(f framing, cfg *tls.Config, deadline time.Time) error {
	_ = f.SetDeadline(earlier(deadline, time.Now().Add(TLSHandshakeTimeout)))
	if err := f.StartTLS(cfg); err != nil {
		return err
	}
	return f.SetDeadline(deadline)
}

// earlier returns the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// run runs one client stream on a framing until it ends: negotiation,
// which must be over by deadline, then the bound session. t, if not nil,
// is told when the client has logged in.
func (s *Server) run(ctx context.Context, f framing, deadline time.Time, t *ticket) {
	c := &conn{srv: s, f: f, ticket: t}
	if host, _, err := net.SplitHostPort(f.RemoteAddr()); err == nil {
		c.ip = host
	}
	_ = f.SetDeadline(deadline)
	c.deadline = deadline
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	sess, err := c.negotiate(ctx)
	if err != nil && c.authed != "" {
		s.removeUnbound(c.authed, f)
	}
	if err != nil {
		var se *stream.Error
		switch {
		case errors.As(err, &se):
			c.fail(se)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// RFC 6120 4.9.3.4: too slow to authenticate.
			c.fail(&stream.Error{Condition: stream.ConnectionTimeout, Text: "authenticate within " + s.cfg.AuthTimeout.String()})
		default:
			s.cfg.Log.Debug("c2s negotiation ended", "addr", f.RemoteAddr(), "err", err)
		}
		f.Close()
		return
	}
	stop()
	s.serveSession(ctx, c, sess)
}

// conn is one client stream during negotiation.
type conn struct {
	srv         *Server
	f           framing
	ip          string
	authed      string // localpart once SASL succeeded
	cred        []byte // the SCRAM-SHA-256 StoredKey it succeeded with
	ticket      *ticket
	deadline    time.Time
	opened      bool // the first stream header came
	cbind       bool // channel binding offered
	lang        string
	successData string
	bindResult  *stanza.Element // written by serveSession once the session is routable
}

// fail sends a stream error and the end of the stream, then closes.
func (c *conn) fail(e *stream.Error) {
	c.srv.cfg.Log.Info("stream error sent", "condition", e.Condition, "text", e.Text, "addr", c.f.RemoteAddr(), "account", c.authed)
	_ = c.f.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.f.End(e)
	c.f.Close()
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openStream reads the client's opening and answers with ours and the
// features of this stage. The first opening on a connection must come
// within HeaderTimeout: a connection that says nothing gives up its place
// early.
func (c *conn) openStream(features []*stanza.Element) error {
	if !c.opened && !c.deadline.IsZero() {
		_ = c.f.SetDeadline(earlier(c.deadline, time.Now().Add(HeaderTimeout)))
	}
	h, err := c.f.ReadOpen()
	if !c.opened && !c.deadline.IsZero() {
		c.opened = true
		_ = c.f.SetDeadline(c.deadline)
	}
	if err != nil {
		return err
	}
	switch {
	case h.NS != stanza.NSClient:
		return &stream.Error{Condition: stream.InvalidNamespace}
	case h.Version == "" || h.Version[0] < '1':
		return &stream.Error{Condition: stream.UnsupportedVersion, Text: "XMPP 1.0 is required"}
	}
	to, err := jid.Parse(h.To)
	if err != nil || to != (jid.JID{Domain: c.srv.cfg.Domain}) {
		return &stream.Error{Condition: stream.HostUnknown, Text: "this server serves " + c.srv.cfg.Domain}
	}
	c.lang = h.Lang
	return c.f.WriteOpen(stream.Header{NS: stanza.NSClient, From: c.srv.cfg.Domain, ID: newID(), Version: "1.0", Lang: "en"}, features)
}

// send writes one element during negotiation.
func (c *conn) send(el *stanza.Element) error {
	_, err := c.f.Write([]*stanza.Element{el})
	return err
}

// features returns the modules' features of a stage after the given ones.
func (c *conn) features(stage Stage, own ...*stanza.Element) []*stanza.Element {
	for _, f := range c.srv.cfg.Features {
		if f.Stage == stage {
			own = append(own, f.Element)
		}
	}
	return own
}

// negotiate runs RFC 6120 5-7 until a resource is bound.
func (c *conn) negotiate(ctx context.Context) (*router.Session, error) {
	for {
		switch {
		case c.f.TLS() == nil:
			// STARTTLS is mandatory to negotiate (RFC 6120 5.3.1).
			tlsf := stanza.New("starttls", stanza.NSTLS).Append(stanza.New("required", stanza.NSTLS))
			if err := c.openStream([]*stanza.Element{tlsf}); err != nil {
				return nil, err
			}
			el, err := c.f.Next()
			if err != nil {
				return nil, err
			}
			if el.Name != "starttls" || el.NS != stanza.NSTLS {
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "STARTTLS is required"}
			}
			if c.f.Pending() {
				// RFC 6120 5.4.3.3: nothing may follow <starttls/>.
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "data after starttls"}
			}
			if err := c.send(stanza.New("proceed", stanza.NSTLS)); err != nil {
				return nil, err
			}
			if err := startTLS(c.f, c.srv.cfg.TLS(), c.deadline); err != nil {
				return nil, err
			}
		case c.authed == "":
			feats := []*stanza.Element{c.mechanisms()}
			if cb := c.channelBinding(); cb != nil {
				feats = append(feats, cb)
			}
			if err := c.openStream(c.features(BeforeAuth, feats...)); err != nil {
				return nil, err
			}
			if err := c.authenticate(ctx); err != nil {
				return nil, err
			}
			// Logged in: the full limits, and reachable by the admin's
			// kick until it is bound.
			c.srv.addUnbound(c.authed, c.f)
			if c.ticket != nil {
				c.ticket.authenticated()
			}
			c.f.SetLimits(*c.srv.limits.Load())
			c.f.Restart()
		default:
			feats := c.features(AfterAuth,
				stanza.New("bind", stanza.NSBind),
				stanza.New("session", stanza.NSSession).Append(stanza.New("optional", stanza.NSSession)),
			)
			if err := c.openStream(feats); err != nil {
				return nil, err
			}
			return c.bind(ctx)
		}
	}
}

// bind handles resource binding (RFC 6120 7) and answers a legacy session
// request (RFC 3921 3) that comes first.
func (c *conn) bind(ctx context.Context) (*router.Session, error) {
	for {
		el, err := c.f.Next()
		if err != nil {
			return nil, err
		}
		st, serr := stanza.Parse(el)
		if serr != nil || st.Kind != stanza.KindIQ {
			return nil, &stream.Error{Condition: stream.NotAuthorized, Text: "bind a resource first"}
		}
		p := st.Payload()
		if st.Type != "set" || p == nil {
			if err := c.send(st.ErrorReply(stanza.ErrBadRequest("bind a resource first"))); err != nil {
				return nil, err
			}
			continue
		}
		if p.NS == stanza.NSSession {
			if err := c.send(st.Result(nil)); err != nil {
				return nil, err
			}
			continue
		}
		if p.Name != "bind" || p.NS != stanza.NSBind {
			if err := c.send(st.ErrorReply(stanza.NewError(stanza.Cancel, stanza.NotAllowed, "bind a resource first"))); err != nil {
				return nil, err
			}
			continue
		}
		res := p.ChildText("resource", stanza.NSBind)
		if res == "" {
			res = "hearth-" + newID()[:10]
		}
		full, err := jid.New(c.authed, c.srv.cfg.Domain, res)
		if err != nil || full.Resource == "" {
			if err := c.send(st.ErrorReply(stanza.ErrBadRequest("invalid resource"))); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.stillValid(ctx); err != nil {
			return nil, err
		}
		if e := c.roomFor(full); e != nil {
			if err := c.send(st.ErrorReply(e)); err != nil {
				return nil, err
			}
			continue
		}
		sess := &router.Session{JID: full, Addr: c.f.RemoteAddr(), Since: time.Now(), Secure: c.f.TLS() != nil}
		result := stanza.New("bind", stanza.NSBind).Append(stanza.New("jid", stanza.NSBind).AppendText(full.String()))
		res2 := st.Result(result)
		res2.SetAttr("from", "")
		res2.SetAttr("to", "")
		c.bindResult = res2
		return sess, nil
	}
}

// stillValid checks the account again at bind: it may have been deleted,
// disabled or given a new password since this stream logged in (RFC 6120
// 4.9.3.12: not-authorized).
func (c *conn) stillValid(ctx context.Context) error {
	u, err := c.srv.cfg.Accounts.User(ctx, c.authed)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the account was removed"}
	case err != nil:
		c.srv.cfg.Log.Warn("account not read at bind", "account", c.authed, "err", err)
		return &stream.Error{Condition: stream.InternalServerError}
	case u.Disabled:
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the account is disabled"}
	case !bytes.Equal(u.SHA256.StoredKey, c.cred):
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the password was changed; log in again"}
	}
	return nil
}

// roomFor checks the account's quota of resources (RFC 6120 7.6.2.1: a
// limit on resources is resource-constraint; XEP-0205 names the reason).
// A resource that is bound already does not count: the new session takes
// it over.
func (c *conn) roomFor(full jid.JID) *stanza.Error {
	max := c.srv.cfg.Quota.Resources.Load()
	n := int64(0)
	for _, s := range c.srv.router.Sessions(full.Local) {
		if s.JID.Resource != full.Resource {
			n++
		}
	}
	if n < max {
		return nil
	}
	e := stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
		fmt.Sprintf("this account is connected from %d places already, the most this server allows; close one of them first", n))
	e.Extra = stanza.New("resource-limit-exceeded", "urn:xmpp:errors")
	return e
}

// Stream is a bound stream as an ElementHandler sees it.
type Stream struct {
	sess *router.Session
	out  *out
}

// Session is the stream's session.
func (s *Stream) Session() *router.Session { return s.sess }

// Send queues a non-stanza element on the stream, in order with the
// stanzas (stream management's acks); false when the stream is closing.
func (s *Stream) Send(el *stanza.Element) bool { return s.out.Send(el, nil) }

// serveSession runs a bound stream until it ends.
func (s *Server) serveSession(ctx context.Context, c *conn, sess *router.Session) {
	f := c.f
	_ = f.SetDeadline(time.Time{})
	o := newOut(f, s.cfg.QueueLimit, s.cfg.QueueBytes, s.cfg.WriteTimeout)
	name := sess.JID.String()
	// The XML console sees bound streams only, never negotiation.
	o.tap = new(tap)
	f.Tap(o.tap)
	if s.cfg.Lost != nil {
		o.leftover = func(q []*stanza.Element) { s.cfg.Lost.Lost(context.WithoutCancel(ctx), sess, q) }
	}
	sess.Conn = o
	bound := &Stream{sess: sess, out: o}
	// The bind result goes first in the queue, but the writer starts only
	// after router.Bind: a client may address its new full JID as soon as
	// it reads the result, and a message routed before Bind is treated as
	// sent to the bare JID (offline storage).
	if c.bindResult != nil {
		o.queue, o.queued = append(o.queue, c.bindResult), size(c.bindResult)
		c.bindResult = nil
	}
	f.WatchIdle(time.Duration(s.idle.Load()), func(pinged bool) bool {
		if pinged {
			o.Close(stream.ConnectionTimeout, "no answer to ping")
			return false
		}
		// XEP-0199 4.2: is the client still there?
		ping := stanza.New("iq", stanza.NSClient, "type", "get", "id", "ping-"+newID()[:8], "from", s.cfg.Domain, "to", name)
		ping.Append(stanza.New("ping", stanza.NSPing))
		s.router.Deliver(ctx, sess, ping)
		return true
	})
	old, ok := s.bind(sess, f)
	if !ok {
		// Closed by the administrator before it could bind: nothing it
		// sent may be routed.
		s.removeUnbound(sess.JID.Local, f)
		o.Close(stream.NotAuthorized, "the account was changed by the administrator")
		<-o.Done()
		f.Close()
		return
	}
	if old != nil {
		old.Conn.Close(stream.Conflict, "replaced by a new session")
	}
	o.mu.Lock()
	if len(o.queue) > 0 {
		o.kick()
	}
	o.mu.Unlock()
	// Shutdown stops the reading first: what was read is routed with a
	// context that shutdown does not cancel, so that a message read is
	// delivered, stored or refused honestly, never lost to a cancelled
	// database call. Stored messages become durable together (group
	// commit); nothing that would acknowledge them is routed before they
	// are (Pending).
	pend := s.router.NewPending(ctx)
	rctx := router.WithPending(context.WithoutCancel(ctx), pend)
	// A client that does not read must not hold up shutdown either: after
	// the grace its writer gives up, and what it did not take goes back
	// to storage.
	var grace atomic.Pointer[time.Timer]
	stopOnShutdown := context.AfterFunc(ctx, func() {
		f.StopReading()
		grace.Store(time.AfterFunc(ShutdownGrace, o.CutOff))
	})
	s.cfg.Log.Info("session began", "jid", name, "addr", f.RemoteAddr(), "tls", tlsMode(f))
	cond, text := "", ""
	var readErr error
	for {
		el, err := f.Next()
		if err != nil {
			readErr = err
			// A violation gets its stream error; the peer's own close or a
			// dead socket just our closing tag (RFC 6120 4.4).
			var se *stream.Error
			switch {
			case ctx.Err() != nil:
				cond = stream.SystemShutdown
			case errors.As(err, &se):
				cond, text = se.Condition, se.Text
			}
			break
		}
		if stanza.KindOf(el) == stanza.KindNone {
			pend.Settle()
			if err := s.element(rctx, bound, el); err != nil {
				var se *stream.Error
				if !errors.As(err, &se) {
					se = &stream.Error{Condition: stream.InternalServerError}
					s.cfg.Log.Warn("stream element failed", "session", name, "element", el.Name, "err", err)
				}
				cond, text = se.Condition, se.Text
				break
			}
			continue
		}
		if el.Name == "iq" && el.Attr("type") == "result" && el.Attr("to") == s.cfg.Domain && strings.HasPrefix(el.Attr("id"), "ping-") {
			continue
		}
		if el.Name != "message" {
			pend.Settle()
		}
		s.router.FromClient(rctx, sess, el)
	}
	pend.Settle()
	o.Close(cond, text)
	s.router.Unbind(context.WithoutCancel(ctx), sess)
	<-o.Done()
	s.logEnd(sess, o, readErr)
	stopOnShutdown()
	if t := grace.Load(); t != nil {
		t.Stop() // a timer that fires late finds the writer finished
	}
	// Read what the client sends until it has taken what was written,
	// so that the kernel delivers it rather than resetting the connection.
	// A stopping server waits ShutdownGrace at most: closing the socket
	// ends the drain.
	endDrain := context.AfterFunc(ctx, func() { time.AfterFunc(ShutdownGrace, func() { f.Close() }) })
	f.Drain(time.Now().Add(DrainTimeout))
	endDrain()
	f.Close()
}

// logEnd tells the log how a session ended: the stream error it was sent,
// if any, and why it ended, in words.
func (s *Server) logEnd(sess *router.Session, o *out, readErr error) {
	o.mu.Lock()
	final := o.final
	o.mu.Unlock()
	name, addr := sess.JID.String(), sess.Addr
	var why string
	switch {
	case final != nil:
		s.cfg.Log.Info("stream error sent", "condition", final.Condition, "text", final.Text, "addr", addr, "jid", name)
		why = final.Condition
		if final.Text != "" {
			why += ": " + final.Text
		}
	case errors.Is(readErr, stream.ErrClosed):
		why = "the client closed the stream"
	case readErr != nil:
		why = lostWhy(readErr)
		s.cfg.Log.Debug("session read error", "jid", name, "addr", addr, "err", readErr)
	default:
		why = "the server closed the stream"
	}
	s.cfg.Log.Info("session ended", "jid", name, "addr", addr, "why", why, "lasted", time.Since(sess.Since).Round(time.Second))
}

// lostWhy says in words why reading a session's stream failed; Go's error
// text ("read tcp a->b: connection reset by peer") goes to the debug log
// only.
func lostWhy(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the device closed the connection"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		// Also the idle check's end: no answer to its ping.
		return "the device stopped answering"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.ENETDOWN),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "the network connection dropped"
	case errors.Is(err, errStopped):
		return "the server is stopping"
	case errors.Is(err, net.ErrClosed):
		// Closed on our side: a client too slow for its queue is cut off.
		return "the server closed the connection"
	}
	return "the connection was lost"
}

// tlsMode says how a stream is encrypted, in words for the log.
func tlsMode(f framing) string {
	switch t, ok := f.(*tcp); {
	case f.TLS() == nil:
		return "none"
	case ok && t.direct:
		return "direct TLS"
	case ok:
		return "STARTTLS"
	}
	return "TLS"
}

// element hands a non-stanza element to its handler. Without one it is
// unsupported-stanza-type (RFC 6120 4.9.3.25: only message, presence and
// iq, and what a negotiated feature defines, may come here).
func (s *Server) element(ctx context.Context, st *Stream, el *stanza.Element) error {
	h := s.elements[elementKey{el.Name, el.NS}]
	if h == nil {
		return &stream.Error{Condition: stream.UnsupportedStanzaType}
	}
	return h(ctx, st, el)
}

var b64 = base64.StdEncoding
