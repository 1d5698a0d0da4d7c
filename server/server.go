// Package server assembles Hearth's XMPP server from its parts: storage,
// the router, client streams and the feature modules, wired in plain code
// in a visible order (see New).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/c2s"
	"hearth/server/internal/component"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/adhoc"
	"hearth/server/internal/mod/blocking"
	"hearth/server/internal/mod/carbons"
	"hearth/server/internal/mod/clock"
	"hearth/server/internal/mod/csi"
	"hearth/server/internal/mod/disco"
	"hearth/server/internal/mod/extdisco"
	"hearth/server/internal/mod/family"
	"hearth/server/internal/mod/invite"
	"hearth/server/internal/mod/lanchat"
	"hearth/server/internal/mod/last"
	"hearth/server/internal/mod/mam"
	"hearth/server/internal/mod/muc"
	"hearth/server/internal/mod/offline"
	"hearth/server/internal/mod/pep"
	"hearth/server/internal/mod/ping"
	"hearth/server/internal/mod/presence"
	"hearth/server/internal/mod/private"
	"hearth/server/internal/mod/pubsubsvc"
	"hearth/server/internal/mod/push"
	"hearth/server/internal/mod/register"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/mod/session"
	"hearth/server/internal/mod/svcadmin"
	"hearth/server/internal/mod/upload"
	"hearth/server/internal/mod/vcard"
	"hearth/server/internal/mod/version"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/s2s"
	"hearth/server/internal/web"
	"hearth/server/settings"
	"hearth/storage"
)

// Listeners are the sockets the server serves; nil ones are not used.
type Listeners struct {
	C2S, C2STLS net.Listener
	// S2S opens the federation listener, while federation is on (STARTTLS
	// and direct TLS on one port); nil: other servers cannot connect.
	S2S func() (net.Listener, error)
	// HTTP is the HTTPS listener (file upload); nil: none.
	HTTP net.Listener
	// Component opens the external components' listener (XEP-0114) at the
	// address of the setting components.listen; nil: none.
	Component func(address string) (net.Listener, error)
}

// Server is a running XMPP server.
type Server struct {
	cfg      Config
	db       *storage.DB
	router   *router.Router
	c2s      *c2s.Server
	roster   *roster.Module
	family   *family.Module
	offline  *offline.Store
	push     *push.Module
	pep      *pep.Module
	archive  *mam.Module
	lanchat  *lanchat.Module // nil without a LAN host name
	muc      *muc.Module
	calls    *calls
	fed      *s2s.Federation
	web      *web.Server
	upload   *upload.Module
	invites  *invite.Module
	comps    *component.Service // external components; nil without a data directory
	svcAdmin *svcadmin.Module   // XEP-0133's commands and the message of the day
	quota    *quota.Limits
	events   *admin.Hub
	admin    *admin.Local
	hooks    *hooks
	started  time.Time
	modules  []any
	adders   []userAdder
	removers []userRemover
	enders   []sessionEnder
	runners  []runner

	// rooms is the room engine (mod/muc) for the admin and the family
	// room; familyRoom keeps the family room. Both nil without one.
	rooms      rooms
	familyRoom *family.Room

	// life is done when the server's lifetime ends: Serve's context is
	// done (endLife). Work that outlives an admin call is bound to it.
	life    context.Context
	endLife context.CancelFunc
	// serving is closed once Serve has started every listener.
	serving chan struct{}

	mu        sync.Mutex
	listeners []admin.Listener
	s2s       s2sListener
}

