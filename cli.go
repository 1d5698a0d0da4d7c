// The command line's plumbing: flags from arguments and the environment,
// usage errors, and the admin subcommands' way to the server.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"hearth/server/admin"
	"hearth/storage"
)

// commands are the subcommands besides serve.
var commands = map[string]bool{
	"user": true, "roster": true, "config": true, "status": true, "federation": true, "lan": true, "rooms": true, "uploads": true, "invite": true, "components": true, "turn": true, "backup": true, "restore": true, "stop": true, "debug": true, "bench": true, "version": true, "help": true,
}

// envFlags are the flags that can also come from HEARTH_<NAME>.
var envFlags = map[string]bool{
	"data": true, "domain": true, "c2s": true, "c2s-tls": true, "s2s": true, "http": true,
	"ca-page": true, "acme-ca": true, "acme-ca-root": true, "acme-email": true, "acme-http": true, "acme-tls-alpn": true,
	"headless": true, "no-mdns": true, "turn": true, "component": true, "log-level": true,
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

// adminFlags are the flags every admin subcommand has.
type adminFlags struct{ data, domain string }

// adminFlagSet returns the flag set of an admin subcommand, with the
// flags every one has.
func (c *cli) adminFlagSet(name, synopsis string) (*flag.FlagSet, *adminFlags) {
	fs := c.newFlagSet(name, synopsis)
	a := &adminFlags{}
	a.register(fs)
	return fs, a
}

// verb parses an admin subcommand's arguments: a verb, then its own.
func (c *cli) verb(fs *flag.FlagSet, argv []string, synopsis string) (verb string, pos []string, err error) {
	pos, err = c.parse(fs, argv)
	if err != nil {
		return "", nil, err
	}
	if len(pos) == 0 {
		return "", nil, usagef("usage: %s", synopsis)
	}
	return pos[0], pos[1:], nil
}

func (a *adminFlags) register(fs *flag.FlagSet) {
	dataFlag(fs, &a.data)
	fs.StringVar(&a.domain, "domain", "", "the XMPP `domain`, when no server runs and none is stored yet")
}

// dataFlag registers --data on fs.
func dataFlag(fs *flag.FlagSet, data *string) {
	fs.StringVar(data, "data", "", "data `directory` (default $XDG_DATA_HOME/hearth, else ~/.local/share/hearth)")
}

// withAPI runs fn on the running server's admin API, or, when no server
// runs, on the database in the data directory, which it holds for this
// process until fn returns. userArg is the user the
// command is about, if any: on a data directory without a domain yet, its
// domain becomes the stored one.
func (c *cli) withAPI(ctx context.Context, a *adminFlags, userArg string, fn func(ctx context.Context, api admin.API) error) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	return c.withAPIUntimed(ctx, a, userArg, fn)
}

// withAPIUntimed is withAPI for work that may take as long as it takes
// (a backup): only ctx bounds it.
func (c *cli) withAPIUntimed(ctx context.Context, a *adminFlags, userArg string, fn func(ctx context.Context, api admin.API) error) error {
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
	if errors.Is(err, storage.ErrInUse) {
		// No server answers on the socket, yet the database is taken.
		return fmt.Errorf("%w. It may be a server that is starting or stopping, or another hearth command: try again in a moment", err)
	}
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

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
