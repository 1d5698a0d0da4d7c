package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"hearth/certs"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/settings"
	"hearth/storage"
)

// serveOptions are the flags of hearth serve.
type serveOptions struct {
	data, domain     string
	c2s, c2sTLS      string
	s2s, http        string
	caPage           string
	turn             string
	component        string
	headless, noMDNS bool
	logLevel         string
	acme             acmeOptions
}

// acmeOptions are the flags of acme mode; each overrides its setting for
// the run.
type acmeOptions struct {
	ca, caRoot, email string
	http, tlsALPN     string
}

// serve runs the server: load the options, open the data, build the
// server, listen, run everything in one group, show the GUI.
func (c *cli) serve(ctx context.Context, args []string) error {
	o, err := c.serveOptions(args)
	if err != nil {
		return err
	}
	log, ring, err := c.logger(o.logLevel)
	if err != nil {
		return err
	}
	tuneGC(c.getenv)
	d, err := c.openServeData(ctx, o, log)
	if errors.Is(err, storage.ErrInUse) && !o.headless && guiAvailable() && c.showRunning(ctx, o) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.db.Close()
	ls, err := listenAll(d.dir, o)
	if err != nil {
		return err
	}
	defer ls.close()
	tlsCerts, err := d.startCerts(ctx, o, log.With("part", "certs"))
	if err != nil {
		return err
	}
	defer tlsCerts.Close()
	page, err := listenPage(o.caPage, tlsCerts, log)
	if err != nil {
		return err
	}
	defer page.close()
	cfg, err := d.serverConfig(ctx, log)
	if err != nil {
		return err
	}
	cfg.TLS = tlsCerts.TLSConfig
	cfg.LogRing = ring
	// Calls: relays are announced on the public address unless the
	// certificates are the home CA's (a LAN name).
	cfg.TURN.Public = tlsCerts.Mode() != certs.ModeLocal
	switch o.turn {
	case "":
	case "off":
		cfg.TURN.On = false
	default:
		// TURN over TLS on the same address; a free port when the flag
		// asks for one (tests).
		cfg.TURN.Addr = o.turn
		if h, p, err := net.SplitHostPort(o.turn); err == nil && cfg.TURN.TLSAddr != "" {
			if p != "0" {
				_, p, _ = net.SplitHostPort(cfg.TURN.TLSAddr)
			}
			cfg.TURN.TLSAddr = net.JoinHostPort(h, p)
		}
	}
	cfg.Certificates = func() admin.Certificates { return admin.CertificatesOf(tlsCerts, page.URL()) }
	l := &lan{values: d.admin, domain: d.domain, flagOff: o.noMDNS,
		port: lanPort(ls.server.C2S), tlsPort: lanPort(ls.server.C2STLS),
		hosts: listenHosts(ls.server.C2S, ls.server.C2STLS), log: log.With("part", "mdns")}
	cfg.LAN = l.status
	if !o.noMDNS {
		// Chat on the LAN (XEP-0174) announces accounts on the same host
		// name as the server's announcement; --no-mdns leaves it out.
		cfg.LinkLocal.Host = mdnsHost(d.domain)
	}
	cfg.CAPage = page.URL()
	srv, err := server.New(cfg, d.db)
	if err != nil {
		return err
	}
	page.withInvites(srv.InvitePage())
	l.api = srv.Admin()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(gctx, ls.server); err != nil {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	})
	ctl := &control{API: srv.Admin(), stop: func(why string) {
		log.Info("stopping: " + why)
		cancel()
	}}
	g.Go(func() error { return admin.Serve(gctx, ls.admin, ctl) })
	g.Go(func() error { return l.run(gctx) })
	g.Go(func() error { return page.serve(gctx) })
	backups := &backupScheduler{local: d.admin, log: log.With("part", "backup"), now: time.Now}
	g.Go(func() error { return backups.run(gctx) })

	fed := "federation off"
	select {
	case <-srv.Serving():
		if a := srv.S2SAddr(); a != "" {
			fed = "federation " + a
		}
	case <-gctx.Done():
	}
	fmt.Fprintf(c.stderr, "hearth: serving %s (c2s %s, c2s-tls %s, %s, CA page %s, https %s)\n", d.domain, addr(ls.server.C2S), addr(ls.server.C2STLS), fed, page.shown(), addr(ls.server.HTTP))
	if !o.headless && guiAvailable() {
		// Fyne runs on the main goroutine; the server in the group's.
		if err := runGUI(gctx, ctl, stopCommand(hearthCommand(), o.data, d.dir)); err != nil {
			log.Error("no GUI; serving headless", "err", err)
		}
	}
	<-gctx.Done()
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// showRunning asks the Hearth that runs on the data directory to show its
// window, as starting Hearth again from its launcher means; it reports
// whether it did. One that has no window (headless) leaves the refusal
// to be said.
func (c *cli) showRunning(ctx context.Context, o serveOptions) bool {
	dir, err := c.dataDir(o.data)
	if err != nil {
		return false
	}
	api, err := admin.Dial(dir)
	if err != nil {
		return false
	}
	client := api.(*admin.Client)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if client.ShowWindow(ctx) != nil {
		return false
	}
	fmt.Fprintf(c.stderr, "hearth: Hearth already runs on %s; its window is shown again\n", dir)
	return true
}

