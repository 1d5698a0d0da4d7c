package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skip2/go-qrcode"

	"hearth/server/admin"
)

const inviteSynopsis = "hearth invite create [--kind account|contact|account+contact|reset] [--user U] [--expires D] [--uses N] [--no-qr] | hearth invite list | hearth invite revoke TOKEN"

// invite makes, lists and revokes invitations: links and QR codes that
// let someone make an account (XEP-0445), become a contact (XEP-0379),
// both, or set a new password.
func (c *cli) invite(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("invite", inviteSynopsis)
	kind := fs.String("kind", admin.InviteAccount, "create: what the invitation does: account, contact, account+contact or reset")
	user := fs.String("user", "", "create: the inviter (contact, account+contact), the account (reset), or the name kept for the invitee (account)")
	expires := fs.String("expires", "7d", "create: how long it is valid, such as 7d, 12h or 30m")
	uses := fs.Int("uses", 1, "create: how many people may use it")
	noQR := fs.Bool("no-qr", false, "create: do not draw the QR code")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	verb := "list"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	switch verb {
	case "create":
		if err := args(pos, 0, 0, "hearth invite create [--kind KIND] [--user U] [--expires D] [--uses N]"); err != nil {
			return err
		}
		d, err := parseDays(*expires)
		if err != nil {
			return usagef("invite create: --expires %q: %v", *expires, err)
		}
		return c.withAPI(ctx, a, *user, func(ctx context.Context, api admin.API) error {
			inv, err := api.CreateInvite(ctx, admin.InviteSpec{Kind: *kind, User: *user, Expires: d, Uses: *uses})
			if err != nil {
				return err
			}
			return writeInvite(c.stdout, inv, !*noQR)
		})
	case "list":
		if err := args(pos, 0, 0, "hearth invite list"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			is, err := api.Invites(ctx)
			if err != nil {
				return err
			}
			return writeInvites(c.stdout, is)
		})
	case "revoke":
		if err := args(pos, 1, 1, "hearth invite revoke TOKEN"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			if err := api.RevokeInvite(ctx, pos[0]); err != nil {
				return err
			}
			fmt.Fprintln(c.stdout, "the invitation was revoked: its link no longer works")
			return nil
		})
	}
	return usagef("invite: unknown command %q (usage: %s)", verb, inviteSynopsis)
}

// parseDays reads a duration that may be given in days (7d) too.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 366 {
			return 0, fmt.Errorf("give a whole number of days up to a year, such as 7d")
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("give days, hours or minutes, such as 7d, 12h or 30m")
	}
	return d, nil
}

// inviteWhat says in words what an invitation does.
func inviteWhat(i admin.Invite) string {
	switch i.Kind {
	case admin.InviteContact:
		return "to become " + i.Inviter + "'s contact"
	case admin.InviteAccountContact:
		return "for a new account that becomes " + i.Inviter + "'s contact"
	case admin.InviteReset:
		return "to set a new password for " + i.User
	}
	if i.User != "" {
		return "for the new account " + i.User
	}
	return "for a new account"
}

// writeInvite writes a new invitation: its links, its URI and, with qr,
// a QR code of the link a phone should open (the LAN one when there is
// one: it leads to the home CA first).
func writeInvite(out io.Writer, i admin.Invite, qr bool) error {
	uses := "1 use"
	if i.MaxUses != 1 {
		uses = strconv.Itoa(i.MaxUses) + " uses"
	}
	fmt.Fprintf(out, "invitation %s, valid until %s, %s\n", inviteWhat(i), i.Expires.Local().Format("2 January 2006 15:04"), uses)
	fmt.Fprintf(out, "link:        %s\n", i.Link)
	if i.LANLink != "" {
		fmt.Fprintf(out, "on the LAN:  %s (for phones that do not trust the home CA yet)\n", i.LANLink)
	}
	fmt.Fprintf(out, "chat app:    %s\n", i.URI)
	fmt.Fprintf(out, "token:       %s (hearth invite revoke %s cancels it)\n", i.Token, i.Token)
	if !qr {
		return nil
	}
	link := i.Link
	if i.LANLink != "" {
		link = i.LANLink
	}
	q, err := qrcode.New(link, qrcode.Low)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	fmt.Fprintf(out, "\nScan with the phone's camera to open %s:\n\n%s", link, q.ToSmallString(false))
	return nil
}

// writeInvites writes hearth invite list.
func writeInvites(out io.Writer, is []admin.Invite) error {
	if len(is) == 0 {
		fmt.Fprintln(out, "no invitations (hearth invite create makes one)")
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TOKEN\tWHAT\tSTATE\tUSED\tVALID UNTIL")
	for _, i := range is {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d of %d\t%s\n", i.Token, strings.TrimPrefix(strings.TrimPrefix(inviteWhat(i), "for "), "to "), i.State, i.Uses, i.MaxUses,
			i.Expires.Local().Format("2006-01-02 15:04"))
	}
	return w.Flush()
}
