package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"hearth/server/admin"
)

const federationSynopsis = "hearth federation [status] | hearth federation test DOMAIN"

// The federation settings' keys (server/settings, which the command reads
// only through the admin API).
const (
	keyFederation      = "federation.enabled"
	keyFederationAllow = "federation.allow"
	keyFederationBlock = "federation.block"
)

// federation shows how the server stands with other servers, or tests
// federation with one of them step by step.
func (c *cli) federation(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("federation", federationSynopsis)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	verb := "status"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "status":
		if err := args(pos, 0, 0, "hearth federation status"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			info, err := api.Info(ctx)
			if err != nil {
				return err
			}
			fed, err := federationOf(ctx, api, info)
			if err != nil {
				return err
			}
			return writeFederation(c.stdout, info, fed)
		}
	case "test":
		if err := args(pos, 1, 1, "hearth federation test DOMAIN"); err != nil {
			return err
		}
		domain := pos[0]
		call = func(ctx context.Context, api admin.API) error {
			info, err := api.Info(ctx)
			if err != nil {
				return err
			}
			if info.Running { // else the test says that it needs the server
				fmt.Fprintf(c.stdout, "testing federation with %s (this can take half a minute)\n", domain)
			}
			steps, err := api.TestFederation(ctx, domain)
			if err != nil {
				return err
			}
			if err := writeSteps(c.stdout, steps); err != nil {
				return err
			}
			if failed := failedStep(steps); failed != nil {
				return errors.New(testAdvice(domain, *failed))
			}
			fmt.Fprintf(c.stdout, "federation with %s works\n", domain)
			return nil
		}
	default:
		return usagef("federation: unknown command %q", verb)
	}
	return c.withAPI(ctx, a, "", call)
}

// federationOf is how federation stands: the running server's word, or,
// when no server runs, the stored settings.
func federationOf(ctx context.Context, api admin.API, info admin.Info) (admin.FederationStatus, error) {
	if info.Running {
		return info.Federation, nil
	}
	ss, err := api.Settings(ctx)
	if err != nil {
		return admin.FederationStatus{}, err
	}
	var st admin.FederationStatus
	for _, s := range ss {
		switch s.Key {
		case keyFederation:
			st.Enabled = s.Value == "true"
		case keyFederationAllow:
			st.Allow = strings.Fields(s.Value)
		case keyFederationBlock:
			st.Block = strings.Fields(s.Value)
		}
	}
	return st, nil
}

// writeFederation writes hearth federation status: on or off, where
// other servers connect, the allow and block lists, and the links.
func writeFederation(out io.Writer, info admin.Info, fed admin.FederationStatus) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	switch {
	case !fed.Enabled:
		fmt.Fprintln(w, "federation:\toff: accounts here talk only with each other")
		fmt.Fprintln(w, "\tturn it on with: hearth config set federation.enabled true")
	case !info.Running:
		fmt.Fprintln(w, "federation:\ton (the server is not running)")
	default:
		fmt.Fprintln(w, "federation:\ton")
	}
	if info.Running && fed.Enabled {
		fmt.Fprintf(w, "listening:\t%s\n", listeningText(fed))
	}
	fmt.Fprintf(w, "allow:\t%s\n", allowText(fed.Allow))
	fmt.Fprintf(w, "block:\t%s\n", blockText(fed.Block))
	if info.Running && (fed.Enabled || len(fed.Links) > 0) {
		fmt.Fprintf(w, "links:\t%s\n", linkCount(fed.Links))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(fed.Links) == 0 {
		return nil
	}
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "DOMAIN\tDIRECTION\tAUTH\tTLS\tSINCE\tIN\tOUT\tPROBLEM")
	for _, l := range fed.Links {
		fmt.Fprintln(w, strings.Join(linkCells(info.Domain, l), "\t"))
	}
	return w.Flush()
}

// listeningText says where other servers connect.
func listeningText(fed admin.FederationStatus) string {
	if fed.Listening == "" {
		return "nowhere: other servers cannot connect to this one (see hearth serve --s2s, and the log)"
	}
	return fed.Listening + " (other servers connect here; port forwarding must bring them from the internet)"
}