// serveOptions reads the flags of hearth serve.
func (c *cli) serveOptions(args []string) (serveOptions, error) {
	fs := c.newFlagSet("serve", "hearth [serve] [flags]")
	var o serveOptions
	fs.StringVar(&o.data, "data", "", "data `directory` (default $XDG_DATA_HOME/hearth, else ~/.local/share/hearth)")
	fs.StringVar(&o.domain, "domain", "", "the XMPP `domain` (default: the stored setting, else <hostname>.local)")
	fs.StringVar(&o.c2s, "c2s", ":5222", "client STARTTLS listener `address` (off: none)")
	fs.StringVar(&o.c2sTLS, "c2s-tls", ":5223", "client direct-TLS listener `address` (off: none)")
	fs.StringVar(&o.s2s, "s2s", ":5269", "federation listener `address`, STARTTLS and direct TLS (XEP-0368) on one port; open only while federation.enabled is on (off: other servers cannot connect)")
	fs.StringVar(&o.http, "http", ":5443", "HTTPS listener `address`: shared files (XEP-0363); clients are given https://<domain>:<port>, or the setting http.public_url (off: none)")
	fs.StringVar(&o.turn, "turn", "", "STUN/TURN `address`, UDP and TCP, for calls (default: port turn.port on every address; off: none this run)")
	fs.StringVar(&o.component, "component", "", "external components' listener `address` (XEP-0114; default: the setting components.listen, 127.0.0.1:5347; off: none this run)")
	fs.StringVar(&o.caPage, "ca-page", ":5380", "plain-HTTP `address` of the page where devices fetch the home CA (local mode; off: none)")
	fs.StringVar(&o.acme.ca, "acme-ca", "", "ACME directory `URL` (default: setting acme.ca, else Let's Encrypt)")
	fs.StringVar(&o.acme.caRoot, "acme-ca-root", "", "PEM `file` of a root to trust for the ACME server's HTTPS (a private ACME server)")
	fs.StringVar(&o.acme.email, "acme-email", "", "`address` the ACME CA writes to (default: setting acme.email)")
	fs.StringVar(&o.acme.http, "acme-http", "", "`address` to answer HTTP-01 on, for a router that forwards port 80 there (off: none; default :80)")
	fs.StringVar(&o.acme.tlsALPN, "acme-tls-alpn", "", "`address` to answer TLS-ALPN-01 on, for a router that forwards port 443 there (off: none; default :443)")
	fs.BoolVar(&o.headless, "headless", false, "no GUI")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not advertise on the LAN")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	pos, err := c.parse(fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) > 0 {
		if commands[pos[0]] {
			return o, usagef("flags go after the command: hearth %s ... --data DIR", pos[0])
		}
		return o, usagef("serve: unexpected argument %q", pos[0])
	}
	return o, nil
}

// logger is the log of a serve run: standard error at level, and the
// admin window's log view (the ring) at level or info, whichever shows
// more, so that the window shows logins even when standard error shows
// only warnings.
func (c *cli) logger(level string) (*slog.Logger, *admin.LogRing, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	ring := admin.NewLogRing(admin.DefaultLogRecords)
	h := admin.LogTee(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: l}), ring.Handler(min(l, slog.LevelInfo)))
	return slog.New(h), ring, nil
}

// tuneGC sets a smaller GC headroom unless GOGC is set. Hearth runs on
// small machines (a Raspberry Pi), where memory is scarcer than CPU: it
// cuts the resident size per idle connection by a sixth (24 -> 20 KiB at
// 10,000) for a few percent of CPU under load.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}

// serveData is the data directory of a serve run, opened.
type serveData struct {
	dir    string
	db     *storage.DB
	domain string
	admin  *admin.Local // settings, before the server runs
}

