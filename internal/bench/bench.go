// Package bench is Hearth's load generator: a lean XMPP client (RFC 6120
// STARTTLS or XEP-0368 direct TLS, SASL SCRAM-SHA-256/SCRAM-SHA-1/PLAIN,
// resource binding) driving scenarios against any XMPP server, so that
// Hearth, Prosody and ejabberd can be measured on the same machine with the
// same client.
//
// The client shares the CPU with the server under test, so it does as little
// as it can: no element trees (see scan.go), no roster fetch at login, one
// buffered write per burst, SCRAM keys derived once per account.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// options are the flags of `hearth bench`.
type options struct {
	scenario string

	host, domain, serverName string
	port                     int
	directTLS, insecure, pq  bool
	ca                       string

	userFmt, password, resource, mech string
	users, first                      int
	timeout                           time.Duration

	duration, drain, keepalive time.Duration
	count, conc, pairs, window int
	rate                       float64
	bodySize                   int
	conns, pid                 int
	presence                   bool
	sm                         bool
	contacts                   int
	occupants, senders         int
	room, service              string
	subscribers                int
	node                       string

	json  bool
	label string
}

var scenarios = []string{"logins", "throughput", "latency", "offline", "idle", "fanout", "register", "preauth", "room", "pubsub"}

const usageText = `usage: hearth bench SCENARIO [flags]

Scenarios (each prints one result line; --json prints one JSON object):
  logins      --conc C            C workers log in (TCP, TLS, SASL, bind) and out repeatedly -> logins/s
  throughput  --pairs P --window W  P sender->receiver pairs, at most W messages in flight per pair -> msgs/s;
                                  fails if any message is lost
  latency     --pairs P --rate R  R msgs/s in total over P pairs -> p50/p90/p99/max delivery latency
  offline     --pairs P --window W  P senders to P accounts without a session (offline storage), at most W
                                  messages not yet acknowledged (a ping answered after them) -> stored msgs/s;
                                  then the recipients log in until all arrived; fails on loss or duplicates
  idle        --conns N --pid PID N authenticated idle streams over --users accounts (distinct resources);
                                  the server's VmRSS before, after login and after --duration -> KiB/conn
  fanout      --contacts K        one user with K online subscribers changes presence --count times
                                  -> presence stanzas delivered/s (subscriptions are set up by the scenario)
  room        --occupants N --senders S  N accounts join a new room (XEP-0045) on --service, S of them
                                  send groupchat messages, at most --window in flight -> messages/s that
                                  reached every occupant, deliveries/s, p50/p99 until all had it
  pubsub      --subscribers N     the first account creates a node on --service (XEP-0060), the next N
                                  subscribe, the first publishes items, at most --window in flight ->
                                  publishes/s that reached every subscriber, notifications/s, p50/p99
                                  until all had it; the node is deleted at the end
  register    --users N           create the accounts by in-band registration (XEP-0077)
  preauth     --conns N --pid PID N connections that never log in each send a header and one unfinished
                                  element (4,095 children; or 14 and 9,900 bytes of text), hold for
                                  --duration, close -> the server's VmRSS before, held and --duration after

Accounts are --user-fmt with --first .. --first+--users-1 (user1@DOMAIN ...), all with --password
(which may contain a %d verb too). --duration and --count bound a run; with only --count it runs
until the count is reached.

Flags:
`

