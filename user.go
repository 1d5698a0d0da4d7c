package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"hearth/server/admin"
)

func (c *cli) user(ctx context.Context, argv []string) error {
	const synopsis = "hearth user add|del|passwd|list|disable|enable [JID] [--password P]"
	fs, a := c.adminFlagSet("user", synopsis)
	password := fs.String("password", "", "the `password` (default: one line of standard input)")
	verb, pos, err := c.verb(fs, argv, synopsis)
	if err != nil {
		return err
	}
	passwordGiven := false
	fs.Visit(func(f *flag.Flag) { passwordGiven = passwordGiven || f.Name == "password" })

	if verb == "list" {
		if err := args(pos, 0, 0, "hearth user list"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
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
	return c.withAPI(ctx, a, user, call)
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
