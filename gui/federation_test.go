package gui

import (
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// TestFederationTab: the switch turns federation on and off in the
// server, and the tab and the Overview's health line follow (where other
// servers connect); the allow and block lists are checked as they are
// typed and saved in the server's form.
func TestFederationTab(t *testing.T) {
	h := newHarness(t)
	h.showTab("Federation")
	f := h.ui.federation
	h.waitFor("the switch", func() bool { return !f.on.Disabled() && strings.HasPrefix(f.state.Text, "Off") })
	if f.on.Checked || f.listening.Text != "nowhere" {
		t.Errorf("federation off: switch %v, listening %q", f.on.Checked, f.listening.Text)
	}
	h.waitFor("the health line", func() bool {
		return h.ui.overview.health.federation.Text == "off: accounts here talk only with each other"
	})

	test.Tap(f.on)
	h.waitFor("federation on", func() bool { return f.listening.Text != "nowhere" && !f.state.Visible() })
	if got := h.setting("federation.enabled"); got != "true" {
		t.Errorf("federation.enabled is %q after the switch", got)
	}
	info, err := h.api.Info(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if l := info.Federation.Listening; !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(l) || f.listening.Text != l {
		t.Errorf("the tab says other servers connect to %q; the server listens at %q", f.listening.Text, l)
	}
	if !strings.HasPrefix(f.links.Subtitle, "None yet") {
		t.Errorf("links: %q", f.links.Subtitle)
	}
	h.ui.info.trigger()
	h.waitFor("the health line", func() bool { return h.ui.overview.health.federation.Text == "on, no links yet" })

	// The lists: checked as typed, saved in the server's form.
	f.allow.SetText("jabber.org bad..example")
	if !f.listResult.Visible() || f.listResult.Importance != widget.DangerImportance || !strings.Contains(f.listResult.Text, `"bad..example" is not a domain name`) {
		t.Errorf("a bad domain shows %q (importance %v, visible %v)", f.listResult.Text, f.listResult.Importance, f.listResult.Visible())
	}
	if !f.save.Disabled() {
		t.Error("Save is enabled with a bad domain")
	}
	f.allow.SetText("Jabber.org, conversations.im")
	f.block.SetText("spam.example")
	if f.listResult.Visible() || f.save.Disabled() {
		t.Errorf("good lists: %q shown, Save disabled %v", f.listResult.Text, f.save.Disabled())
	}
	h.tap("Save")
	h.waitFor("saved", func() bool { return f.listResult.Text == "Saved and applied." })
	h.waitFor("the server's form", func() bool { return f.allow.Text == "jabber.org conversations.im" })
	if a, b := h.setting("federation.allow"), h.setting("federation.block"); a != "jabber.org conversations.im" || b != "spam.example" {
		t.Errorf("stored allow %q, block %q", a, b)
	}
	if !f.save.Disabled() {
		t.Error("Save is enabled with nothing changed")
	}

	// Off again, from the switch.
	test.Tap(f.on)
	h.waitFor("federation off", func() bool { return strings.HasPrefix(f.state.Text, "Off") && f.listening.Text == "nowhere" })
	if got := h.setting("federation.enabled"); got != "false" {
		t.Errorf("federation.enabled is %q after switching it off", got)
	}
	// Switched elsewhere (hearth config set): the tab follows the event.
	if _, err := h.api.SetSetting(h.ctx(), "federation.enabled", "true"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("federation on", func() bool { return f.on.Checked && f.listening.Text != "nowhere" && !f.state.Visible() })
}

// TestFederationTest: the test runs in the background and shows each
// step; against another Hearth it passes every step, by dialback (the
// servers' home CAs are not trusted), and the link shows in the list
// and the health line; a domain whose server cannot be reached fails at
// the step it fails at, with what to do.
func TestFederationTest(t *testing.T) {
	h := newHarness(t)
	peer := addPeer(t, h.api, "remote.test")
	for _, api := range []admin.API{h.api, peer} {
		if _, err := api.SetSetting(h.ctx(), "federation.enabled", "true"); err != nil {
			t.Fatal(err)
		}
	}
	h.showTab("Federation")
	f := h.ui.federation
	if !f.testButton.Disabled() {
		t.Error("Test is enabled with no domain")
	}
	f.testDomain.SetText("remote.test")
	h.tap("Test")
	if f.testButton.Text != "Stop" {
		t.Errorf("while the test runs, the button says %q", f.testButton.Text)
	}
	h.waitFor("the verdict", func() bool { return f.testing == nil })
	steps := h.stepTexts()
	t.Logf("steps:\n%s\n%s", strings.Join(steps, "\n"), f.testStatus.Text)
	if f.testStatus.Text != "Federation with remote.test works." || len(steps) != 5 {
		t.Errorf("verdict %q after %d steps", f.testStatus.Text, len(steps))
	}
	for i, name := range []string{"DNS", "Connect", "TLS", "Authentication", "Round trip"} {
		if i < len(steps) && !strings.HasPrefix(steps[i], "✓ "+name+": ") {
			t.Errorf("step %d: %q, want ✓ %s", i+1, steps[i], name)
		}
	}
	h.waitFor("the links", func() bool { return strings.HasSuffix(f.links.Subtitle, "links") || f.links.Subtitle == "1 link" })
	if !h.showsText("remote.test") || !h.showsText("proven by dialback") {
		t.Errorf("the links do not show remote.test by dialback:\n%s", strings.Join(h.texts(), "\n"))
	}
	h.ui.info.trigger()
	h.waitFor("the health line", func() bool {
		return regexp.MustCompile(`^on, \d links?$`).MatchString(h.ui.overview.health.federation.Text)
	})

	// A server that is not there.
	f.testDomain.SetText("nowhere.test")
	h.tap("Test")
	h.waitFor("the verdict", func() bool { return f.testing == nil })
	steps = h.stepTexts()
	if len(steps) == 0 || !strings.HasPrefix(steps[len(steps)-1], "✗ ") ||
		!strings.HasPrefix(f.testStatus.Text, "Federation with nowhere.test failed at the step ") || f.testStatus.Importance != widget.DangerImportance {
		t.Errorf("nowhere.test: %q, steps:\n%s", f.testStatus.Text, strings.Join(steps, "\n"))
	}
	// Not a domain: the server's words.
	f.testDomain.SetText("not a domain")
	h.tap("Test")
	h.waitFor("the verdict", func() bool { return f.testing == nil })
	if !strings.Contains(f.testStatus.Text, `"not a domain" is not a domain name`) {
		t.Errorf("not a domain: %q", f.testStatus.Text)
	}
}

// TestFederationTestAbandoned: a test of a server that takes its time
// ends when its Stop button is tapped and when the tab is left, and the
// server gives up on the other server at once.
func TestFederationTestAbandoned(t *testing.T) {
	h := newHarness(t)
	if _, err := h.api.SetSetting(h.ctx(), "federation.enabled", "true"); err != nil {
		t.Fatal(err)
	}
	// A server that accepts connections and says nothing.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			accepted <- c
		}
	}()
	v, _ := servers.Load(h.api)
	v.(*testServer).dns.set("silent.test", ln.Addr().String())

	h.showTab("Federation")
	f := h.ui.federation
	for _, leave := range []struct {
		how  string
		do   func()
		says string
	}{
		{"Stop", func() { h.tap("Stop") }, "The test was stopped."},
		{"leaving the tab", func() { h.showTab("Overview") }, "The test was stopped when the tab was left"},
	} {
		h.showTab("Federation")
		f.testDomain.SetText("silent.test")
		h.tap("Test")
		var c net.Conn
		select {
		case c = <-accepted:
		case <-time.After(10 * time.Second):
			t.Fatal("the test did not connect to silent.test")
		}
		leave.do()
		if f.testing != nil || !strings.HasPrefix(f.testStatus.Text, leave.says) || f.testButton.Text != "Test" {
			t.Errorf("after %s: running %v, %q, button %q", leave.how, f.testing != nil, f.testStatus.Text, f.testButton.Text)
		}
		// The server hangs up on silent.test: the test ended there too.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("after %s: the server still holds its connection to silent.test", leave.how)
				}
				break
			}
		}
		h.settle()
		if len(f.testSteps.Objects) != 0 {
			t.Errorf("after %s: an abandoned test showed steps", leave.how)
		}
	}
}