// The module contract: every feature package has New(Deps) and these; the
// server collects the optional ones in New.
type (
	// registrar installs a module's handlers and observers.
	registrar interface{ Register(*router.Mux) }
	// featurer is what a module advertises in service discovery.
	featurer interface{ Features() router.Features }
	// userAdder is told about a new account (the family circle).
	userAdder interface {
		UserAdded(ctx context.Context, user string) error
	}
	// userRemover forgets what a module keeps about a deleted account.
	userRemover interface {
		UserRemoved(ctx context.Context, user string)
	}
	// sessionEnder is told that a session ended (its presence, state).
	sessionEnder interface {
		SessionEnded(ctx context.Context, s *router.Session)
	}
	// runner has work of its own while the server serves (the archive's
	// retention); Run returns once ctx is done.
	runner interface{ Run(ctx context.Context) }
	// streamFeaturer offers stream features.
	streamFeaturer interface{ StreamFeatures() []c2s.Feature }
	// streamElementer handles non-stanza elements on bound streams.
	streamElementer interface{ StreamElements() []c2s.Element }
	// bindInliner turns features on inside a Bind 2 request (XEP-0386).
	bindInliner interface{ BindInlines() []c2s.Inline }
	// webRouter adds routes to the HTTPS listener.
	webRouter interface{ Routes(*web.Mux) }
)

