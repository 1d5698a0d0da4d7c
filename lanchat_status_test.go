package main

import (
	"strings"
	"testing"

	"hearth/server/admin"
)

// TestLANStatusText: what peers announce is printed by hearth lan status
// without control characters: no terminal escape sequence reaches the
// terminal, no tab or line break breaks the table.
func TestLANStatusText(t *testing.T) {
	st := admin.LinkLocalStatus{Enabled: true, Running: true, Host: "lan.example.org", Port: 5298, OptedIn: []string{"alice"},
		Peers: []admin.LinkLocalPeer{{Name: "bob@familydevice", JID: "bob%familydevice@lan.example.org", Status: "away",
			Msg: "a\x1b]0;owned\x07b\x1b[2Jc\td\ne\u009b31m\u202eevil\xff", Addrs: []string{"10.0.0.2"}}}}
	var b strings.Builder
	if err := writeLANChat(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, c := range []string{"\x1b", "\x07", "\t", "\u009b", "\u202e", "\xff"} {
		if strings.Contains(out, c) {
			t.Errorf("hearth lan status printed %q:\n%s", c, out)
		}
	}
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 4 {
		t.Errorf("hearth lan status printed %d lines, want 4:\n%s", len(lines), out)
	}
	if !strings.Contains(out, "a?]0;owned?b?[2Jc?d?e?31m?evil\uFFFD") {
		t.Errorf("the peer's message is not shown with its control characters replaced:\n%s", out)
	}
}