// stepTexts are the test's steps as shown: ✓ or ✗, the name, the detail.
func (h *harness) stepTexts() []string {
	var out []string
	for _, row := range h.ui.federation.testSteps.Objects {
		var texts []string
		var icon string
		walk(row, func(o fyne.CanvasObject) {
			switch o := o.(type) {
			case *widget.Icon:
				if o.Resource.Name() == theme.NewColoredResource(theme.ConfirmIcon(), theme.ColorNameSuccess).Name() {
					icon = "✓"
				} else {
					icon = "✗"
				}
			case *widget.Label:
				texts = append(texts, o.Text)
			}
		})
		out = append(out, icon+" "+strings.Join(texts, ": "))
	}
	return out
}

func TestFederationHealth(t *testing.T) {
	on := admin.FederationStatus{Enabled: true, Listening: "[::]:5269"}
	withLinks := on
	withLinks.Links = []admin.FederationLink{
		{Remote: "jabber.org", Direction: "out", Since: time.Now()},
		{Remote: "friend.example", Direction: "in", Since: time.Now(), Certificate: "not trusted"},
	}
	failing := withLinks
	failing.Links = append(slices.Clone(withLinks.Links), admin.FederationLink{Remote: "gone.example", Direction: "out", Error: "no answer"})
	for _, tc := range []struct {
		name       string
		info       admin.Info
		want       string
		importance widget.Importance
	}{
		{"not running", admin.Info{}, "the server is not running", widget.MediumImportance},
		{"off", admin.Info{Running: true}, "off: accounts here talk only with each other", widget.MediumImportance},
		{"not listening", admin.Info{Running: true, Federation: admin.FederationStatus{Enabled: true}},
			"on, but other servers cannot connect to this one: the federation port is not open", widget.WarningImportance},
		{"on", admin.Info{Running: true, Federation: on}, "on, no links yet", widget.SuccessImportance},
		{"links", admin.Info{Running: true, Federation: withLinks}, "on, 2 links", widget.SuccessImportance},
		{"failing", admin.Info{Running: true, Federation: failing}, "on, 3 links; problems with gone.example (see the Federation tab)", widget.WarningImportance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, importance := federationHealth(tc.info)
			if got != tc.want || importance != tc.importance {
				t.Errorf("%q (%v), want %q (%v)", got, importance, tc.want, tc.importance)
			}
		})
	}
}

func TestListeningWords(t *testing.T) {
	for addr, want := range map[string]string{
		"":                "nowhere",
		"[::]:5269":       "port 5269 on every address of this machine",
		"0.0.0.0:5269":    "port 5269 on every address of this machine",
		":5269":           "port 5269 on every address of this machine",
		"192.0.2.7:5269":  "192.0.2.7:5269",
		"127.0.0.1:40000": "127.0.0.1:40000",
	} {
		if got := listeningWords(addr); got != want {
			t.Errorf("%q: %q, want %q", addr, got, want)
		}
	}
}