// New builds a server over an open database.
func New(cfg Config, db *storage.DB) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server config: %w", err)
	}
	cfg = cfg.withDefaults()
	log := cfg.Log
	s := &Server{cfg: cfg, db: db, events: admin.NewHub(), started: time.Now(), serving: make(chan struct{})}
	s.life, s.endLife = context.WithCancel(context.Background())
	h := &hooks{s}
	s.hooks = h
	part := func(name string) *slog.Logger { return log.With("part", name) }

	s.quota = cfg.Quotas.limits()
	q := s.quota
	r := router.New(router.Config{Domain: cfg.Domain, Log: part("router"), Accounts: accounts{db}, Sessions: h})
	s.router = r
	s.offline = offline.New(offline.Deps{DB: db, Router: r, Domain: cfg.Domain, Max: cfg.OfflineMax, Log: part("offline")})
	s.push = push.New(push.Deps{DB: db, Router: r, Domain: cfg.Domain, Content: cfg.PushContent, Log: part("push")})

	// The modules, each given what it needs. The order of this list is
	// the order they register in (observers run in it) and are told about
	// removed accounts and ended sessions: presence before the rest, so
	// that a session's unavailable presence goes out first.
	s.roster = roster.New(roster.Deps{DB: db, Router: r, Events: h, Quota: q, Log: part("roster")})
	s.pep = pep.New(pep.Deps{DB: db, Router: r, Visibility: s.roster, Quota: q, Log: part("pep")})
	lastMod := last.New(last.Deps{DB: db, Router: r, Visibility: s.roster, Started: s.started, Log: part("last")})
	presenceMod := presence.New(presence.Deps{DB: db, Router: r, Roster: s.roster, Offline: s.offline, Last: lastMod, Events: h, Watcher: s.pep,
		Invites: invite.Tokens{DB: db, Log: part("invite")}, Log: part("presence")})
	s.family = family.New(family.Deps{DB: db, Roster: s.roster, Presence: presenceMod, Domain: cfg.Domain, Log: part("family")})
	s.invites = invite.New(invite.Deps{DB: db, Domain: cfg.Domain, Accounts: h, Friends: s.family, CAPage: cfg.CAPage, Log: part("invite")})
	s.archive = mam.New(mam.Deps{DB: db, Router: r, Domain: cfg.Domain, Off: cfg.ArchiveOff, Retention: cfg.ArchiveRetention, Log: part("mam")})
	s.web = web.New(web.Config{Domain: cfg.Domain, TLS: cfg.TLS, Log: part("https")})
	if err := s.web.SetPublicURL(cfg.PublicURL); err != nil {
		cfg.Log.Warn("http.public_url is not used: "+err.Error(), "key", settings.KeyPublicURL)
	}
	up, err := upload.New(upload.Deps{DB: db, Router: r, Domain: cfg.Domain, DataDir: cfg.DataDir, Web: s.web, Limits: cfg.Upload, Log: part("upload")})
	if err != nil {
		return nil, err
	}
	s.upload = up
	s.modules = []any{
		presenceMod,
		s.roster,
		s.family,
		s.offline,
		carbons.New(carbons.Deps{Router: r, Log: part("carbons")}),
		s.push,
		s.archive,
		csi.New(),
		blocking.New(blocking.Deps{DB: db, Router: r, Presence: presenceMod, Quota: q, Log: part("blocking")}),
		lastMod,
		ping.New(ping.Deps{Visibility: s.roster, Log: part("ping")}),
		version.New(cfg.Version),
		clock.New(),
		vcard.New(vcard.Deps{DB: db, Quota: q, Avatar: s.pep, Log: part("vcard")}),
		private.New(private.Deps{DB: db, Quota: q, Bookmarks: s.pep, Log: part("private")}),
		register.New(register.Deps{DB: db, Router: r, Accounts: h, Log: part("register")}),
		session.New(),
		s.pep,
		s.upload,
		s.invites,
	}
	// Chat rooms (XEP-0045) on conference.<domain>, archived beside the
	// accounts' archives (mam.Rooms); the admin API and the family room
	// reach them through s.rooms.
	s.muc = muc.New(muc.Deps{DB: db, Router: r, Domain: cfg.Domain, Archive: mam.NewRooms(s.archive), Log: part("muc")})
	s.modules = append(s.modules, s.muc)
	// The publish-subscribe service on pubsub.<domain> (XEP-0060).
	s.modules = append(s.modules, pubsubsvc.New(pubsubsvc.Deps{DB: db, Router: r, Domain: cfg.Domain, Visibility: s.roster, Quota: q, Log: part("pubsub")}))
	s.rooms = adaptRooms(s.muc, muc.ErrNoRoom)
	s.calls = newCalls(cfg, part("turn"))
	s.modules = append(s.modules, extdisco.New(extdisco.Deps{Domain: cfg.Domain, Services: s.calls, Log: part("extdisco")}))
	if cfg.LinkLocal.Host != "" {
		s.lanchat = lanchat.New(lanchat.Deps{DB: db, Router: r, Domain: cfg.Domain, Host: cfg.LinkLocal.Host, Addr: cfg.LinkLocal.Addr,
			Ifaces: cfg.LinkLocal.Ifaces, TLS: cfg.TLS, Enabled: !cfg.LinkLocal.Off, Log: part("lanchat")})
		s.modules = append(s.modules, s.lanchat)
	}
	for _, build := range cfg.Modules {
		m := build(r)
		s.modules = append(s.modules, m)
		if x, ok := m.(rooms); ok {
			s.rooms = x // a stand-in for the room engine (tests)
		}
	}
	// The family room, where there is a room engine.
	if s.rooms != nil {
		s.familyRoom = family.NewRoom(family.RoomDeps{DB: db, Rooms: s.rooms, Bookmarks: s.pep, Domain: cfg.Domain, Log: part("family")})
		s.modules = append(s.modules, s.familyRoom)
	}
	// Ad-hoc commands (XEP-0050), service administration's (XEP-0133)
	// among them.
	commands := adhoc.New(adhoc.Deps{Domain: cfg.Domain, Log: part("adhoc")})
	s.svcAdmin = svcadmin.New(svcadmin.Deps{Domain: cfg.Domain, Router: r, Adhoc: commands, Admin: adminCommands{s}, Log: part("svcadmin")})
	inviteCommands(commands, s, s.svcAdmin.IsAdmin, part("invite"))
	s.modules = append(s.modules, commands)
	// Service discovery lists what the modules above declare.
	var features []router.Features
	for _, m := range s.modules {
		if f, ok := m.(featurer); ok {
			features = append(features, f.Features())
		}
	}
	s.modules = append(s.modules, disco.New(disco.Deps{Router: r, Visibility: s.roster, Features: features,
		Items: hostItems{mux: r.Mux(), domain: cfg.Domain, off: s.hostOff}, AccountIdentities: [][2]string{pep.Identity}, Nodes: s.pep, ServerNodes: commands, Contacts: disco.SettingsContacts{DB: db, Log: part("disco")}, Log: part("disco")}))

	var streamFeatures []c2s.Feature
	var elements []c2s.Element
	var inlines []c2s.Inline
	for _, m := range s.modules {
		if x, ok := m.(registrar); ok {
			x.Register(r.Mux())
		}
		if x, ok := m.(userAdder); ok {
			s.adders = append(s.adders, x)
		}
		if x, ok := m.(userRemover); ok {
			s.removers = append(s.removers, x)
		}
		if x, ok := m.(sessionEnder); ok {
			s.enders = append(s.enders, x)
		}
		if x, ok := m.(runner); ok {
			s.runners = append(s.runners, x)
		}
		if x, ok := m.(streamFeaturer); ok {
			streamFeatures = append(streamFeatures, x.StreamFeatures()...)
		}
		if x, ok := m.(streamElementer); ok {
			elements = append(elements, x.StreamElements()...)
		}
		if x, ok := m.(bindInliner); ok {
			inlines = append(inlines, x.BindInlines()...)
		}
		if x, ok := m.(webRouter); ok {
			x.Routes(s.web.Mux())
		}
	}
	tokenKey, err := fastKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}

	s.c2s = c2s.New(c2s.Config{
		Domain:        cfg.Domain,
		TLS:           cfg.TLS,
		Router:        r,
		Accounts:      db,
		Lost:          s.offline,
		Features:      streamFeatures,
		Elements:      elements,
		Inlines:       inlines,
		Registrar:     s.invites,
		Tokens:        db,
		TokenKey:      tokenKey,
		TokenLifetime: cfg.TokenLifetime,
		Limits:        cfg.Limits,
		AuthTimeout:   cfg.AuthTimeout,
		IdleTimeout:   cfg.IdleTimeout,
		ResumeTimeout: cfg.ResumeTimeout,
		QueueLimit:    cfg.QueueLimit,
		QueueBytes:    cfg.QueueBytes,
		WriteTimeout:  cfg.WriteTimeout,
		AuthFailures:  cfg.AuthFailures,
		Conns:         cfg.Conns,
		Quota:         q,
		Log:           part("c2s"),
	})
	// XMPP over WebSocket (RFC 7395) on the HTTPS listener.
	s.c2s.Routes(s.web.Mux())

	s.newComponents()

	fed, err := newFederation(cfg, r)
	if err != nil {
		return nil, err
	}
	s.fed = fed
	r.Mux().Remote(fed)

	s.admin = &admin.Local{DB: db, Domain: cfg.Domain, DataDir: cfg.DataDir, Live: h, Events: s.events, LogRing: cfg.LogRing}
	if s.rooms != nil {
		s.admin.MUC = s.rooms
	}
	return s, nil
}

