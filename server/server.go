// Package server assembles Hearth's XMPP server from its parts: storage,
// the router, client streams and the feature modules, wired in plain code
// in a visible order.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/c2s"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/blocking"
	"hearth/server/internal/mod/clock"
	"hearth/server/internal/mod/disco"
	"hearth/server/internal/mod/last"
	"hearth/server/internal/mod/offline"
	"hearth/server/internal/mod/ping"
	"hearth/server/internal/mod/presence"
	"hearth/server/internal/mod/private"
	"hearth/server/internal/mod/register"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/mod/vcard"
	"hearth/server/internal/mod/version"
	"hearth/server/internal/router"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Config describes one server. The zero value (plus a domain, TLS and a
// database) is a working LAN server.
type Config struct {
	Domain          string
	DataDir         string
	Version         string
	TLS             func() *tls.Config
	CertFingerprint func() string
	Log             *slog.Logger

	// Limits on what a client may send (defaults: 256 KiB, depth 32).
	Limits stream.Limits
	// AuthTimeout closes unauthenticated streams (30 s).
	AuthTimeout time.Duration
	// IdleTimeout: a silent client is pinged after this, and closed
	// after as long again (5 min).
	IdleTimeout time.Duration
	// OfflineMax is the offline quota per account (1000).
	OfflineMax int
	// QueueLimit is how many stanzas may wait for a slow client (4096).
	QueueLimit int
	// AuthFailures is how many failed authentications an address or an
	// account may have in a minute before it is refused (5).
	AuthFailures int
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := jid.Parse(c.Domain); err != nil || c.Domain == "" {
		errs = append(errs, fmt.Errorf("invalid domain %q", c.Domain))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("no TLS configuration"))
	}
	if c.Limits.MaxStanza < 0 || c.Limits.MaxDepth < 0 {
		errs = append(errs, errors.New("negative limits"))
	}
	return errors.Join(errs...)
}

// Listeners are the sockets the server serves; nil ones are not used.
type Listeners struct {
	C2S, C2STLS net.Listener
}

// Server is a running XMPP server.
type Server struct {
	cfg      Config
	db       *storage.DB
	router   *router.Router
	c2s      *c2s.Server
	roster   *roster.Module
	presence *presence.Module
	offline  *offline.Store
	last     *last.Module
	events   *admin.Hub
	admin    *admin.Local
	started  time.Time

	mu        sync.Mutex
	listeners []admin.Listener
}