// openServeData opens the database in the data directory, which it holds
// for this process until the server stops (a second server is refused
// here, before it takes any port), and settles the domain: given, else
// stored, else the default, stored on the first run.
func (c *cli) openServeData(ctx context.Context, o serveOptions, log *slog.Logger) (*serveData, error) {
	dir, err := c.dataDir(o.data)
	if err != nil {
		return nil, err
	}
	db, stored, err := openData(ctx, dir)
	if errors.Is(err, storage.ErrInUse) {
		return nil, fmt.Errorf("%w. Only one Hearth may use a data directory at a time: stop the other one first (hearth stop, or Stop the server in its window), or give this one another --data", err)
	}
	if err != nil {
		return nil, err
	}
	d := &serveData{dir: dir, db: db, admin: &admin.Local{DB: db, DataDir: dir}}
	d.domain, _, err = pickDomain(o.domain, stored, "")
	if err != nil {
		db.Close()
		return nil, err
	}
	switch {
	case stored == "":
		if _, err := d.admin.SetSetting(ctx, settings.KeyDomain, d.domain); err != nil {
			db.Close()
			return nil, err
		}
		log.Info("first run: domain stored", "domain", d.domain)
	case stored != d.domain:
		log.Info("domain given for this run differs from the stored setting", "domain", d.domain, "stored", stored)
	}
	d.admin.Domain = d.domain
	return d, nil
}

// serverConfig is the server's configuration from the stored settings.
func (d *serveData) serverConfig(ctx context.Context, log *slog.Logger) (server.Config, error) {
	v, err := d.admin.Values(ctx)
	if err != nil {
		return server.Config{}, err
	}
	cfg := server.Config{
		Domain:  d.domain,
		DataDir: d.dir,
		Version: hearthVersion(),
		Log:     log,
	}
	cfg.Set(v)
	return cfg, nil
}

// startCerts starts the certificates of the mode the settings choose, the
// flags of this run overriding the ACME settings. A certificate the mode
// cannot get yet is no error: the home CA's stands in.
func (d *serveData) startCerts(ctx context.Context, o serveOptions, log *slog.Logger) (*certs.Manager, error) {
	v, err := d.admin.Values(ctx)
	if err != nil {
		return nil, err
	}
	c := certs.Config{
		DataDir:  d.dir,
		Domain:   d.domain,
		Mode:     v.String(settings.KeyTLSMode),
		CertFile: v.String(settings.KeyCertFile),
		KeyFile:  v.String(settings.KeyKeyFile),
		Log:      log,
		ACME: certs.ACME{
			CA:          or(o.acme.ca, v.String(settings.KeyACMECA)),
			Email:       or(o.acme.email, v.String(settings.KeyACMEEmail)),
			HTTPAddr:    o.acme.http,
			TLSALPNAddr: o.acme.tlsALPN,
			DNSToken:    v.String(settings.KeyDNSToken),
		},
	}
	if p := v.String(settings.KeyDNSProvider); p != "none" {
		c.ACME.DNSProvider = p
	}
	if o.acme.caRoot != "" {
		data, err := os.ReadFile(o.acme.caRoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		if c.ACME.Roots, err = certs.ParseRoots(data); err != nil {
			return nil, fmt.Errorf("--acme-ca-root %s: %w", o.acme.caRoot, err)
		}
	}
	m, err := certs.Start(ctx, c)
	if err != nil {
		return nil, err
	}
	log.Info("certificates ready", "mode", m.Mode())
	return m, nil
}

// or is a if it is set, else b.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// listeners are the sockets of a serve run.
type listeners struct {
	admin  net.Listener
	server server.Listeners
}

// listenAll opens the admin socket, then the client ports. The database's
// lock has refused a second server already; the socket's own check still
// refuses one that runs without it (an older Hearth).
func listenAll(dir string, o serveOptions) (*listeners, error) {
	ls := &listeners{}
	var err error
	if ls.admin, err = admin.Listen(dir); err != nil {
		return nil, err
	}
	if ls.server.C2S, err = listen(o.c2s); err != nil {
		ls.close()
		return nil, fmt.Errorf("c2s: %w", err)
	}
	if ls.server.C2STLS, err = listen(o.c2sTLS); err != nil {
		ls.close()
		return nil, fmt.Errorf("c2s-tls: %w", err)
	}
	if ls.server.HTTP, err = listen(o.http); err != nil {
		ls.close()
		return nil, fmt.Errorf("https: %w", err)
	}
	if o.s2s != "" && o.s2s != "off" {
		// Opened by the server while federation is on.
		address := o.s2s
		ls.server.S2S = func() (net.Listener, error) { return net.Listen("tcp", address) }
	}
	// External components (XEP-0114): the server opens the address of
	// its setting components.listen, or --component's.
	if o.component != "off" {
		flag := o.component
		ls.server.Component = func(address string) (net.Listener, error) { return net.Listen("tcp", or(flag, address)) }
	}
	return ls, nil
}

// close closes the listeners that are open (the server closes its own as
// it stops; closing again is harmless).
func (ls *listeners) close() {
	for _, ln := range []net.Listener{ls.admin, ls.server.C2S, ls.server.C2STLS, ls.server.HTTP} {
		if ln != nil {
			ln.Close()
		}
	}
}

// listen opens a TCP listener; "" and "off" mean none.
func listen(address string) (net.Listener, error) {
	if address == "" || address == "off" {
		return nil, nil
	}
	return net.Listen("tcp", address)
}

func addr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}
