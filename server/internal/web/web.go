// Package web is the server's HTTPS listener: one port (--http, :5443 by
// default) with the server's certificate, as the direct-TLS client port
// has it, and a small mux that modules add their routes to (file upload,
// RFC 7395 WebSocket and XEP-0206 BOSH), and XEP-0156's host-meta, which lists the
// endpoints of web clients.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	DefaultMaxConns = 512
	// ReadHeaderTimeout bounds a request's head; a body is read at the
	// client's pace, each handler setting its own bounds (an upload of
	// 100 MiB over a slow link takes minutes).
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
)

// Config configures the listener.
type Config struct {
	Domain string
	// TLS is the server's TLS configuration (certs: one GetCertificate
	// for every listener).
	TLS      func() *tls.Config
	MaxConns int // connections at once (DefaultMaxConns)
	Log      *slog.Logger
}

// Mux is where modules add their routes, while the server is built.
type Mux struct {
	s *Server
}

// Handle adds a route (net/http's patterns: "GET /upload/{slot}/{name}").
// It panics once the listener serves, or on a pattern already taken.
func (m *Mux) Handle(pattern string, h http.Handler) {
	if m.s.started.Load() {
		panic("web: route " + pattern + " added after the listener started")
	}
	m.s.mux.Handle(pattern, h)
}

// Go runs work that outlives the request that began it (a BOSH session
// spans many requests) in a goroutine that Serve waits for, as it waits
// for handlers, with the listener's context, done when it stops. It
// returns false, and work does not run, when the listener does not serve
// or is stopping.
func (m *Mux) Go(work func(ctx context.Context)) bool {
	s := m.s
	s.activeMu.Lock()
	if s.closing || s.ctx == nil {
		s.activeMu.Unlock()
		return false
	}
	s.active.Add(1)
	ctx := s.ctx
	s.activeMu.Unlock()
	go func() {
		defer s.active.Done()
		work(ctx)
	}()
	return true
}

// Server is the HTTPS listener.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	started atomic.Bool
	public  atomic.Pointer[url.URL] // http.public_url; nil: none
	port    atomic.Int32            // the listener's port, once it serves

	links    []link          // host-meta's endpoints (Mux.Link)
	activeMu sync.Mutex      // closing, ctx and adding to active
	active   sync.WaitGroup  // handlers running, WebSocket streams and Go's work included
	closing  bool            // Serve is waiting for active: no handler starts
	ctx      context.Context // Serve's, while it serves
}

// New makes the listener; Serve runs it.
func New(cfg Config) *Server {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	s.mux.Handle("GET /.well-known/host-meta", s.serveHostMeta(false))
	s.mux.Handle("GET /.well-known/host-meta.json", s.serveHostMeta(true))
	return s
}

// Mux returns the mux modules add their routes to.
func (s *Server) Mux() *Mux { return &Mux{s} }

// SetPublicURL sets the address clients are given (http.public_url), for
// a server behind a proxy or a forwarded port; "" gives
// https://<domain>:<port>.
func (s *Server) SetPublicURL(raw string) error {
	if raw == "" {
		s.public.Store(nil)
		return nil
	}
	u, err := ParsePublicURL(raw)
	if err != nil {
		return err
	}
	s.public.Store(u)
	return nil
}

// ParsePublicURL checks a public URL: https (or http, behind a proxy that
// speaks TLS to the world), a host, no query.
func ParsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not a web address such as https://files.example.org or https://example.org:8443/xmpp", raw)
	}
	return u, nil
}

// BaseURL is the address clients are given for the listener's routes:
// the public URL if one is set, else https://<domain>:<port>; "" while
// the listener does not serve (--http off, or before Serve).
func (s *Server) BaseURL() string {
	p := s.port.Load()
	if p == 0 {
		return "" // nothing serves the routes: no address to give
	}
	if u := s.public.Load(); u != nil {
		return u.String()
	}
	if p < 0 {
		return ""
	}
	if p == 443 {
		return "https://" + s.cfg.Domain
	}
	return "https://" + net.JoinHostPort(s.cfg.Domain, strconv.Itoa(int(p)))
}

// Serve serves HTTPS on ln until ctx is done, then closes the
// connections: requests under way are given a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.started.Store(true)
	port := int32(-1) // serving on something that is not TCP: the public URL only
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		port = int32(a.Port)
	}
	s.port.Store(port)
	defer s.port.Store(0)
	base := s.cfg.TLS()
	if base == nil {
		return errors.New("https: no TLS configuration")
	}
	tc := base.Clone()
	tc.NextProtos = []string{"http/1.1"}
	s.activeMu.Lock()
	s.ctx = ctx
	s.activeMu.Unlock()
	// Every handler is waited for: a WebSocket stream runs inside its
	// handler on a connection http.Server no longer tracks, and must end
	// (its messages stored or delivered) before Serve returns.
	track := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.activeMu.Lock()
		if s.closing {
			s.activeMu.Unlock()
			http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
			return
		}
		s.active.Add(1)
		s.activeMu.Unlock()
		defer s.active.Done()
		s.mux.ServeHTTP(w, r)
	})
	hs := &http.Server{
		Handler:           track,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	lim := &limitListener{Listener: ln, sem: make(chan struct{}, s.cfg.MaxConns), log: s.cfg.Log}
	tl := tls.NewListener(lim, tc)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	})
	defer stop()
	s.cfg.Log.Info("serving HTTPS", "addr", ln.Addr().String(), "url", s.BaseURL())
	err := hs.Serve(tl)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	// Serve returns as soon as shutdown begins; the handlers end with ctx.
	s.activeMu.Lock()
	s.closing = true
	s.activeMu.Unlock()
	s.active.Wait()
	return err
}

// limitListener holds at most cap(sem) connections open at once: the
// next Accept waits for one to close.
type limitListener struct {
	net.Listener
	sem  chan struct{}
	log  *slog.Logger
	full atomic.Bool
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		if !l.full.Swap(true) {
			l.log.Warn("HTTPS: the connection limit is reached; new connections wait until others close", "limit", cap(l.sem))
		}
		l.sem <- struct{}{}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.sem; l.full.Store(false) })}, nil
}

type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
