package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"hearth/server/admin"
)

const statusSynopsis = "hearth status [--check]"

// maxProblems is how many of the database check's problems status shows.
const maxProblems = 10

func (c *cli) status(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("status", statusSynopsis)
	check := fs.Bool("check", false, "also check the database for damage (reads all of it)")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 0, 0, statusSynopsis); err != nil {
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
		var sessions []admin.Session
		if info.Running {
			if sessions, err = api.Sessions(ctx); err != nil {
				return err
			}
		}
		fed, err := federationOf(ctx, api, info)
		if err != nil {
			return err
		}
		var problems []string
		if *check {
			if problems, err = api.CheckDatabase(ctx); err != nil {
				return err
			}
		}
		w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		writeStatus(w, info, fed, len(users), len(sessions))
		if *check {
			fmt.Fprintf(w, "database:\t%s\n", health(problems))
		}
		if err := w.Flush(); err != nil {
			return err
		}
		// Certificates in a block of their own: long names do not
		// widen the lines above.
		w = tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
		writeCerts(w, info.Certificates)
		if err := w.Flush(); err != nil {
			return err
		}
		if err := writeLinks(c.stdout, info.Domain, fed.Links); err != nil {
			return err
		}
		if err := writeSessions(c.stdout, sessions); err != nil {
			return err
		}
		if len(problems) > 0 {
			writeProblems(c.stdout, problems)
			db := filepath.Join(info.DataDir, dbName)
			return fmt.Errorf("the database %s is damaged. Stop Hearth and put your backup in place of %s; "+
				"if you have none, keep a copy of the file as it is now before anything else writes to it", db, db)
		}
		return nil
	})
}

// writeStatus writes the lines about the server and its data.
func writeStatus(w io.Writer, info admin.Info, fed admin.FederationStatus, users, sessions int) {
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
		writeLAN(w, info.LAN)
	}
	fmt.Fprintf(w, "federation:\t%s\n", federationLine(info, fed))
	if info.Running {
		l := info.Logins
		fmt.Fprintf(w, "failed logins:\t%d since the start (%d more refused while their address had to wait; %d addresses waiting now)\n",
			l.Failed, l.Throttled, l.ThrottledAddresses)
	}
	fmt.Fprintf(w, "users:\t%d\n", users)
	if info.Running {
		fmt.Fprintf(w, "sessions:\t%d\n", sessions)
	}
}

// writeLAN writes the addresses to type by hand and the mDNS announcement.
func writeLAN(w io.Writer, lan admin.LANStatus) {
	addrs := strings.Join(lan.Addresses, ", ")
	if addrs == "" {
		addrs = "none reachable from the LAN"
	}
	fmt.Fprintf(w, "LAN addresses:\t%s\n", addrs)
	fmt.Fprintf(w, "mDNS:\t%s\n", lanState(lan))
}

// lanState says how the mDNS announcement stands.
func lanState(lan admin.LANStatus) string {
	switch {
	case lan.Announced:
		return "announced as " + lan.Name
	case lan.Reason != "":
		return "not announced: " + lan.Reason
	}
	return "starting"
}

// modeShown says what a certificate mode means.
var modeShown = map[string]string{
	"acme":  "acme (from a public CA, renewed by Hearth)",
	"local": "local (from the home CA, renewed by Hearth)",
	"files": "files (your own, read again when they change)",
}

// writeCerts writes the certificate lines: per name who issued what is
// served, until when, its fingerprints, and the last attempt to get one;
// then the home CA and its page.
func writeCerts(w io.Writer, c admin.Certificates) {
	if c.Mode == "" {
		return
	}
	mode := modeShown[c.Mode]
	if mode == "" {
		mode = c.Mode
	}
	fmt.Fprintf(w, "certificates:\t%s\n", mode)
	for _, n := range c.Names {
		// A name and its lines without tabs: they set no column width.
		fmt.Fprintf(w, "  %s\n", n.Name)
		if n.SHA256 == "" {
			fmt.Fprintln(w, "    none yet")
		} else {
			fmt.Fprintf(w, "    issued by %s, valid until %s\n", n.Issuer, n.NotAfter.Local().Format(time.DateTime))
			fmt.Fprintf(w, "    SHA-256 %s\n", n.SHA256)
			fmt.Fprintf(w, "    SHA-1 %s\n", n.SHA1)
		}
		switch {
		case n.LastError != "":
			fmt.Fprintf(w, "    last attempt %s failed: %s\n", n.LastAttempt.Local().Format(time.DateTime), n.LastError)
		case !n.LastAttempt.IsZero():
			fmt.Fprintf(w, "    last attempt %s succeeded\n", n.LastAttempt.Local().Format(time.DateTime))
		}
	}
	if c.CA.SHA256 != "" {
		fmt.Fprintf(w, "home CA:\t%s, valid until %s\n", c.CA.Subject, c.CA.NotAfter.Local().Format(time.DateTime))
		fmt.Fprintf(w, "\tSHA-256 %s\n", c.CA.SHA256)
		fmt.Fprintf(w, "\tSHA-1 %s\n", c.CA.SHA1)
	}
	if c.CAPage != "" {
		fmt.Fprintf(w, "CA page:\t%s (devices trust this server from there)\n", c.CAPage)
	}
}

// writeSessions lists the sessions, one a line.
func writeSessions(out io.Writer, sessions []admin.Session) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range sessions {
		tls := "plain"
		if s.Secure {
			tls = "tls"
		}
		presence := s.Presence
		if s.Held {
			presence += " (connection lost; waiting for the device to come back)"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\tsince %s\n", s.JID, s.Addr, presence, tls, s.Since.Local().Format(time.DateTime))
	}
	return w.Flush()
}

// health is the database line of status --check.
func health(problems []string) string {
	switch len(problems) {
	case 0:
		return "ok"
	case 1:
		return "damaged: the check found 1 problem"
	}
	return fmt.Sprintf("damaged: the check found %d problems", len(problems))
}

// writeProblems lists the first of the database check's problems in
// SQLite's words, one a line.
func writeProblems(w io.Writer, problems []string) {
	var lines []string
	for _, p := range problems {
		for line := range strings.SplitSeq(p, "\n") {
			if line != "" && !strings.HasPrefix(line, "*** ") { // "*** in database main ***"
				lines = append(lines, line)
			}
		}
	}
	for _, line := range lines[:min(len(lines), maxProblems)] {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if n := len(lines) - maxProblems; n > 0 {
		fmt.Fprintf(w, "  and %d more\n", n)
	}
}