// parseFlags parses args (the scenario may come first, or as --scenario)
// and validates the result, reporting every problem at once.
func parseFlags(args []string) (*options, *flag.FlagSet, error) {
	o := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.scenario, "scenario", "", "one of "+strings.Join(scenarios, ", "))
	fs.StringVar(&o.host, "host", "127.0.0.1", "server address to connect to")
	fs.IntVar(&o.port, "port", 0, "server port (default 5222, or 5223 with --direct-tls)")
	fs.StringVar(&o.domain, "domain", "", "XMPP domain of the accounts (default --host)")
	fs.StringVar(&o.serverName, "server-name", "", "name to verify in the server certificate (default --domain)")
	fs.BoolVar(&o.directTLS, "direct-tls", false, "TLS from the first byte (XEP-0368) instead of STARTTLS")
	fs.StringVar(&o.ca, "ca", "", "PEM file with the CA (or self-signed) certificate to trust")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server certificate")
	fs.BoolVar(&o.pq, "pq", false, "allow post-quantum hybrid key exchange (off: X25519/P-256 only, for comparable TLS cost)")
	fs.StringVar(&o.userFmt, "user-fmt", "user%d", "account name format; %d is the account number")
	fs.StringVar(&o.password, "password", "password", "account password (a %d verb is replaced by the account number)")
	fs.IntVar(&o.users, "users", 100, "number of accounts")
	fs.IntVar(&o.first, "first", 1, "number of the first account")
	fs.StringVar(&o.resource, "resource", "bench", "resource prefix")
	fs.StringVar(&o.mech, "mech", "", "force a SASL mechanism: SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN (default: best offered)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one login")
	fs.DurationVar(&o.duration, "duration", 0, "run time; for idle the hold time (default 5s, or unbounded when --count is given)")
	fs.IntVar(&o.count, "count", 0, "stop after this many logins/messages/presence changes (fanout default 100)")
	fs.IntVar(&o.conc, "conc", 0, "concurrent logins (default: logins 16, idle and fanout 32, register 8)")
	fs.IntVar(&o.pairs, "pairs", 10, "sender/receiver pairs (throughput, latency, offline)")
	fs.IntVar(&o.window, "window", 0, "in-flight limit: messages per pair (throughput and offline, default 100), presence changes (fanout, default 8), groupchat messages (room, default 16) or items (pubsub, default 4)")
	fs.Float64Var(&o.rate, "rate", 1000, "aggregate messages per second (latency)")
	fs.IntVar(&o.bodySize, "size", 64, "message body size in bytes (throughput, latency, offline)")
	fs.DurationVar(&o.drain, "drain", 10*time.Second, "how long to wait for outstanding deliveries after the run")
	fs.IntVar(&o.conns, "conns", 1000, "idle connections (idle)")
	fs.IntVar(&o.pid, "pid", 0, "server process whose VmRSS to read (idle)")
	fs.DurationVar(&o.keepalive, "keepalive", 30*time.Second, "whitespace keepalive interval while idle (0: none)")
	fs.BoolVar(&o.presence, "presence", false, "idle connections send initial presence")
	fs.BoolVar(&o.sm, "sm", false, "enable stream management (XEP-0198) with resumption after login and answer the server's acks, as phones do")
	fs.IntVar(&o.contacts, "contacts", 50, "online contacts subscribed to the publisher (fanout)")
	fs.IntVar(&o.occupants, "occupants", 50, "occupants of the room (room)")
	fs.IntVar(&o.senders, "senders", 5, "occupants that send (room)")
	fs.StringVar(&o.room, "room", "", "the room's name (room; default a new one per run)")
	fs.StringVar(&o.service, "service", "", "the group chat service (room; default conference.DOMAIN) or pubsub service (pubsub; default pubsub.DOMAIN)")
	fs.IntVar(&o.subscribers, "subscribers", 100, "subscribers of the node (pubsub)")
	fs.StringVar(&o.node, "node", "", "the node's name (pubsub; default a new one per run)")
	fs.BoolVar(&o.json, "json", false, "print each result as a JSON object")
	fs.StringVar(&o.label, "label", "", "free-form label copied into the result (for example the server's name)")

	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		o.scenario, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		if o.scenario == "" {
			o.scenario = fs.Arg(0)
			if err := fs.Parse(fs.Args()[1:]); err != nil {
				return nil, fs, err
			}
		}
		if fs.NArg() > 0 {
			return nil, fs, fmt.Errorf("unexpected arguments: %q", fs.Args())
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.defaults(set)
	return o, fs, o.validate()
}

// defaults fills in what depends on the scenario or on other flags.
func (o *options) defaults(set map[string]bool) {
	if o.port == 0 {
		o.port = 5222
		if o.directTLS {
			o.port = 5223
		}
	}
	if o.domain == "" {
		o.domain = o.host
	}
	if o.serverName == "" {
		o.serverName = o.domain
	}
	if o.scenario == "room" && !set["window"] {
		o.window = 16
	}
	if o.scenario == "pubsub" && !set["window"] {
		o.window = 4
	}
	if o.scenario == "fanout" && !set["count"] {
		o.count = 100
	}
	if !set["duration"] {
		switch {
		case o.scenario == "idle", o.scenario == "preauth":
			o.duration = 5 * time.Second
		case set["count"] || o.scenario == "fanout" || o.scenario == "register":
			o.duration = 0 // bounded by the count
		default:
			o.duration = 5 * time.Second
		}
	}
	if o.conc == 0 {
		switch o.scenario {
		case "logins":
			o.conc = 16
		case "register":
			o.conc = 8
		default:
			o.conc = 32
		}
	}
	if o.window == 0 {
		o.window = 100
		if o.scenario == "fanout" {
			o.window = 8
		}
	}
}