// Serving is closed once Serve has opened its listeners and applied the
// settings that open more (federation.enabled).
func (s *Server) Serving() <-chan struct{} { return s.serving }

// Admin returns the live admin API.
func (s *Server) Admin() admin.API { return s.admin }

// Serve serves the listeners until ctx is done and everything has stopped.
func (s *Server) Serve(ctx context.Context, ls Listeners) error {
	// The server's lifetime, which bounds the work that outlives an admin
	// call, ends with ctx.
	context.AfterFunc(ctx, s.endLife)
	// The family circle catches up with accounts added and settings
	// changed while no server ran, before any client is let in.
	if v, err := s.admin.Values(ctx); err != nil {
		s.cfg.Log.Warn("the family circle and the family room were not checked: the settings could not be read", "err", err)
	} else {
		s.applyMUC(v) // the chat rooms' limits, as set
		s.svcAdmin.SetMOTD(v.String(settings.KeyMOTD))
		s.svcAdmin.SetAdmins(v.String(settings.KeyAdmins))
		if err := s.applyFamily(ctx, v); err != nil {
			s.cfg.Log.Error("the family circle was not completed at start; it is tried again at the next start, or when family.circle is set on again", "err", err)
		}
		// The room is not made yet: its owners are kept for when it is.
		_ = s.applyFamilyOwners(ctx, v)
		if err := s.applyFamilyRoom(ctx, v); err != nil {
			s.cfg.Log.Error("the family room was not completed at start; it is tried again at the next start, or when muc.family_room is set again", "err", err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)

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
	// The modules' own work runs while the listeners do (Serve with no
	// listener returns at once, as before).
	runCtx, stopRunners := context.WithCancel(ctx)
	var runners sync.WaitGroup
	for _, m := range s.runners {
		runners.Go(func() { m.Run(runCtx) })
	}
	serve("c2s", ls.C2S, false)
	serve("c2s-tls", ls.C2STLS, true)
	if ls.HTTP != nil {
		s.mu.Lock()
		s.listeners = append(s.listeners, admin.Listener{Name: "https", Addr: ls.HTTP.Addr().String()})
		s.mu.Unlock()
		wg.Go(func() {
			if err := s.web.Serve(ctx, ls.HTTP); err != nil {
				errs <- fmt.Errorf("https: %w", err)
			}
		})
	}
	s.startFederation(ctx, ls.S2S, &wg)
	s.startComponents(ctx, ls.Component, &wg)
	s.calls.start(ctx)
	close(s.serving)
	// Links to other servers end as soon as the server stops: what waits
	// for them goes back to its senders while their sessions still stand.
	context.AfterFunc(ctx, s.fed.Close)
	wg.Wait()
	s.calls.stop()
	s.push.Close()
	s.pep.Close()
	s.muc.Close()
	stopRunners()
	runners.Wait()
	s.fed.Close()
	// Every session has ended: what they could not write is stored.
	// Deliveries under way end with them; deletes still owed are tried
	// once more. The database's close commits what is still queued.
	s.offline.Close()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// applySetting applies a live setting that changed (settings.Spec.Live);
// the contact addresses need nothing, disco reads them at each query, and
// the LAN announcement is the command's.
//
// It returns the error of a setting that could not be applied (the family
// circle), for the admin call to report.
func (s *Server) applySetting(ctx context.Context, key string) error {
	v, err := s.admin.Values(ctx)
	if err != nil {
		s.cfg.Log.Warn("changed setting not applied: settings could not be read", "key", key, "err", err)
		return fmt.Errorf("%s was saved but not applied: the settings could not be read: %w", key, err)
	}
	switch key {
	case settings.KeyStanzaBytes:
		l := s.cfg.Limits
		l.MaxStanza = v.Int(key)
		s.c2s.SetLimits(l)
	case settings.KeyOfflineMessages:
		s.offline.SetMax(v.Int(key))
	case settings.KeyIdleTimeout:
		s.c2s.SetIdleTimeout(v.Duration(key))
	case settings.KeyResumeTimeout:
		s.c2s.SetResumeTimeout(v.Duration(key))
	case settings.KeyPushContent:
		s.push.SetContent(v.String(key))
	case settings.KeyTokenLifetime:
		s.c2s.SetTokenLifetime(v.Duration(key))
	case settings.KeyTURNLifetime:
		s.calls.setLifetime(v.Duration(key))
	case settings.KeyConnsPerAddress, settings.KeyUnauthPerAddr, settings.KeyUnauth:
		s.c2s.SetConnLimits(connLimits(v))
	case settings.KeyFederation, settings.KeyFederationAllow, settings.KeyFederationBlock:
		if err := s.applyFederation(v); err != nil {
			s.cfg.Log.Error("federation setting saved but not applied", "key", key, "err", err)
			return err
		}
	case settings.KeyMAM:
		s.archive.SetEnabled(v.Bool(key))
	case settings.KeyMOTD:
		s.svcAdmin.SetMOTD(v.String(key))
	case settings.KeyAdmins:
		s.svcAdmin.SetAdmins(v.String(key))
		if err := s.applyFamilyOwners(ctx, v); err != nil {
			s.cfg.Log.Error("the administrators were not all made owners of the family room; setting admin.jids again retries", "err", err)
		}
	case settings.KeyUploadMaxFile, settings.KeyUploadQuota, settings.KeyUploadDaily, settings.KeyUploadExpiry:
		s.upload.SetLimits(uploadLimits(v))
	case settings.KeyPublicURL:
		if err := s.web.SetPublicURL(v.String(key)); err != nil {
			return fmt.Errorf("%s was saved but not applied: %w", key, err)
		}
	case settings.KeyLinkLocal:
		if s.lanchat != nil {
			s.lanchat.SetEnabled(v.Bool(key))
		}
	case settings.KeyMUCRooms, settings.KeyMUCOccupants, settings.KeyMUCNick, settings.KeyMUCRate, settings.KeyMUCArchive:
		s.applyMUC(v)
	case settings.KeyMAMRetention:
		if err := s.archive.SetRetention(ctx, retention(v)); err != nil {
			s.cfg.Log.Error("old archived messages were not deleted now; the server tries again within an hour", "err", err)
			return fmt.Errorf("%s was saved, but old archived messages were not deleted now (the server tries again within an hour): %w", key, err)
		}
	case settings.KeyFamilyCircle, settings.KeyFamilyGroup:
		if err := s.applyFamily(ctx, v); err != nil {
			s.cfg.Log.Error("the family circle could not be completed; setting it again retries", "key", key, "value", v.String(key), "err", err)
			return fmt.Errorf("the family circle could not be completed: %w; set it again to retry", err)
		}
	case settings.KeyFamilyRoom:
		if err := s.applyFamilyRoom(ctx, v); err != nil {
			s.cfg.Log.Error("the family room could not be completed; setting it again retries", "value", v.String(key), "err", err)
			return fmt.Errorf("the family room could not be completed: %w; set it again to retry", err)
		}
	default:
		f, ok := quotaKeys[key]
		if !ok {
			return nil
		}
		f(s.quota).Store(int64(v.Int(key)))
	}
	s.cfg.Log.Info("setting applied", "key", key, "value", v.String(key))
	return nil
}

// applyMUC sets the chat rooms' limits as the settings say.
func (s *Server) applyMUC(v settings.Values) {
	s.muc.SetLimits(v.Int(settings.KeyMUCRooms), v.Int(settings.KeyMUCOccupants), v.Int(settings.KeyMUCNick))
	s.muc.SetRate(v.Int(settings.KeyMUCRate))
	s.muc.SetArchiveByDefault(v.Bool(settings.KeyMUCArchive))
}

// applyFamily sets the family circle as the settings say; turning it on
// makes every account a contact of every other before it returns. The
// work goes on when the caller gives up (a window's time limit, Ctrl-C
// on the command line): a circle left half made is worse than a late
// answer. Only the server's end stops it.
func (s *Server) applyFamily(ctx context.Context, v settings.Values) error {
	ctx, cancel := s.detach(ctx)
	defer cancel()
	return s.family.Set(ctx, v.Bool(settings.KeyFamilyCircle), v.String(settings.KeyFamilyGroup))
}

// detach returns a context with ctx's values that is done only when the
// server's lifetime ends (Serve's context), not when ctx is.
func (s *Server) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() { stop(); cancel() }
}

// hostItems lists the local hosts (conference, upload, ...) as the
// server's disco items (XEP-0030 4.1); the hosts only our accounts reach
// (the LAN bridge) only to them.
type hostItems struct {
	mux    *router.Mux
	domain string
	off    func(domain string) bool // a host whose service cannot work now
}

func (h hostItems) Items(_ context.Context, from jid.JID) []disco.Item {
	var out []disco.Item
	for _, d := range h.mux.Listed() {
		if h.off == nil || !h.off(d) {
			out = append(out, disco.Item{JID: jid.JID{Domain: d}})
		}
	}
	if from.Domain == h.domain {
		for _, d := range h.mux.LocalHosts() {
			out = append(out, disco.Item{JID: jid.JID{Domain: d}})
		}
	}
	return out
}

// hostOff reports the hosts not to list in disco: file upload while
// there is no HTTPS listener and no public URL to give out.
func (s *Server) hostOff(domain string) bool {
	return s.upload != nil && domain == s.upload.Host() && s.web.BaseURL() == ""
}

// accounts answers the router's existence checks from storage.
type accounts struct{ db *storage.DB }

func (a accounts) Exists(ctx context.Context, user string) (bool, error) {
	return a.db.UserExists(ctx, user)
}

// fastKey is the key FAST tokens are derived with: kept in the data
// directory beside the database (and never in it), or, with no data
// directory, made for this process.
func fastKey(dir string) ([]byte, error) {
	if dir == "" {
		return nil, nil
	}
	key, err := c2s.LoadTokenKey(dir)
	if err != nil {
		return nil, fmt.Errorf("fast login: %w", err)
	}
	return key, nil
}
