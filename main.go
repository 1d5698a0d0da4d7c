// Command hearth is an XMPP server for a home, with an admin window.
//
// This file is the composition root: it reads the command line and the
// environment (nowhere else does), picks the data directory, sets up
// logging and signals, and wires storage -> certs -> server -> admin socket
// -> GUI. It owns every top-level goroutine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"hearth/internal/buildinfo"
)

// version, when set at build time with -ldflags "-X main.version=1.2.3",
// is the release shown; the commit comes from internal/buildinfo.
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
    --http ADDR       HTTPS listener: shared files (default :5443; "off" for none)
    --ca-page ADDR    plain-HTTP page where devices fetch the home CA, in local
                      certificate mode (default :5380; "off" for none)
    --acme-ca URL     ACME directory (default: setting acme.ca, else Let's Encrypt)
    --acme-ca-root FILE  also trust this PEM root for the ACME server (a private CA)
    --acme-email ADDR    address the ACME CA writes to (default: setting acme.email)
    --acme-http ADDR     answer HTTP-01 here (a router forwarding port 80; default :80)
    --acme-tls-alpn ADDR answer TLS-ALPN-01 here (a router forwarding 443; default :443)
    --headless        no GUI
    --no-mdns         do not advertise on the LAN
    --turn ADDR       STUN/TURN for calls, UDP and TCP (default: port turn.port; "off" for none)
    --component ADDR  external components (XEP-0114; default: setting components.listen; "off" for none)
    --log-level LEVEL debug, info, warn or error (default info)
  hearth user add|del|passwd|list|disable|enable [JID] [--password P]
  hearth roster list|add|del USER [CONTACT] [--name N] [--group G]...
  hearth config list|get|set [KEY] [VALUE]
  hearth status [--check]             the server, its data; --check reads the whole database for damage
  hearth federation [status]          federation with other servers: on or off, where they connect,
                                      the allow and block lists, the links
  hearth federation test DOMAIN       test federation with DOMAIN's server step by step (DNS,
                                      connection, TLS, authentication, a round trip); needs the
                                      running server
  hearth lan [status]                 chat on the LAN without accounts (XEP-0174, as Pidgin's Bonjour):
                                      the accounts that take part, those announced, the people seen
  hearth lan on|off USER              let an account chat on the LAN: announced there while online,
                                      seeing the people found there (setting linklocal.enabled)
  hearth rooms [list]                 the chat rooms (XEP-0045): address, name, occupants, flags;
                                      needs the running server
  hearth rooms show ROOM              a room's configuration, who is in it, who has a place in it
  hearth rooms destroy ROOM [--reason TEXT] [--alternate ROOM]
                                      end a room; those in it are told why and where to go instead
  hearth rooms affiliation ROOM JID owner|admin|member|outcast|none
                                      give someone (an address, or an account's name) a place in a
                                      room, or take it away (none); outcast bans
  hearth uploads [list]               shared files (XEP-0363): the limits, each account's files
                                      and its use of its quota
  hearth uploads purge [--user USER] [--expired]
                                      delete an account's shared files, the expired ones, or both
  hearth invite create [--kind account|contact|account+contact|reset] [--user U] [--expires 7d] [--uses N]
                                      an invitation link and QR code: a new account (XEP-0445), a
                                      contact (XEP-0379), both, or a new password for an account
  hearth invite list | revoke TOKEN   the invitations and their state; cancel one
  hearth components [list|add NAME|remove NAME]
                                      external components (XEP-0114: bots, gateways) at NAME.<domain>;
                                      add prints the secret the component logs in with
  hearth turn [status]                calls: the STUN/TURN server (listening, relays, allocations,
                                      bytes relayed, refused credentials); settings turn.*
  hearth backup [FILE|FOLDER]         back up the server while it runs (database, certificates and
                                      home CA, secrets, uploaded files) into one file; a FOLDER (default
                                      the current one) gets hearth-DOMAIN-DATE.tar.gz
  hearth restore FILE --data DIR      put a backup into DIR, a new or empty data directory, checking
                                      every file; then hearth serve --data DIR
  hearth export FILE|FOLDER [--user JID]...
                                      write accounts (login keys, rosters, vCards, offline messages,
                                      private XML, PEP) to a XEP-0227 file; a FOLDER gets one file per
                                      account, as Prosody's migrator reads them
  hearth import FILE|FOLDER [--replace] [--host DOMAIN] [--dry-run]
                                      take in accounts from a XEP-0227 file or folder (Prosody's
                                      migrator writes one): they keep their passwords; refused if an
                                      account exists, unless --replace
  hearth stop                         stop the running server cleanly (as closing its window with
                                      "Stop the server" does) and wait until it has stopped
  hearth debug pprof PROFILE [--seconds N] [-o FILE]
                                      a running server's profile for go tool pprof: goroutine, heap,
                                      allocs, block, mutex, threadcreate, or cpu (samples N seconds,
                                      default 10, at most 60); to FILE, or to standard output
                                      when it is not a terminal
  hearth debug goroutines [-o FILE]   a running server's goroutines and their stacks, as text
  hearth bench ...                    load test a running server (hearth bench -h)
  hearth version

Every flag can also be set in the environment: HEARTH_DATA, HEARTH_DOMAIN,
HEARTH_C2S, HEARTH_C2S_TLS, HEARTH_S2S, HEARTH_HTTP, HEARTH_CA_PAGE,
HEARTH_ACME_CA, HEARTH_ACME_CA_ROOT, HEARTH_ACME_EMAIL, HEARTH_ACME_HTTP,
HEARTH_ACME_TLS_ALPN, HEARTH_HEADLESS, HEARTH_NO_MDNS, HEARTH_TURN, HEARTH_COMPONENT, HEARTH_LOG_LEVEL. A flag beats the environment, which beats
the stored setting, which beats the default.

Admin commands talk to the running server over the Unix socket in the data
directory, or open the database directly when no server runs. A password is
asked for at the prompt on a terminal, else read from one line of standard
input; --password works too, but other users of the machine can read it in
the process list. "user add" without one (an empty answer at the prompt)
makes up a strong password and prints it once.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process as usual.
	context.AfterFunc(ctx, stop)
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		c.prompt = terminalPrompt(os.Stdin, os.Stderr)
	}
	code := c.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// cli is one run of the command; its fields are the process's outside world.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// prompt asks for a password twice, without echo; nil when standard
	// input is no terminal.
	prompt func(first, again string) (string, error)
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
	case "federation":
		err = c.federation(ctx, args)
	case "lan":
		err = c.lanChat(ctx, args)
	case "rooms":
		err = c.rooms(ctx, args)
	case "uploads":
		err = c.uploads(ctx, args)
	case "invite":
		err = c.invite(ctx, args)
	case "components":
		err = c.components(ctx, args)
	case "turn":
		err = c.turnStatus(ctx, args)
	case "backup":
		err = c.backup(ctx, args)
	case "restore":
		err = c.restore(ctx, args)
	case "export":
		err = c.exportAccounts(ctx, args)
	case "import":
		err = c.importAccounts(ctx, args)
	case "stop":
		err = c.stop(ctx, args)
	case "debug":
		err = c.debug(ctx, args)
	case "bench":
		err = c.bench(ctx, args)
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

// hearthVersion is the version people read: "0.1.0-dev (commit abc1234,
// 2026-12-06)", never a Go pseudo-version (see internal/buildinfo).
func hearthVersion() string {
	i := buildinfo.Read()
	if version != "" {
		i.Version = version
	}
	return i.String()
}
