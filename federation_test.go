package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/internal/netns"
	"hearth/server/admin"
)

// TestFederationCommand: hearth federation says whether federation is on
// and how to turn it on, follows the settings with no server and with
// one (live), shows where other servers connect, and hearth status has a
// line for it; hearth federation test needs the running server, refuses
// what is not a domain, and fails at DNS for the server's own domain,
// with words and exit code 1. Nothing leaves loopback.
func TestFederationCommand(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)

	off := `(?m)^federation: +off: accounts here talk only with each other\n +turn it on with: hearth config set federation\.enabled true$`
	check(t, e, "", 0, off, "federation", d)
	check(t, e, "", 0, off+`\n^allow: +any server .*\n^block: +none\n\z`, "federation", "status", d)
	check(t, e, "", 0, `(?m)^federation: +off: accounts here talk only with each other$`, "status", d)
	r := check(t, e, "", 1, `^$`, "federation", "test", "example.org", d)
	if !strings.Contains(r.stderr, "start Hearth first") {
		t.Errorf("federation test with no server: stderr %q does not say to start Hearth", r.stderr)
	}
	for _, args := range [][]string{
		{"federation", "bogus"},
		{"federation", "test"},
		{"federation", "test", "a.example", "b.example"},
		{"federation", "status", "extra"},
		{"federation", "--nope"},
	} {
		check(t, e, "", 2, "", append(args, d)...)
	}

	// The settings, with no server running.
	check(t, e, "", 0, `^$`, "config", "set", "federation.allow", "jabber.org conversations.im", d)
	check(t, e, "", 0, `^$`, "config", "set", "federation.block", "spam.example", d)
	check(t, e, "", 0, `^$`, "config", "set", "federation.enabled", "true", d)
	check(t, e, "", 0, `(?m)^federation: +on \(the server is not running\)\n`+
		`^allow: +only jabber\.org conversations\.im \(and their subdomains\)\n`+
		`^block: +spam\.example \(and their subdomains\)\n\z`, "federation", d)
	check(t, e, "", 0, `(?m)^federation: +on$`, "status", d)

	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home",
		"--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0", "--s2s", "127.0.0.1:0")
	r = check(t, e, "", 0, `(?m)^federation: +on\n^listening: +127\.0\.0\.1:\d+ \(other servers connect here.*\n`+
		`^allow: +only jabber\.org conversations\.im .*\n^block: +spam\.example .*\n^links: +none\n\z`, "federation", d)
	addr := regexp.MustCompile(`127\.0\.0\.1:\d+`).FindString(r.stdout)
	check(t, e, "", 0, `(?m)^listener: +s2s `+regexp.QuoteMeta(addr)+`\n(?s:.*)^federation: +on, listening on `+regexp.QuoteMeta(addr)+`, no links$`, "status", d)

	// The server's own domain fails at DNS, with no lookup.
	r = check(t, e, "", 1, `(?m)^testing federation with test\.home .*\nFAIL +DNS +test\.home is this server's own domain\n\z`, "federation", "test", "test.home", d)
	if !strings.Contains(r.stderr, "failed at the DNS step: check the spelling of the domain") {
		t.Errorf("federation test test.home: stderr %q does not say what to do", r.stderr)
	}
	r = check(t, e, "", 1, "", "federation", "test", "not a domain", d)
	if !strings.Contains(r.stderr, `"not a domain" is not a domain name such as example.org`) {
		t.Errorf("federation test 'not a domain': stderr %q", r.stderr)
	}

	// Off, live: no listener.
	check(t, e, "", 0, `^$`, "config", "set", "federation.enabled", "false", d)
	check(t, e, "", 0, off, "federation", d)
	r = check(t, e, "", 0, `(?m)^federation: +off: `, "status", d)
	if strings.Contains(r.stdout, "s2s") {
		t.Errorf("status lists a federation listener while federation is off:\n%s", r.stdout)
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM: %d\n%s", code, s.log())
	}
}

