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
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Accounts gives the stored credentials of a user.
type Accounts interface {
	User(ctx context.Context, name string) (storage.User, error)
}

// Config holds the c2s settings; zero values get defaults.
type Config struct {
	Domain string
	// TLS returns the server's TLS configuration (reloaded certificates).
	TLS func() *tls.Config
	// Limits bound what a client may send.
	Limits stream.Limits
	// AuthTimeout closes streams that are not bound in time (30 s).
	AuthTimeout time.Duration
	// IdleTimeout is how long a bound stream may be silent before the
	// server pings it (XEP-0199); it is closed if the ping goes unanswered
	// for as long again (5 min).
	IdleTimeout time.Duration
	// QueueLimit is how many stanzas may wait for a slow client (4096).
	QueueLimit int
	// QueueBytes is how many bytes may wait for a slow client (4 MiB).
	QueueBytes int
	// WriteTimeout bounds one socket write (30 s).
	WriteTimeout time.Duration
	// AuthFailures is how many failed authentications an address or an
	// account may have in AuthWindow before it is refused (5 in 1 min).
	AuthFailures int
	AuthWindow   time.Duration
	Log          *slog.Logger
}

func (c *Config) defaults() {
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 30 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 5 * time.Minute
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 4096
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 4 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = 5
	}
	if c.AuthWindow <= 0 {
		c.AuthWindow = time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Tap sees the raw bytes of streams (the admin XML console). It must not
// block.
type Tap func(session string, out bool, data []byte)

// Server accepts client streams.
type Server struct {
	cfg      Config
	router   *router.Router
	accounts Accounts
	limiter  *limiter
	// Tap, if set, sees raw stream data of bound sessions.
	Tap Tap
	// OnOverflow stores stanzas a closed session never wrote (offline).
	OnLost func(ctx context.Context, s *router.Session, lost []*stanza.Element)
	// StreamFeatures are extra post-bind features (e.g. roster versioning).
	StreamFeatures []*stanza.Element

	secret [32]byte // keys the decoy credentials of unknown names
}

// New returns a c2s server.
func New(cfg Config, r *router.Router, accounts Accounts) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, router: r, accounts: accounts, limiter: newLimiter(cfg.AuthFailures, cfg.AuthWindow)}
	_, _ = rand.Read(s.secret[:])
	return s
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

// conn is one client stream during negotiation.
type conn struct {
	srv         *Server
	raw         net.Conn
	nc          net.Conn // raw or its TLS wrapper
	dec         *stream.Decoder
	ip          string
	secure      bool
	authed      string // localpart once SASL succeeded
	cbind       bool   // channel binding offered
	wbuf        bytes.Buffer
	lang        string
	src         *switchReader
	headerSent  bool
	successData string
	bindResult  *stanza.Element // written by serveSession once the session is routable
}

func (s *Server) handle(ctx context.Context, nc net.Conn, directTLS bool) {
	c := &conn{srv: s, raw: nc, nc: nc}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.ip = host
	}
	// Unauthenticated streams get AuthTimeout in all (RFC 6120 13.14).
	_ = nc.SetDeadline(time.Now().Add(s.cfg.AuthTimeout))
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if directTLS {
		if err := c.startTLS(); err != nil {
			nc.Close()
			return
		}
	} else {
		c.src = &switchReader{nc}
		c.dec = stream.NewDecoder(c.src, s.cfg.Limits)
	}
	sess, err := c.negotiate(ctx)
	if err != nil {
		var se *stream.Error
		switch {
		case errors.As(err, &se):
			c.fail(se)
		case errors.Is(err, os.ErrDeadlineExceeded):
			// RFC 6120 4.9.3.4: too slow to authenticate.
			c.fail(&stream.Error{Condition: stream.ConnectionTimeout, Text: "authenticate within " + s.cfg.AuthTimeout.String()})
		default:
			s.cfg.Log.Debug("c2s negotiation ended", "addr", nc.RemoteAddr(), "err", err)
		}
		c.nc.Close()
		return
	}
	stop()
	s.serveSession(ctx, c, sess)
}

