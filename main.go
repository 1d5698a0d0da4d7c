// Command hearth is an XMPP server for a home, with an admin window.
//
// This file is the composition root: it reads the command line and the
// environment (nowhere else does), picks the data directory, sets up
// logging and signals, and wires storage -> certs -> server -> admin socket
// -> GUI. It owns every top-level goroutine.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"hearth/certs"
	"hearth/discovery"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/load"
	"hearth/storage"
)

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version string

const (
	dbName = "hearth.db"
	// adminTimeout bounds one admin subcommand.
	adminTimeout = time.Minute
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usageText = `usage:
  hearth [serve] [flags]              run the server, with the GUI when a display is there
    --data DIR        data directory (default $XDG_DATA_HOME/hearth, else ~/.local/share/hearth)
    --domain NAME     the XMPP domain (stored in settings on first run)
    --c2s ADDR        client STARTTLS listener (default :5222; "off" for none)
    --c2s-tls ADDR    client direct-TLS listener (default :5223; "off" for none)
    --s2s ADDR        federation listener (default :5269; only when federation is on)
    --http ADDR       HTTPS listener (default :5443)
    --headless        no GUI
    --no-mdns         do not advertise on the LAN
    --log-level LEVEL debug, info, warn or error (default info)
  hearth user add|del|passwd|list|disable|enable [JID] [--password P]
  hearth roster list|add|del USER [CONTACT] [--name N] [--group G]...
  hearth config list|get|set [KEY] [VALUE]
  hearth status
  hearth bench ...                    load test a running server (hearth bench -h)
  hearth version

Every flag can also be set in the environment: HEARTH_DATA, HEARTH_DOMAIN,
HEARTH_C2S, HEARTH_C2S_TLS, HEARTH_S2S, HEARTH_HTTP, HEARTH_HEADLESS,
HEARTH_NO_MDNS, HEARTH_LOG_LEVEL. A flag beats the environment, which beats
the stored setting, which beats the default.

Admin commands talk to the running server over the Unix socket in the data
directory, or open the database directly when no server runs. A password is
taken from --password, else from one line of standard input; "user add"
without one generates a strong password and prints it once.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process as usual.
	context.AfterFunc(ctx, stop)
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one run of the command; its fields are the process's outside world.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError is a command line mistake: exit code 2. An empty msg means the
// flag package has printed the problem already.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...) + " (see hearth help)"}
}

// run runs the command in args and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		args = args[:0]
		cmd = "help"
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = c.serve(ctx, args)
	case "user":
		err = c.user(ctx, args)
	case "roster":
		err = c.roster(ctx, args)
	case "config":
		err = c.config(ctx, args)
	case "status":
		err = c.status(ctx, args)
	case "bench":
		err = load.Run(ctx, args, c.stdout)
	case "version":
		fmt.Fprintln(c.stdout, "hearth", hearthVersion())
	case "help":
		fmt.Fprint(c.stdout, usageText)
	default:
		err = usagef("unknown command %q", cmd)
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(c.stderr, "hearth:", ue.msg)
		}
		return exitUsage
	default:
		fmt.Fprintln(c.stderr, "hearth:", err)
		return exitError
	}
}

func hearthVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// commands are the subcommands besides serve.
var commands = map[string]bool{
	"user": true, "roster": true, "config": true, "status": true, "bench": true, "version": true, "help": true,
}

// envFlags are the flags that can also come from HEARTH_<NAME>.
var envFlags = map[string]bool{
	"data": true, "domain": true, "c2s": true, "c2s-tls": true, "s2s": true, "http": true,
	"headless": true, "no-mdns": true, "log-level": true,
}

// envName is the environment variable of a flag: --c2s-tls is HEARTH_C2S_TLS.
func envName(flagName string) string {
	return "HEARTH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func (c *cli) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and positional arguments in any order ("--" ends the
// flags), then sets the flags not given from the environment. It returns
// the positional arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{} // printed by fs
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []string
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || !envFlags[f.Name] {
			return
		}
		name := envName(f.Name)
		if v := c.getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	})
	if len(errs) > 0 {
		return nil, usageError{strings.Join(errs, "; ")}
	}
	return pos, nil
}

// dataDir returns the data directory, absolute, creating it with mode 0700.
func (c *cli) dataDir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		if xdg := c.getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
			dir = filepath.Join(xdg, "hearth")
		} else if home := c.getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".local", "share", "hearth")
		} else {
			return "", errors.New("no data directory: give --data or set HEARTH_DATA")
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	return dir, nil
}

// defaultDomain is <short hostname, lowercased>.local.
func defaultDomain() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, h)
	if h = strings.Trim(h, "-"); h == "" {
		h = "hearth"
	}
	return h + ".local"
}

// mdnsHost is the host name announced on the LAN: for a .local domain its
// first label, so that the domain itself resolves, else this machine's
// short name.
func mdnsHost(domain string) string {
	if rest, ok := strings.CutSuffix(domain, ".local"); ok {
		label, _, _ := strings.Cut(rest, ".")
		return label
	}
	return strings.TrimSuffix(defaultDomain(), ".local")
}

// lanPort is the port of a listener others on the LAN can reach, 0 for
// none or one bound to loopback.
func lanPort(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok || a.IP.IsLoopback() {
		return 0
	}
	return a.Port
}

// storedDomain returns the domain setting, or "" if none is stored.
func storedDomain(ctx context.Context, db *storage.DB) (string, error) {
	d, err := db.Setting(ctx, "domain")
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	return d, err
}

// pickDomain chooses the domain: given (flag or environment), else the
// stored setting, else hint, else the default <hostname>.local. explicit
// reports that it was not the default.
func pickDomain(given, stored, hint string) (domain string, explicit bool, err error) {
	for _, d := range []string{given, stored, hint} {
		if d != "" {
			domain, explicit = d, true
			break
		}
	}
	if domain == "" {
		domain = defaultDomain()
	}
	domain, err = admin.CheckSetting("domain", domain)
	return domain, explicit, err
}

// openData opens the database in the data directory and reads the stored
// domain ("" before the first run).
func openData(ctx context.Context, data string) (*storage.DB, string, error) {
	db, err := storage.Open(ctx, filepath.Join(data, dbName))
	if err != nil {
		return nil, "", err
	}
	stored, err := storedDomain(ctx, db)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	return db, stored, nil
}

// serveOptions are the flags of hearth serve.
type serveOptions struct {
	data, domain     string
	c2s, c2sTLS      string
	s2s, http        string
	headless, noMDNS bool
	logLevel         string
}

func (c *cli) serve(ctx context.Context, args []string) error {
	fs := c.newFlagSet("serve", "hearth [serve] [flags]")
	var o serveOptions
	fs.StringVar(&o.data, "data", "", "data `directory` (default $XDG_DATA_HOME/hearth, else ~/.local/share/hearth)")
	fs.StringVar(&o.domain, "domain", "", "the XMPP `domain` (default: the stored setting, else <hostname>.local)")
	fs.StringVar(&o.c2s, "c2s", ":5222", "client STARTTLS listener `address` (off: none)")
	fs.StringVar(&o.c2sTLS, "c2s-tls", ":5223", "client direct-TLS listener `address` (off: none)")
	fs.StringVar(&o.s2s, "s2s", ":5269", "federation listener `address` (reserved: federation is not in this build yet)")
	fs.StringVar(&o.http, "http", ":5443", "HTTPS listener `address` (reserved: not served by this build yet)")
	fs.BoolVar(&o.headless, "headless", false, "no GUI")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not advertise on the LAN")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		if commands[pos[0]] {
			return usagef("flags go after the command: hearth %s ... --data DIR", pos[0])
		}
		return usagef("serve: unexpected argument %q", pos[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: level}))
	if c.getenv("GOGC") == "" {
		// Hearth runs on small machines (a Raspberry Pi), where memory is
		// scarcer than CPU: a smaller GC headroom cuts the resident size
		// per idle connection by a sixth (24 -> 20 KiB at 10,000) for a
		// few percent of CPU under load. GOGC still overrides it.
		debug.SetGCPercent(50)
	}

	data, err := c.dataDir(o.data)
	if err != nil {
		return err
	}
	db, stored, err := openData(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	settings := &admin.Local{DB: db, DataDir: data}

	// The default domain is stored on first run.
	domain, _, err := pickDomain(o.domain, stored, "")
	if err != nil {
		return err
	}
	switch {
	case stored == "":
		if _, err := settings.SetSetting(ctx, "domain", domain); err != nil {
			return err
		}
		log.Info("first run: domain stored", "domain", domain)
	case stored != domain:
		log.Info("domain given for this run differs from the stored setting", "domain", domain, "stored", stored)
	}
	settings.Domain = domain

	cfg, err := serverConfig(ctx, settings)
	if err != nil {
		return err
	}
	cfg.Domain, cfg.DataDir, cfg.Version, cfg.Log = domain, data, hearthVersion(), log
	tlsCerts, err := certs.Load(data, domain)
	if err != nil {
		return err
	}
	cfg.TLS, cfg.CertFingerprint = tlsCerts.TLSConfig, tlsCerts.Fingerprint

	announce := !o.noMDNS
	if on, err := settings.SettingBool(ctx, "mdns.enabled"); err != nil {
		return err
	} else if !on {
		announce = false
	}

	srv, err := server.New(cfg, db)
	if err != nil {
		return err
	}
	// The admin socket first: it refuses a second server on the same data
	// directory before any port is taken.
	adminLn, err := admin.Listen(data)
	if err != nil {
		return err
	}
	var ls server.Listeners
	closeAll := func() {
		adminLn.Close()
		for _, ln := range []net.Listener{ls.C2S, ls.C2STLS} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if ls.C2S, err = listen(o.c2s); err != nil {
		closeAll()
		return fmt.Errorf("c2s: %w", err)
	}
	if ls.C2STLS, err = listen(o.c2sTLS); err != nil {
		closeAll()
		return fmt.Errorf("c2s-tls: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
		cancel()
	}
	wg.Go(func() {
		if err := srv.Serve(ctx, ls); err != nil {
			fail(fmt.Errorf("server: %w", err))
		}
	})
	wg.Go(func() {
		if err := admin.Serve(ctx, adminLn, srv.Admin()); err != nil {
			fail(err)
		}
	})
	if announce {
		a := discovery.Announcement{
			Instance: "Hearth on " + domain,
			Host:     mdnsHost(domain),
			Port:     lanPort(ls.C2S),
			TLSPort:  lanPort(ls.C2STLS),
			Domain:   domain,
		}
		if a.Port == 0 && a.TLSPort == 0 {
			log.Info("not announced on the LAN: no client listener is reachable from it")
		} else {
			wg.Go(func() {
				// Serving goes on without it: clients can still be given
				// the address by hand.
				if err := discovery.Announce(ctx, a, log.With("part", "mdns")); err != nil {
					log.Error("not announced on the LAN", "err", err)
				}
			})
		}
	}

	fmt.Fprintf(c.stderr, "hearth: serving %s (c2s %s, c2s-tls %s)\n", domain, addr(ls.C2S), addr(ls.C2STLS))

	if !o.headless && guiAvailable() {
		// Fyne runs on the main goroutine; the server runs in wg's.
		if err := runGUI(ctx, srv.Admin(), cancel); err != nil {
			log.Error("no GUI; serving headless", "err", err)
		}
	}
	<-ctx.Done()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// serverConfig fills the server's limits from the settings.
func serverConfig(ctx context.Context, l *admin.Local) (server.Config, error) {
	var cfg server.Config
	var err error
	if cfg.Limits.MaxStanza, err = l.SettingInt(ctx, "limits.stanza_bytes"); err != nil {
		return cfg, err
	}
	if cfg.OfflineMax, err = l.SettingInt(ctx, "limits.offline_messages"); err != nil {
		return cfg, err
	}
	if cfg.IdleTimeout, err = l.SettingDuration(ctx, "c2s.idle_timeout"); err != nil {
		return cfg, err
	}
	return cfg, nil
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

// adminFlags are the flags every admin subcommand has.
type adminFlags struct{ data, domain string }

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.data, "data", "", "data `directory` (default $XDG_DATA_HOME/hearth, else ~/.local/share/hearth)")
	fs.StringVar(&a.domain, "domain", "", "the XMPP `domain`, when no server runs and none is stored yet")
}

// withAPI runs fn on the running server's admin API, or, when no server
// runs, on the database in the data directory. userArg is the user the
// command is about, if any: on a data directory without a domain yet, its
// domain becomes the stored one.
func (c *cli) withAPI(ctx context.Context, a *adminFlags, userArg string, fn func(ctx context.Context, api admin.API) error) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	data, err := c.dataDir(a.data)
	if err != nil {
		return err
	}
	api, err := admin.Dial(data)
	if err == nil {
		defer api.(io.Closer).Close()
		return fn(ctx, api)
	}
	if !errors.Is(err, admin.ErrOffline) {
		return err
	}
	db, stored, err := openData(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	l := &admin.Local{DB: db, DataDir: data}
	// The domain of the user named stands in for an unset one. A domain
	// given explicitly is stored when none is, as serve would on its
	// first run.
	hint := ""
	if _, d, ok := strings.Cut(userArg, "@"); ok {
		hint, _, _ = strings.Cut(d, "/")
	}
	domain, explicit, err := pickDomain(a.domain, stored, hint)
	if err != nil {
		return err
	}
	if stored == "" && explicit {
		if _, err := l.SetSetting(ctx, "domain", domain); err != nil {
			return err
		}
	}
	l.Domain = domain
	return fn(ctx, l)
}

// args checks the number of positional arguments.
func args(pos []string, min, max int, synopsis string) error {
	if len(pos) < min || len(pos) > max {
		return usagef("usage: %s", synopsis)
	}
	return nil
}

func (c *cli) user(ctx context.Context, argv []string) error {
	const synopsis = "hearth user add|del|passwd|list|disable|enable [JID] [--password P]"
	fs := c.newFlagSet("user", synopsis)
	var a adminFlags
	a.register(fs)
	password := fs.String("password", "", "the `password` (default: one line of standard input)")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: %s", synopsis)
	}
	verb, pos := pos[0], pos[1:]
	passwordGiven := false
	fs.Visit(func(f *flag.Flag) { passwordGiven = passwordGiven || f.Name == "password" })

	if verb == "list" {
		if err := args(pos, 0, 0, "hearth user list"); err != nil {
			return err
		}
		return c.withAPI(ctx, &a, "", func(ctx context.Context, api admin.API) error {
			us, err := api.Users(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "JID\tSTATE\tSESSIONS\tCREATED")
			for _, u := range us {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", u.JID, state, u.Sessions, u.Created.Local().Format(time.DateTime))
			}
			return w.Flush()
		})
	}

	if err := args(pos, 1, 1, "hearth user "+verb+" JID"); err != nil {
		return err
	}
	user := pos[0]
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "add", "passwd":
		pw, generated, err := c.password(*password, passwordGiven, verb == "add")
		if err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			if verb == "passwd" {
				return api.SetPassword(ctx, user, pw)
			}
			if err := api.AddUser(ctx, user, pw); err != nil {
				return err
			}
			if generated {
				fmt.Fprintf(c.stdout, "password for %s: %s\n", user, pw)
			}
			return nil
		}
	case "del":
		call = func(ctx context.Context, api admin.API) error { return api.DeleteUser(ctx, user) }
	case "disable", "enable":
		call = func(ctx context.Context, api admin.API) error { return api.SetDisabled(ctx, user, verb == "disable") }
	default:
		return usagef("user: unknown command %q", verb)
	}
	return c.withAPI(ctx, &a, user, call)
}

// password returns the password from --password, else one line of
// standard input unless it is a terminal, else, if generate, a new one.
func (c *cli) password(flagValue string, given, generate bool) (pw string, generated bool, err error) {
	if given {
		return flagValue, false, nil
	}
	if !isTerminal(c.stdin) {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			return line, false, nil
		}
	}
	if !generate {
		return "", false, usagef("give the password with --password or on standard input")
	}
	pw, err = admin.NewPassword()
	return pw, true, err
}

// isTerminal reports whether r is a terminal (or another character device
// such as /dev/null) rather than a pipe or a file.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (c *cli) roster(ctx context.Context, argv []string) error {
	const synopsis = "hearth roster list|add|del USER [CONTACT] [--name N] [--group G]..."
	fs := c.newFlagSet("roster", synopsis)
	var a adminFlags
	a.register(fs)
	name := fs.String("name", "", "the contact's `name` (add)")
	var groups stringList
	fs.Var(&groups, "group", "a `group` of the contact (add; repeatable)")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: %s", synopsis)
	}
	verb, pos := pos[0], pos[1:]
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "list":
		if err := args(pos, 1, 1, "hearth roster list USER"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			items, err := api.Roster(ctx, pos[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "CONTACT\tNAME\tSUBSCRIPTION\tGROUPS")
			for _, it := range items {
				sub := it.Subscription
				if it.Ask {
					sub += " (asked)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", it.JID, orDash(it.Name), sub, orDash(strings.Join(it.Groups, ", ")))
			}
			return w.Flush()
		}
	case "add":
		if err := args(pos, 2, 2, "hearth roster add USER CONTACT [--name N] [--group G]..."); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			return api.AddRosterItem(ctx, pos[0], admin.RosterItem{JID: pos[1], Name: *name, Groups: groups})
		}
	case "del":
		if err := args(pos, 2, 2, "hearth roster del USER CONTACT"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error { return api.RemoveRosterItem(ctx, pos[0], pos[1]) }
	default:
		return usagef("roster: unknown command %q", verb)
	}
	return c.withAPI(ctx, &a, pos[0], call)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) config(ctx context.Context, argv []string) error {
	const synopsis = "hearth config list|get|set [KEY] [VALUE]"
	fs := c.newFlagSet("config", synopsis)
	var a adminFlags
	a.register(fs)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("usage: %s", synopsis)
	}
	verb, pos := pos[0], pos[1:]
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "list":
		if err := args(pos, 0, 0, "hearth config list"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			ss, err := api.Settings(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "KEY\tVALUE\tDEFAULT\tDESCRIPTION")
			for _, s := range ss {
				help := s.Help
				if s.Restart {
					help += " (restart)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Key, orDash(s.Value), orDash(s.Default), help)
			}
			return w.Flush()
		}
	case "get":
		if err := args(pos, 1, 1, "hearth config get KEY"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			ss, err := api.Settings(ctx)
			if err != nil {
				return err
			}
			for _, s := range ss {
				if s.Key == pos[0] {
					fmt.Fprintln(c.stdout, s.Value)
					return nil
				}
			}
			return fmt.Errorf("config get %s: unknown setting: %w", pos[0], admin.ErrInvalid)
		}
	case "set":
		if err := args(pos, 2, 2, "hearth config set KEY VALUE"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			restart, err := api.SetSetting(ctx, pos[0], pos[1])
			if err != nil {
				return err
			}
			if restart {
				fmt.Fprintln(c.stdout, "restart needed")
			}
			return nil
		}
	default:
		return usagef("config: unknown command %q", verb)
	}
	return c.withAPI(ctx, &a, "", call)
}

func (c *cli) status(ctx context.Context, argv []string) error {
	fs := c.newFlagSet("status", "hearth status")
	var a adminFlags
	a.register(fs)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 0, 0, "hearth status"); err != nil {
		return err
	}
	return c.withAPI(ctx, &a, "", func(ctx context.Context, api admin.API) error {
		info, err := api.Info(ctx)
		if err != nil {
			return err
		}
		users, err := api.Users(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		if !info.Running {
			fmt.Fprintln(w, "status:\tnot running")
		} else {
			fmt.Fprintf(w, "status:\trunning since %s (%s)\n", info.Started.Local().Format(time.DateTime), time.Since(info.Started).Round(time.Second))
		}
		fmt.Fprintf(w, "domain:\t%s\n", info.Domain)
		fmt.Fprintf(w, "data:\t%s\n", info.DataDir)
		if info.Running {
			fmt.Fprintf(w, "version:\t%s\n", info.Version)
			for _, l := range info.Listeners {
				fmt.Fprintf(w, "listener:\t%s %s\n", l.Name, l.Addr)
			}
			if info.CertFingerprint != "" {
				fmt.Fprintf(w, "certificate:\tSHA-256 %s\n", info.CertFingerprint)
			}
		}
		fmt.Fprintf(w, "users:\t%d\n", len(users))
		if !info.Running {
			return w.Flush()
		}
		sessions, err := api.Sessions(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "sessions:\t%d\n", len(sessions))
		if err := w.Flush(); err != nil {
			return err
		}
		w = tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		for _, s := range sessions {
			tls := "plain"
			if s.Secure {
				tls = "tls"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\tsince %s\n", s.JID, s.Addr, s.Presence, tls, s.Since.Local().Format(time.DateTime))
		}
		return w.Flush()
	})
}
