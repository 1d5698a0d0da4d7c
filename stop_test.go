package main

import (
	"strings"
	"testing"
)

func TestStopCommand(t *testing.T) {
	for _, tc := range []struct{ hearth, given, dir, want string }{
		{"hearth", "", "/home/ann/.local/share/hearth", "hearth stop"},
		{"hearth", "/srv/hearth", "/srv/hearth", "hearth stop --data /srv/hearth"},
		{"hearth", "x", "/home/ann/My Hearth", `hearth stop --data '/home/ann/My Hearth'`},
		{"hearth", "x", "/tmp/it's", `hearth stop --data '/tmp/it'\''s'`},
		{"/opt/hearth/bin/hearth", "", "/home/ann/.local/share/hearth", "/opt/hearth/bin/hearth stop"},
	} {
		if got := stopCommand(tc.hearth, tc.given, tc.dir); got != tc.want {
			t.Errorf("stopCommand(%q, %q, %q) = %q, want %q", tc.hearth, tc.given, tc.dir, got, tc.want)
		}
	}
	// The test binary is not the hearth on the PATH: its absolute path.
	if got := hearthCommand(); !strings.HasPrefix(got, "/") && !strings.HasPrefix(got, "'/") {
		t.Errorf("hearthCommand() = %q, want this binary's absolute path", got)
	}
}