// fail writes a stream error and the closing tag, then closes.
func (c *conn) fail(e *stream.Error) {
	var b bytes.Buffer
	if c.dec == nil || !c.headerSent {
		stream.AppendHeader(&b, stream.Header{NS: stanza.NSClient, From: c.srv.cfg.Domain, ID: newID(), Version: "1.0"})
	}
	stream.AppendError(&b, e)
	b.WriteString(stream.Close)
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(b.Bytes())
	c.nc.Close()
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openStream reads the client's header and answers with ours and features.
func (c *conn) openStream(features ...*stanza.Element) error {
	h, err := c.dec.Header()
	if err != nil {
		return err
	}
	c.wbuf.Reset()
	stream.AppendHeader(&c.wbuf, stream.Header{NS: stanza.NSClient, From: c.srv.cfg.Domain, ID: newID(), Version: "1.0", Lang: "en"})
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
	stream.AppendFeatures(&c.wbuf, stanza.NSClient, features...)
	if err := c.flush(); err != nil {
		return err
	}
	c.headerSent = true
	return nil
}

func (c *conn) flush() error {
	_, err := c.nc.Write(c.wbuf.Bytes())
	c.wbuf.Reset()
	return err
}

func (c *conn) send(el *stanza.Element) error {
	c.wbuf.Reset()
	el.WriteTo(&c.wbuf, stanza.NSClient)
	return c.flush()
}

func (c *conn) startTLS() error {
	cfg := c.srv.cfg.TLS()
	if cfg == nil {
		return errors.New("no TLS configuration")
	}
	tc := tls.Server(c.raw, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.nc = tc
	c.secure = true
	c.src = &switchReader{tc}
	c.dec = stream.NewDecoder(c.src, c.srv.cfg.Limits)
	c.headerSent = false
	return nil
}

// negotiate runs RFC 6120 5-7 until a resource is bound.
func (c *conn) negotiate(ctx context.Context) (*router.Session, error) {
	for {
		switch {
		case !c.secure:
			// STARTTLS is mandatory to negotiate (RFC 6120 5.3.1).
			tlsf := stanza.New("starttls", stanza.NSTLS).Append(stanza.New("required", stanza.NSTLS))
			if err := c.openStream(tlsf); err != nil {
				return nil, err
			}
			el, err := c.dec.Next()
			if err != nil {
				return nil, err
			}
			if el.Name != "starttls" || el.NS != stanza.NSTLS {
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "STARTTLS is required"}
			}
			if c.dec.Buffered() > 0 {
				// RFC 6120 5.4.3.3: nothing may follow <starttls/>.
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "data after starttls"}
			}
			if err := c.send(stanza.New("proceed", stanza.NSTLS)); err != nil {
				return nil, err
			}
			if err := c.startTLS(); err != nil {
				return nil, err
			}
		case c.authed == "":
			feats := []*stanza.Element{c.mechanisms()}
			if cb := c.channelBinding(); cb != nil {
				feats = append(feats, cb)
			}
			if err := c.openStream(feats...); err != nil {
				return nil, err
			}
			if err := c.authenticate(ctx); err != nil {
				return nil, err
			}
			c.dec.Reset(nil)
			c.headerSent = false
		default:
			feats := []*stanza.Element{
				stanza.New("bind", stanza.NSBind),
				stanza.New("session", stanza.NSSession).Append(stanza.New("optional", stanza.NSSession)),
			}
			feats = append(feats, c.srv.StreamFeatures...)
			if err := c.openStream(feats...); err != nil {
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
		el, err := c.dec.Next()
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
		sess := &router.Session{JID: full, Addr: c.raw.RemoteAddr().String(), Since: time.Now(), Secure: c.secure}
		result := stanza.New("bind", stanza.NSBind).Append(stanza.New("jid", stanza.NSBind).AppendText(full.String()))
		res2 := st.Result(result)
		res2.SetAttr("from", "")
		res2.SetAttr("to", "")
		c.bindResult = res2
		return sess, nil
	}
}

// serveSession runs a bound stream until it ends.
func (s *Server) serveSession(ctx context.Context, c *conn, sess *router.Session) {
	c.wbuf = bytes.Buffer{} // negotiation is over: do not hold its buffer
	_ = c.nc.SetDeadline(time.Time{})
	o := newOut(c.nc, s.cfg.QueueLimit, s.cfg.QueueBytes, s.cfg.WriteTimeout)
	name := sess.JID.String()
	if s.Tap != nil {
		o.tap = func(out bool, p []byte) { s.Tap(name, out, p) }
	}
	if s.OnLost != nil {
		o.leftover = func(q []*stanza.Element) { s.OnLost(context.WithoutCancel(ctx), sess, q) }
	}
	sess.Conn = o
	// The bind result goes first in the queue, but the writer starts only
	// after router.Bind: a client may address its new full JID as soon as
	// it reads the result, and a message routed before Bind is treated as
	// sent to the bare JID (offline storage).
	if c.bindResult != nil {
		o.queue, o.queued = append(o.queue, c.bindResult), size(c.bindResult)
		c.bindResult = nil
	}
	ic := &idleConn{Conn: c.nc, idle: s.cfg.IdleTimeout, onIdle: func(pinged bool) bool {
		if pinged {
			o.Close(stream.ConnectionTimeout, "no answer to ping")
			return false
		}
		// XEP-0199 4.2: is the client still there?
		ping := stanza.New("iq", stanza.NSClient, "type", "get", "id", "ping-"+newID()[:8], "from", s.cfg.Domain, "to", name)
		ping.Append(stanza.New("ping", stanza.NSPing))
		o.Send(ping)
		return true
	}}
	if s.Tap != nil {
		ic.tap = func(out bool, p []byte) { s.Tap(name, out, p) }
	}
	c.src.r = ic
	if old := s.router.Bind(sess); old != nil {
		old.Conn.Close(stream.Conflict, "replaced by a new session")
	}
	o.mu.Lock()
	if len(o.queue) > 0 {
		o.kick()
	}
	o.mu.Unlock()
	var grace *time.Timer
	var graceMu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		o.Close(stream.SystemShutdown, "")
		// A client that does not read must not hold up shutdown.
		graceMu.Lock()
		grace = time.AfterFunc(2*time.Second, func() { c.nc.Close() })
		graceMu.Unlock()
	})
	for {
		el, err := c.dec.Next()
		if err != nil {
			// A violation gets its stream error; the peer's own close or a
			// dead socket just our closing tag (RFC 6120 4.4).
			var se *stream.Error
			if errors.As(err, &se) {
				o.Close(se.Condition, se.Text)
			} else {
				o.Close("", "")
			}
			break
		}
		if stanza.KindOf(el) == stanza.KindNone {
			// RFC 6120 4.9.3.25: only message, presence and iq here.
			o.Close(stream.UnsupportedStanzaType, "")
			break
		}
		if el.Name == "iq" && el.Attr("type") == "result" && el.Attr("to") == s.cfg.Domain && strings.HasPrefix(el.Attr("id"), "ping-") {
			continue
		}
		s.router.FromClient(ctx, sess, el)
	}
	stop()
	s.router.Unbind(context.WithoutCancel(ctx), sess)
	<-o.Done()
	c.nc.Close()
	graceMu.Lock()
	if grace != nil {
		grace.Stop()
	}
	graceMu.Unlock()
}

// switchReader is the source under the decoder's buffer; swapping r keeps
// whatever the buffer already holds (stanzas pipelined right after bind).
type switchReader struct{ r io.Reader }

func (s *switchReader) Read(p []byte) (int, error) { return s.r.Read(p) }

var b64 = base64.StdEncoding
