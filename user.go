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

	"golang.org/x/term"

	"hearth/server/admin"
)

func (c *cli) user(ctx context.Context, argv []string) error {
	const synopsis = "hearth user add|del|passwd|list|disable|enable [JID] [--password P]"
	fs, a := c.adminFlagSet("user", synopsis)
	password := fs.String("password", "", "the `password`; other local users can see it in the process list: prefer standard input or the prompt")
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
		pw, generated, err := c.password(*password, passwordGiven, verb == "add", user)
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

// password returns the password from --password, else, on a terminal,
// what the user types at the prompt (twice), else one line of standard
// input unless it is another character device (/dev/null), else, if
// generate, a new one. An empty answer at the prompt generates one too.
func (c *cli) password(flagValue string, given, generate bool, user string) (pw string, generated bool, err error) {
	if given {
		return flagValue, false, nil
	}
	switch {
	case c.prompt != nil:
		pw, err := c.prompt("New password for "+user+" (empty: make one up for me): ", "Again: ")
		if err != nil {
			return "", false, err
		}
		if pw != "" {
			return pw, false, nil
		}
		generate = true
	case !isTerminal(c.stdin):
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			return line, false, nil
		}
	}
	if !generate {
		return "", false, usagef("give the password on standard input, at the prompt, or with --password")
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

// terminalPrompt asks for a password on the terminal, without echo, twice;
// it is the cli's prompt when standard input is a terminal.
func terminalPrompt(in *os.File, out io.Writer) func(first, again string) (string, error) {
	return func(first, again string) (string, error) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(out, prompt)
			b, err := term.ReadPassword(int(in.Fd()))
			fmt.Fprintln(out)
			if err != nil {
				return "", fmt.Errorf("read password: %w", err)
			}
			return string(b), nil
		}
		pw, err := read(first)
		if err != nil || pw == "" {
			return "", err
		}
		if again2, err := read(again); err != nil {
			return "", err
		} else if again2 != pw {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return pw, nil
	}
}
