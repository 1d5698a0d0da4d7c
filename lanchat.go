package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"hearth/server/admin"
)

const lanSynopsis = "hearth lan [status] | hearth lan on|off USER"

// lanChat shows chat on the LAN without accounts (XEP-0174): who takes
// part, who is announced, whom the server sees; or turns it on or off for
// an account.
func (c *cli) lanChat(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("lan", lanSynopsis)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	verb := "status"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	switch verb {
	case "status":
		if err := args(pos, 0, 0, "hearth lan status"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			st, err := api.LinkLocal(ctx)
			if err != nil {
				return err
			}
			return writeLANChat(c.stdout, st)
		})
	case "on", "off":
		if err := args(pos, 1, 1, "hearth lan "+verb+" USER"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, pos[0], func(ctx context.Context, api admin.API) error {
			return api.SetLinkLocal(ctx, pos[0], verb == "on")
		})
	}
	return usagef("lan: unknown command %q (usage: %s)", verb, lanSynopsis)
}

// writeLANChat writes hearth lan status.
func writeLANChat(out io.Writer, st admin.LinkLocalStatus) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	switch {
	case st.Running:
		fmt.Fprintf(w, "LAN chat:\ton (peers appear as name%%machine@%s; streams on port %d)\n", st.Host, st.Port)
	case !st.Enabled:
		fmt.Fprintln(w, "LAN chat:\toff: turn it on with: hearth config set linklocal.enabled true")
	default:
		fmt.Fprintf(w, "LAN chat:\tnot running: %s\n", termSafe(st.Reason))
	}
	taking := "none: turn it on for an account with: hearth lan on NAME"
	if len(st.OptedIn) > 0 {
		taking = strings.Join(st.OptedIn, " ")
	}
	fmt.Fprintf(w, "accounts:\t%s\n", taking)
	if err := w.Flush(); err != nil {
		return err
	}
	if len(st.Announced) > 0 {
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "ANNOUNCED\tACCOUNT\tSTATUS\tMESSAGE")
		for _, a := range st.Announced {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", termSafe(a.Name), termSafe(a.User), termSafe(a.Status), termSafe(a.Msg))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(st.Peers) > 0 {
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "PEER\tADDRESS FOR ACCOUNTS\tSTATUS\tMESSAGE\tSEEN AT")
		for _, p := range st.Peers {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", termSafe(p.Name), termSafe(p.JID), termSafe(p.Status), termSafe(p.Msg),
				termSafe(strings.Join(p.Addrs, " ")))
		}
		return w.Flush()
	}
	return nil
}

// termSafe is s as it may be printed on a terminal: what people on the
// LAN announce is theirs to choose, so control characters (escape
// sequences, tabs and line breaks that would break the table) and the
// marks that reorder text on screen are shown as '?', and bytes that are
// not UTF-8 as U+FFFD.
func termSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r),
			r == '\u061c', r == '\u200e', r == '\u200f',
			r >= '\u202a' && r <= '\u202e',
			r >= '\u2066' && r <= '\u2069':
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