func allowText(allow []string) string {
	if len(allow) == 0 {
		return "any server (federation.allow is empty)"
	}
	return "only " + strings.Join(allow, " ") + " (and their subdomains)"
}

func blockText(block []string) string {
	if len(block) == 0 {
		return "none"
	}
	return strings.Join(block, " ") + " (and their subdomains)"
}

// linkCount says how many links there are ("none", "2"), and how many
// of them have a problem.
func linkCount(links []admin.FederationLink) string {
	n := "none"
	if len(links) > 0 {
		n = fmt.Sprint(len(links))
	}
	return n + linkProblems(links)
}

// linkProblems is " (N with an error)", or "" when no link has one.
func linkProblems(links []admin.FederationLink) string {
	if n := admin.LinkErrors(links); n > 0 {
		return fmt.Sprintf(" (%d with an error)", n)
	}
	return ""
}

// linkCells are a link's columns: the other domain, direction, how it
// authenticated, TLS, since when, stanzas in and out, and what is wrong.
func linkCells(domain string, l admin.FederationLink) []string {
	remote := l.Remote
	if l.Local != "" && l.Local != domain {
		remote += " (for " + l.Local + ")"
	}
	since := "not reached"
	if !l.Since.IsZero() {
		since = l.Since.Local().Format(time.DateTime)
	}
	auth := l.Auth
	if auth == "" && !l.Since.IsZero() {
		auth = "setting up"
	}
	var problems []string
	if l.Certificate != "" {
		problems = append(problems, "certificate not valid (proven by dialback): "+l.Certificate)
	}
	if l.Error != "" {
		problems = append(problems, l.Error)
	}
	return []string{remote, orDash(l.Direction), orDash(auth), orDash(l.TLS), since,
		fmt.Sprint(l.In), fmt.Sprint(l.Out), orDash(oneLine(strings.Join(problems, "; ")))}
}

// oneLine joins the lines of s, for a table cell.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// federationLine is hearth status's line about federation.
func federationLine(info admin.Info, fed admin.FederationStatus) string {
	switch {
	case !fed.Enabled:
		return "off: accounts here talk only with each other"
	case !info.Running:
		return "on"
	}
	links := "no links"
	switch len(fed.Links) {
	case 0:
	case 1:
		links = "1 link"
	default:
		links = fmt.Sprintf("%d links", len(fed.Links))
	}
	links += linkProblems(fed.Links)
	if fed.Listening == "" {
		return "on, not listening (other servers cannot connect to this one), " + links
	}
	return "on, listening on " + fed.Listening + ", " + links
}

// writeLinks writes hearth status's block of federation links, one a
// line, under a heading; nothing when there are none.
func writeLinks(out io.Writer, domain string, links []admin.FederationLink) error {
	if len(links) == 0 {
		return nil
	}
	fmt.Fprintln(out, "federation links:")
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, l := range links {
		c := linkCells(domain, l)
		// remote, direction, auth, TLS, since, in, out, problem
		if !l.Since.IsZero() {
			c[4] = "since " + c[4]
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\tin %s, out %s\t%s\n", c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7])
	}
	return w.Flush()
}

// writeSteps writes a federation test's steps, one a line with its
// verdict first; a detail of several lines goes on, indented.
func writeSteps(out io.Writer, steps []admin.FederationStep) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, s := range steps {
		verdict := "ok"
		if !s.OK {
			verdict = "FAIL"
		}
		lines := strings.Split(strings.TrimSpace(s.Detail), "\n")
		fmt.Fprintf(w, "%s\t%s\t%s\n", verdict, s.Name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "\t\t%s\n", strings.TrimSpace(l))
		}
	}
	return w.Flush()
}

// failedStep returns the step that failed, or nil.
func failedStep(steps []admin.FederationStep) *admin.FederationStep {
	for i := range steps {
		if !steps[i].OK {
			return &steps[i]
		}
	}
	return nil
}

// testAdvice is the last line of a failed test: where it failed and what
// to do about it.
func testAdvice(domain string, s admin.FederationStep) string {
	what := s.Advice
	if what == "" {
		what = "see the step's words above"
	}
	return fmt.Sprintf("federation with %s failed at the %s step: %s", domain, s.Name, what)
}
