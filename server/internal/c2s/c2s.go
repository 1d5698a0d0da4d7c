// Package c2s implements client-to-server streams (RFC 6120): the accept
// loop, stream negotiation (STARTTLS, SASL, resource binding) and the bound
// session's reader and writer, over TCP, over WebSocket (RFC 7395) or
// over BOSH (XEP-0124, XEP-0206).
package c2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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

// CredentialFiller completes the SCRAM keys of an account that has keys
// for one hash only (imported from a server that kept SCRAM-SHA-1 only),
// keeping those it has; Accounts may implement it (storage.DB does).
type CredentialFiller interface {
	FillCredentials(ctx context.Context, name string, sha1, sha256 storage.Credentials) (bool, error)
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

// Guest is a stream that has not logged in, as a Registrar sees it.
type Guest struct {
	Addr string // the client's address
	// Token is the invitation the client presented on this stream
	// (XEP-0445), kept by the Registrar; "" until then.
	Token string
}

// Registrar answers the IQs a client may send before it logs in: in-band
// registration with an invitation (XEP-0077, XEP-0445). It returns the
// answer, or nil for an IQ it does not take (the stream then ends: a
// client must log in first).
type Registrar interface {
	GuestIQ(ctx context.Context, g *Guest, iq *stanza.Element) *stanza.Element
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
	// Inlines are the features a client may enable inside Bind 2's
	// request (XEP-0386); a second one for the same namespace panics in
	// New.
	Inlines []Inline
	// Registrar answers IQs before login (registration with an
	// invitation); nil: none are taken.
	Registrar Registrar
	// Tokens keeps FAST tokens (XEP-0484); nil: FAST is not offered.
	Tokens Tokens
	// TokenKey derives FAST tokens from the seeds Tokens keeps (see
	// LoadTokenKey); nil: a key for this process only, so that tokens
	// end with it.
	TokenKey []byte
	// TokenLifetime is how long a FAST token is valid
	// (DefaultTokenLifetime).
	TokenLifetime time.Duration
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
	// ResumeTimeout is how long a session whose connection was lost is
	// held for its client to resume it (XEP-0198).
	ResumeTimeout time.Duration
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
	if c.ResumeTimeout <= 0 {
		c.ResumeTimeout = DefaultResumeTimeout
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
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = DefaultTokenLifetime
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
	inlines   map[string]InlineHandler

	// unbound are the streams that logged in and have not bound a
	// resource yet, by account: an account closed by the administrator
	// reaches them too.
	unboundMu sync.Mutex
	unbound   map[string]map[framing]bool // true: closed by CloseUnbound

	// settings that apply to streams opened from now on
	limits    atomic.Pointer[stream.Limits]
	idle      atomic.Int64
	resume    atomic.Int64
	tokenLife atomic.Int64
	tokenKey  []byte

	// Stream management: sessions that may be resumed, by resumption id,
	// and what is left of those that ended (smMu guards their fields in
	// Stream too).
	smMu      sync.Mutex
	resumable map[string]*Stream
	expired   map[string]expiredSM

	secret [32]byte // keys the decoy credentials of unknown names

	bosh boshTable // BOSH sessions (XEP-0206), by sid
}

// New returns a c2s server.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, router: cfg.Router, guard: newGuard(cfg.AuthFailures, cfg.AuthWindow),
		admission: newAdmission(cfg.Conns), elements: make(map[elementKey]ElementHandler),
		inlines: make(map[string]InlineHandler), unbound: make(map[string]map[framing]bool),
		resumable: make(map[string]*Stream), expired: make(map[string]expiredSM)}
	s.smElements()
	for _, e := range cfg.Elements {
		k := elementKey{e.Name, e.NS}
		if _, dup := s.elements[k]; dup {
			panic("c2s: second handler for the element {" + e.NS + "}" + e.Name)
		}
		s.elements[k] = e.Handle
	}
	for _, in := range cfg.Inlines {
		if _, dup := s.inlines[in.NS]; dup {
			panic("c2s: second Bind 2 inline feature for " + in.NS)
		}
		s.inlines[in.NS] = in.Handle
	}
	s.SetLimits(cfg.Limits)
	s.SetIdleTimeout(cfg.IdleTimeout)
	s.SetResumeTimeout(cfg.ResumeTimeout)
	s.SetTokenLifetime(cfg.TokenLifetime)
	_, _ = rand.Read(s.secret[:])
	s.tokenKey = cfg.TokenKey
	if len(s.tokenKey) == 0 {
		s.tokenKey = make([]byte, 32)
		_, _ = rand.Read(s.tokenKey)
	}
	return s
}

// SetLimits sets the limits of streams opened from now on.
func (s *Server) SetLimits(l stream.Limits) { s.limits.Store(&l) }

// Limits returns the limits of streams opened now.
func (s *Server) Limits() stream.Limits { return *s.limits.Load() }

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
// ready, if not nil, runs first, once the bind is certain (Bind 2's
// inline features: what they turn on is never left behind by a session
// that did not bind).
func (s *Server) bind(sess *router.Session, f framing, ready func()) (old *router.Session, ok bool) {
	s.unboundMu.Lock()
	defer s.unboundMu.Unlock()
	user := sess.JID.Local
	if s.unbound[user][f] {
		return nil, false
	}
	if ready != nil {
		ready()
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
	if c.resumed != nil {
		s.removeUnbound(c.authed, f)
		s.resumeSession(ctx, c, c.resumed)
		return
	}
	s.serveSession(ctx, c, sess)
}