// New builds a server over an open database.
func New(cfg Config, db *storage.DB) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &Server{cfg: cfg, db: db, events: admin.NewHub()}
	r := router.New(cfg.Domain, cfg.Log.With("part", "router"))
	s.router = r
	r.Accounts = accounts{db}
	r.OnSession = func(sess *router.Session, up bool) {
		kind := admin.EventSessionDown
		if up {
			kind = admin.EventSessionUp
		}
		s.events.Publish(admin.Event{Kind: kind, JID: sess.JID.String()})
	}

	s.offline = &offline.Store{DB: db, Domain: cfg.Domain, Max: cfg.OfflineMax, Log: cfg.Log.With("part", "offline")}
	r.Offline = s.offline

	s.roster = &roster.Module{DB: db, Router: r, Log: cfg.Log.With("part", "roster"), OnChange: func(user string) {
		s.events.Publish(admin.Event{Kind: admin.EventRoster, JID: user + "@" + cfg.Domain})
	}}
	s.roster.Register(r)

	s.presence = &presence.Module{Router: r, Roster: s.roster, Offline: s.offline, DB: db, Log: cfg.Log.With("part", "presence")}
	r.Presence = s.presence
	s.presence.OnChange = func(sess *router.Session) {
		s.events.Publish(admin.Event{Kind: admin.EventPresence, JID: sess.JID.String()})
	}

	// Small services, each declaring its own disco features.
	log := cfg.Log
	pingMod := ping.New(db, log.With("part", "ping"))
	pingMod.Register(r)
	versionMod := version.New(cfg.Version)
	versionMod.Register(r)
	clockMod := clock.New()
	clockMod.Register(r)
	s.last = last.New(db, time.Now(), log.With("part", "last"))
	s.last.Register(r)
	s.presence.OnLastLogout = s.last.Logout
	vcardMod := vcard.New(db, log.With("part", "vcard"))
	vcardMod.Register(r)
	privateMod := private.New(db, log.With("part", "private"))
	privateMod.Register(r)

	blocks := blocking.New(db, log.With("part", "blocking"))
	blocks.Register(r)
	r.Blocking = blocks
	s.presence.Blocks = blocks.Blocks
	blocks.OnBlock = s.presence.Blocked
	blocks.OnUnblock = s.presence.Unblocked

	reg := register.New(db, log.With("part", "register"))
	reg.Register(r)
	reg.OnRemove = func(ctx context.Context, user string) {
		blocks.Forget(user)
		for _, sess := range r.Sessions(user) {
			sess.Conn.Close(stream.NotAuthorized, "account removed")
		}
	}

	// Service discovery lists what the modules above declare.
	var features []string
	for _, m := range []interface{ Features() []string }{s.roster, s.offline, pingMod, versionMod, clockMod, s.last, vcardMod, privateMod, blocks, reg} {
		features = append(features, m.Features()...)
	}
	disco.New(db, features, disco.Contacts(db, log), log.With("part", "disco")).Register(r)

	s.c2s = c2s.New(c2s.Config{
		Domain:       cfg.Domain,
		TLS:          cfg.TLS,
		Limits:       cfg.Limits,
		AuthTimeout:  cfg.AuthTimeout,
		IdleTimeout:  cfg.IdleTimeout,
		QueueLimit:   cfg.QueueLimit,
		AuthFailures: cfg.AuthFailures,
		Log:          cfg.Log.With("part", "c2s"),
	}, r, db)
	s.c2s.StreamFeatures = s.roster.StreamFeatures()
	s.c2s.OnLost = s.offline.Lost

	s.admin = &admin.Local{
		DB:           db,
		Domain:       cfg.Domain,
		DataDir:      cfg.DataDir,
		ServerInfo:   s.info,
		ListSessions: s.sessions,
		KickSession: func(full string) bool {
			j, err := jid.Parse(full)
			if err != nil {
				return false
			}
			sess := r.Session(j)
			if sess == nil {
				return false
			}
			sess.Conn.Close(stream.PolicyViolation, "closed by the administrator")
			return true
		},
		KickUser: func(user string) {
			for _, sess := range r.Sessions(user) {
				sess.Conn.Close(stream.NotAuthorized, "account changed by the administrator")
			}
		},
		LabelRoster: s.roster.Label,
		RemoveRoster: func(ctx context.Context, user, contact string) error {
			j, err := jid.Parse(contact)
			if err != nil {
				return err
			}
			return s.roster.Remove(ctx, user, j.Bare())
		},
		Events: s.events,
	}
	return s, nil
}

// Admin returns the live admin API.
func (s *Server) Admin() admin.API { return s.admin }

// Serve serves the listeners until ctx is done and everything has stopped.
func (s *Server) Serve(ctx context.Context, ls Listeners) error {
	s.started = time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	serve := func(name string, ln net.Listener, direct bool) {
		if ln == nil {
			return
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, admin.Listener{Name: name, Addr: ln.Addr().String()})
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.c2s.Serve(ctx, ln, direct); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	serve("c2s", ls.C2S, false)
	serve("c2s-tls", ls.C2STLS, true)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func (s *Server) info() admin.Info {
	s.mu.Lock()
	ls := append([]admin.Listener(nil), s.listeners...)
	s.mu.Unlock()
	fp := ""
	if s.cfg.CertFingerprint != nil {
		fp = s.cfg.CertFingerprint()
	}
	return admin.Info{Domain: s.cfg.Domain, Version: s.cfg.Version, Started: s.started, Listeners: ls, CertFingerprint: fp, DataDir: s.cfg.DataDir, Running: true}
}

func (s *Server) sessions() []admin.Session {
	var out []admin.Session
	for _, sess := range s.router.All() {
		avail, prio, el := sess.Presence()
		p := "unavailable"
		if avail {
			p = "available"
			if show := el.ChildText("show", ""); show != "" {
				p = show
			}
		}
		out = append(out, admin.Session{JID: sess.JID.String(), Addr: sess.Addr, Since: sess.Since, Secure: sess.Secure, Presence: p, Priority: prio})
	}
	return out
}

// accounts answers the router's existence checks from storage.
type accounts struct{ db *storage.DB }

func (a accounts) Exists(ctx context.Context, user string) bool {
	ok, err := a.db.UserExists(ctx, user)
	return err == nil && ok
}