// TestFederationTestDNS: hearth federation test with a domain that does
// not resolve fails at the DNS step, says so in words, tries nothing
// after it, and exits 1. The server runs in a network namespace of its
// own with no way out (no route to any DNS server), so the lookup fails at
// once and nothing leaves the machine; the command reaches it through the
// admin socket in the data directory.
func TestFederationTestDNS(t *testing.T) {
	pair := netns.NewPair(t, "f", "g")
	data := t.TempDir()
	d := "--data=" + data
	srv := pair.Start(t, 0, env(t), bin, "serve", "--headless", "--no-mdns", d, "--domain", "test.home",
		"--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0", "--s2s", "127.0.0.1:0")
	srv.WaitStderr(t, "hearth: serving", 10*time.Second)
	check(t, env(t), "", 0, `^$`, "config", "set", "federation.enabled", "true", d)

	began := time.Now()
	r := check(t, env(t), "", 1, `(?m)^testing federation with no-such-domain\.invalid .*\nFAIL +DNS +\S.*\S`, "federation", "test", "no-such-domain.invalid", d)
	t.Logf("%v:\n%s%s", time.Since(began).Round(time.Millisecond), r.stdout, r.stderr)
	if strings.Contains(r.stdout, "Connect") {
		t.Errorf("the test went on after DNS failed:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "federation with no-such-domain.invalid failed at the DNS step: check the spelling of the domain") {
		t.Errorf("stderr %q does not say what to do", r.stderr)
	}
	if code := srv.Stop(t); code != 0 {
		t.Errorf("hearth exited %d after SIGTERM:\n%s", code, srv.Stderr())
	}
}

// TestFederationLinks: the links as hearth federation and hearth status
// show them: one a line, with what is wrong.
func TestFederationLinks(t *testing.T) {
	since := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	at := since.Local().Format(time.DateTime)
	info := admin.Info{Domain: "home.example", Running: true}
	fed := admin.FederationStatus{Enabled: true, Listening: "[::]:5269", Block: []string{"spam.example"}, Links: []admin.FederationLink{
		{Local: "home.example", Remote: "jabber.org", Direction: "both", Auth: "certificate", TLS: "TLS 1.3", Since: since, In: 12, Out: 30},
		{Local: "home.example", Remote: "friend.example", Direction: "in", Auth: "dialback", TLS: "TLS 1.3", Since: since, In: 2,
			Certificate: "it is issued by an authority this server does not trust"},
		{Local: "conference.home.example", Remote: "chat.example", Direction: "out", Since: since},
		{Local: "home.example", Remote: "gone.example", Direction: "out", Error: "could not connect:\nconnection refused"},
	}}
	var b bytes.Buffer
	if err := writeFederation(&b, info, fed); err != nil {
		t.Fatal(err)
	}
	want := `federation:  on
listening:   [::]:5269 (other servers connect here; port forwarding must bring them from the internet)
allow:       any server (federation.allow is empty)
block:       spam.example (and their subdomains)
links:       4 (1 with an error)
DOMAIN                               DIRECTION  AUTH         TLS      SINCE                IN  OUT  PROBLEM
jabber.org                           both       certificate  TLS 1.3  ` + at + `  12  30   -
friend.example                       in         dialback     TLS 1.3  ` + at + `  2   0    certificate not valid (proven by dialback): it is issued by an authority this server does not trust
chat.example (for conference.home.example)  out        setting up   -        ` + at + `  0   0    -
gone.example                         out        -            -        not reached          0   0    could not connect: connection refused
`
	t.Logf("hearth federation:\n%s", b.String())
	if got := b.String(); !sameColumns(got, want) {
		t.Errorf("hearth federation:\n%s\nwant:\n%s", got, want)
	}

	b.Reset()
	if err := writeLinks(&b, info.Domain, fed.Links); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		`^federation links:$`,
		`^  jabber\.org +both +certificate +TLS 1\.3 +since ` + at + ` +in 12, out 30 +-$`,
		`^  gone\.example +out +- +- +not reached +in 0, out 0 +could not connect: connection refused$`,
	} {
		if !regexp.MustCompile(`(?m)` + line).MatchString(b.String()) {
			t.Errorf("hearth status's links do not match %s:\n%s", line, b.String())
		}
	}
	if got := federationLine(info, fed); got != "on, listening on [::]:5269, 4 links (1 with an error)" {
		t.Errorf("status line %q", got)
	}
}

// sameColumns compares two tables cell by cell, whatever their padding.
func sameColumns(got, want string) bool {
	split := func(s string) [][]string {
		var rows [][]string
		for line := range strings.SplitSeq(strings.TrimSpace(s), "\n") {
			rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1))
		}
		return rows
	}
	g, w := split(got), split(want)
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		if strings.Join(g[i], "|") != strings.Join(w[i], "|") {
			return false
		}
	}
	return true
}
