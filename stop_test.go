package main

import "testing"

func TestStopCommand(t *testing.T) {
	for _, tc := range []struct{ given, dir, want string }{
		{"", "/home/ann/.local/share/hearth", "hearth stop"},
		{"/srv/hearth", "/srv/hearth", "hearth stop --data /srv/hearth"},
		{"x", "/home/ann/My Hearth", `hearth stop --data '/home/ann/My Hearth'`},
		{"x", "/tmp/it's", `hearth stop --data '/tmp/it'\''s'`},
	} {
		if got := stopCommand(tc.given, tc.dir); got != tc.want {
			t.Errorf("stopCommand(%q, %q) = %q, want %q", tc.given, tc.dir, got, tc.want)
		}
	}
}