func (o *options) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch o.scenario {
	case "":
		bad("no scenario: want one of %s", strings.Join(scenarios, ", "))
	case "logins", "throughput", "latency", "offline", "idle", "fanout", "register", "preauth", "room", "pubsub":
	default:
		bad("unknown scenario %q: want one of %s", o.scenario, strings.Join(scenarios, ", "))
	}
	if o.port <= 0 || o.port > 65535 {
		bad("--port %d out of range", o.port)
	}
	if o.ca != "" && o.insecure {
		bad("--ca and --insecure exclude each other")
	}
	if u := fmt.Sprintf(o.userFmt, 1); strings.Contains(u, "%!") || u == fmt.Sprintf(o.userFmt, 2) {
		bad("--user-fmt %q must contain one number verb such as %%d", o.userFmt)
	}
	if strings.Contains(o.password, "%") && strings.Contains(fmt.Sprintf(o.password, 1), "%!") {
		bad("--password has a %% verb that is not a number verb")
	}
	switch o.mech {
	case "", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN":
	default:
		bad("--mech %q: want SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN", o.mech)
	}
	if o.users < 1 {
		bad("--users must be at least 1")
	}
	if o.timeout <= 0 {
		bad("--timeout must be positive")
	}
	if o.duration < 0 || o.count < 0 {
		bad("--duration and --count must not be negative")
	}
	if o.conc < 1 {
		bad("--conc must be at least 1")
	}
	if o.window < 1 {
		bad("--window must be at least 1")
	}
	if o.bodySize < 0 || o.bodySize > 65536 {
		bad("--size must be between 0 and 65536")
	}
	switch o.scenario {
	case "logins", "throughput", "latency", "offline", "room", "pubsub":
		if o.duration == 0 && o.count == 0 {
			bad("give --duration or --count")
		}
	}
	switch o.scenario {
	case "throughput", "latency", "offline":
		if o.pairs < 1 {
			bad("--pairs must be at least 1")
		} else if 2*o.pairs > o.users {
			bad("--pairs %d needs %d accounts, --users is %d", o.pairs, 2*o.pairs, o.users)
		}
		if o.scenario == "latency" && o.rate <= 0 {
			bad("--rate must be positive")
		}
	case "idle":
		if o.conns < 1 {
			bad("--conns must be at least 1")
		}
		if o.pid < 0 {
			bad("--pid must not be negative")
		}
	case "preauth":
		if o.conns < 1 {
			bad("--conns must be at least 1")
		}
		if o.pid <= 0 {
			bad("preauth needs --pid: it measures the server's memory")
		}
	case "room":
		if o.occupants < 1 {
			bad("--occupants must be at least 1")
		} else if o.occupants > o.users {
			bad("--occupants %d needs %d accounts, --users is %d", o.occupants, o.occupants, o.users)
		}
		if o.senders < 1 || o.senders > o.occupants {
			bad("--senders must be between 1 and --occupants")
		}
	case "pubsub":
		if o.subscribers < 1 {
			bad("--subscribers must be at least 1")
		} else if o.subscribers+1 > o.users {
			bad("--subscribers %d needs %d accounts, --users is %d", o.subscribers, o.subscribers+1, o.users)
		}
	case "fanout":
		if o.contacts < 1 {
			bad("--contacts must be at least 1")
		} else if o.contacts+1 > o.users {
			bad("--contacts %d needs %d accounts, --users is %d", o.contacts, o.contacts+1, o.users)
		}
		if o.count < 1 && o.duration == 0 {
			bad("give --count or --duration")
		}
	}
	return errors.Join(errs...)
}

// Run is `hearth bench`: it parses args, runs one scenario against the
// server and prints the result to stdout. It returns an error when the
// scenario could not run or found lost stanzas, after printing the result.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	o, fs, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		io.WriteString(stdout, usageText)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return fmt.Errorf("bench: %w (see hearth bench -h)", err)
	}
	d, err := newDialer(o)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var res reporter
	switch o.scenario {
	case "logins":
		res, err = runLogins(ctx, d)
	case "throughput":
		res, err = runThroughput(ctx, d)
	case "latency":
		res, err = runLatency(ctx, d)
	case "offline":
		res, err = runOffline(ctx, d)
	case "idle":
		res, err = runIdle(ctx, d)
	case "fanout":
		res, err = runFanout(ctx, d)
	case "register":
		res, err = runRegister(ctx, d)
	case "preauth":
		res, err = runPreauth(ctx, d)
	case "room":
		res, err = runRoom(ctx, d)
	case "pubsub":
		res, err = runPubsub(ctx, d)
	}
	if res != nil {
		if perr := o.print(stdout, res); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return fmt.Errorf("bench %s: %w", o.scenario, err)
	}
	return nil
}

// reporter is a scenario's result: a line for people, fields for JSON.
type reporter interface {
	line() string
	head() *result
}

// result are the fields every scenario reports; value and unit are the
// headline figure, so a script can tabulate any scenario the same way.
type result struct {
	Scenario string  `json:"scenario"`
	Label    string  `json:"label,omitempty"`
	Server   string  `json:"server"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"first_error,omitempty"`
}

func (r *result) head() *result { return r }

func (o *options) newResult(unit string) result {
	return result{Scenario: o.scenario, Label: o.label, Server: fmt.Sprintf("%s:%d", o.host, o.port), Unit: unit}
}

func (o *options) print(w io.Writer, r reporter) error {
	if o.json {
		return json.NewEncoder(w).Encode(r)
	}
	line := r.line()
	if e := r.head().Error; e != "" {
		line += "\n  first error: " + e
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// firstErr keeps the first of many errors of a run.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) add(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		return ""
	}
	return f.err.Error()
}
