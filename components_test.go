package main

import (
	"regexp"
	"testing"
)

// TestComponentsCommand: hearth components adds (printing the secret),
// lists and removes external components, from the database alone and
// through the running server, which lists where they connect.
func TestComponentsCommand(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
	check(t, e, "", 0, `no external components`, "components", d)
	check(t, e, "", 0, `(?s)component gw\.test\.home added; its secret.*\n[0-9a-f]{48}\n$`, "components", "add", "gw", d)
	check(t, e, "", 0, `(?m)^gw\.test\.home +not connected`, "components", "list", d)

	start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	check(t, e, "", 0, `(?m)^listener: +component 127\.0\.0\.1:\d+`, "status", d)
	check(t, e, "", 0, `(?s)component bot\.test\.home added.*\n[0-9a-f]{48}\n$`, "components", "add", "bot", d)
	check(t, e, "", 0, `(?s)^NAME.*\nbot\.test\.home +not connected.*\ngw\.test\.home +not connected`, "components", d)
	check(t, e, "", 0, "", "components", "remove", "gw", d)
	res := check(t, e, "", 1, "", "components", "remove", "gw", d)
	if !regexp.MustCompile(`no component gw\.test\.home is configured`).MatchString(res.stderr) {
		t.Errorf("removing twice: %q", res.stderr)
	}
	check(t, e, "", 2, "", "components", "frobnicate", d)
}
