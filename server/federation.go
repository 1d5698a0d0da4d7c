package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/router"
	"hearth/server/internal/s2s"
	"hearth/server/settings"
)

// Federation configures links to other servers.
type Federation struct {
	// Resolver looks up where other domains' servers are (SRV, A/AAAA);
	// nil: the system's DNS. Tests map test domains to loopback.
	Resolver s2s.Resolver
	// Roots verify other servers' certificates; nil: the system's (with
	// SSL_CERT_FILE and SSL_CERT_DIR).
	Roots *x509.CertPool
	// ConnectTimeout bounds reaching and authenticating with another
	// server; what waits for it bounces after that
	// (s2s.DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// IdleTimeout closes a link no stanza used for that long
	// (s2s.DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Rate is how many bytes of stanzas per second one other server may
	// send over one link (s2s.DefaultRate).
	Rate int
	// MaxLinks caps links in both directions (s2s.DefaultMaxLinks).
	MaxLinks int
}

// newFederation builds the server's federation, off until the settings
// turn it on. The dialback secret lives in the data directory.
func newFederation(cfg Config, r *router.Router) (*s2s.Federation, error) {
	var db *s2s.Dialback
	if cfg.DataDir != "" {
		var err error
		if db, err = s2s.LoadDialback(cfg.DataDir); err != nil {
			return nil, err
		}
	} else {
		db = s2s.NewDialback()
	}
	fc := cfg.Federation
	return s2s.New(s2s.Config{
		Domain:         cfg.Domain,
		Hosts:          r.Mux().Hosts,
		TLS:            cfg.TLS,
		Roots:          fc.Roots,
		Dialback:       db,
		Resolver:       fc.Resolver,
		Inbound:        r,
		Log:            cfg.Log.With("part", "s2s"),
		ConnectTimeout: fc.ConnectTimeout,
		IdleTimeout:    fc.IdleTimeout,
		Rate:           fc.Rate,
		MaxLinks:       fc.MaxLinks,
	}), nil
}

// s2sListener is the federation listener while federation is on.
type s2sListener struct {
	open func() (net.Listener, error)
	ctx  context.Context
	wg   *sync.WaitGroup
	ln   net.Listener
}

// startFederation applies the federation settings at start.
func (s *Server) startFederation(ctx context.Context, open func() (net.Listener, error), wg *sync.WaitGroup) {
	s.mu.Lock()
	s.s2s = s2sListener{open: open, ctx: ctx, wg: wg}
	s.mu.Unlock()
	v, err := s.admin.Values(ctx)
	if err != nil {
		s.cfg.Log.Error("federation stays off: the settings could not be read", "err", err)
		return
	}
	if err := s.applyFederation(v); err != nil {
		s.cfg.Log.Error("federation could not be started", "err", err)
	}
}

// applyFederation sets who the server federates with, and opens or closes
// the federation listener.
func (s *Server) applyFederation(v settings.Values) error {
	p := s2s.Policy{Enabled: v.Bool(settings.KeyFederation), Allow: v.List(settings.KeyFederationAllow), Block: v.List(settings.KeyFederationBlock)}
	s.fed.SetPolicy(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.s2s
	switch {
	case p.Enabled && l.ln == nil && l.open != nil && l.ctx != nil && l.ctx.Err() == nil:
		ln, err := l.open()
		if err != nil {
			return fmt.Errorf("federation is on, but other servers cannot connect: the federation port could not be opened (%v); free the port or choose another with --s2s, then restart Hearth", err)
		}
		l.ln = ln
		s.listeners = append(s.listeners, admin.Listener{Name: "s2s", Addr: ln.Addr().String()})
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := s.fed.Serve(l.ctx, ln); err != nil {
				s.cfg.Log.Error("the federation listener stopped", "err", err)
			}
		}()
	case !p.Enabled && l.ln != nil:
		l.ln.Close()
		addr := l.ln.Addr().String()
		l.ln = nil
		for i, x := range s.listeners {
			if x.Name == "s2s" && x.Addr == addr {
				s.listeners = append(s.listeners[:i], s.listeners[i+1:]...)
				break
			}
		}
	}
	return nil
}

// S2SAddr is the federation listener's address, or "" while federation is
// off.
func (s *Server) S2SAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s2s.ln == nil {
		return ""
	}
	return s.s2s.ln.Addr().String()
}

// federationInfo is how federation stands, for the admin API.
func (s *Server) federationInfo() admin.FederationStatus {
	p := s.fed.Policy()
	st := admin.FederationStatus{Enabled: p.Enabled, Allow: p.Allow, Block: p.Block, Listening: s.S2SAddr()}
	for _, l := range s.fed.Links() {
		st.Links = append(st.Links, admin.FederationLink{Local: l.Local, Remote: l.Remote, Direction: l.Direction,
			Auth: l.Auth, TLS: l.TLS, Certificate: l.Certificate, Since: l.Since, In: l.In, Out: l.Out, Error: l.Error})
	}
	return st
}
