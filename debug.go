package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"hearth/server/admin"
)

const debugSynopsis = "hearth debug pprof PROFILE [--seconds N] [-o FILE] | hearth debug goroutines [-o FILE]"

// debugView is one view of hearth debug: what it fetches from the
// server, and whether it is binary.
type debugView struct {
	fetch  func(ctx context.Context, c *admin.Client, w io.Writer) error
	binary bool
}

// debug shows an operator the running server's insides over the admin
// socket: a runtime profile for go tool pprof, or the goroutine dump.
func (c *cli) debug(ctx context.Context, argv []string) error {
	fs := c.newFlagSet("debug", debugSynopsis)
	var data string
	dataFlag(fs, &data)
	seconds := fs.Int("seconds", admin.DefaultCPUSeconds, fmt.Sprintf("how long the cpu profile samples, at most %d", admin.MaxCPUSeconds))
	out := fs.String("o", "", "write to `file` instead of standard output")
	verb, pos, err := c.verb(fs, argv, debugSynopsis)
	if err != nil {
		return err
	}
	v, err := c.debugView(fs, verb, pos, *seconds)
	if err != nil {
		return err
	}
	if v.binary && *out == "" && onTerminal(c.stdout) {
		return errors.New("a profile is binary, for go tool pprof, not for the terminal: give -o FILE, or redirect standard output to a file")
	}
	dir, err := c.dataDir(data)
	if err != nil {
		return err
	}
	api, err := admin.Dial(dir)
	if errors.Is(err, admin.ErrOffline) {
		return fmt.Errorf("no Hearth server is running on %s; debug views need a running server", dir)
	}
	if err != nil {
		return err
	}
	client := api.(*admin.Client)
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, adminTimeout+time.Duration(*seconds)*time.Second)
	defer cancel()
	var b bytes.Buffer
	if err := v.fetch(ctx, client, &b); err != nil {
		return err
	}
	if *out == "" {
		_, err := c.stdout.Write(b.Bytes())
		return err
	}
	return os.WriteFile(*out, b.Bytes(), 0o600)
}

// debugView checks the arguments of hearth debug VERB and returns the view
// they ask for.
func (c *cli) debugView(fs *flag.FlagSet, verb string, pos []string, seconds int) (debugView, error) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "seconds" })
	switch verb {
	case "pprof":
		if err := args(pos, 1, 1, debugSynopsis); err != nil {
			return debugView{}, err
		}
		name := pos[0]
		switch {
		case !slices.Contains(admin.Profiles, name):
			return debugView{}, usagef("debug pprof: there is no profile %q; there are %s", name, strings.Join(admin.Profiles, ", "))
		case given && name != "cpu":
			return debugView{}, usagef("debug pprof: --seconds is for the cpu profile only")
		case seconds < 1 || seconds > admin.MaxCPUSeconds:
			return debugView{}, usagef("debug pprof: --seconds %d: the cpu profile samples for 1 to %d seconds", seconds, admin.MaxCPUSeconds)
		}
		return debugView{binary: true, fetch: func(ctx context.Context, cl *admin.Client, w io.Writer) error {
			return cl.Profile(ctx, name, seconds, w)
		}}, nil
	case "goroutines":
		if err := args(pos, 0, 0, debugSynopsis); err != nil {
			return debugView{}, err
		}
		if given {
			return debugView{}, usagef("debug goroutines: --seconds is for the cpu profile only")
		}
		return debugView{fetch: func(ctx context.Context, cl *admin.Client, w io.Writer) error {
			return cl.Goroutines(ctx, w)
		}}, nil
	}
	return debugView{}, usagef("debug: unknown view %q; there are pprof and goroutines", verb)
}

// onTerminal reports whether w writes to a terminal.
func onTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
