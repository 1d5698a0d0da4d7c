package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"hearth/server/admin"
)

func (c *cli) status(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("status", "hearth status")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 0, 0, "hearth status"); err != nil {
		return err
	}
	return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
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
			l := info.Logins
			fmt.Fprintf(w, "failed logins:\t%d since the start (%d more refused while their address had to wait; %d addresses waiting now)\n",
				l.Failed, l.Throttled, l.ThrottledAddresses)
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
