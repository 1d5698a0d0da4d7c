package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "hearth", Version: "v0.0.0-20261206153012-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-06T15:30:12Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	for _, tc := range []struct {
		name                            string
		bi                              *debug.BuildInfo
		version, commit, date, modified string
		want                            string
	}{
		{name: "nothing recorded", want: "0.1.0-dev"},
		{name: "devel", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: "0.1.0-dev"},
		{name: "stamped by the toolchain: no pseudo-version", bi: stamped,
			want: "0.1.0-dev (commit 0123456 with local changes, 2026-12-06)"},
		{name: "from make", commit: "fedcba9876543210fedcba9876543210fedcba98", date: "2026-12-05", modified: "false",
			bi: stamped, want: "0.1.0-dev (commit fedcba9, 2026-12-05)"},
		{name: "a release", version: "0.1.0", commit: "fedcba9876543210fedcba9876543210fedcba98", date: "2026-12-05",
			want: "0.1.0 (commit fedcba9, 2026-12-05)"},
		{name: "go install at a tag", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.2.1"}}, want: "0.2.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := read(tc.bi, tc.version, tc.commit, tc.date, tc.modified)
			if got.String() != tc.want {
				t.Errorf("String() = %q, want %q", got.String(), tc.want)
			}
			if strings.Contains(got.String(), "v0.0.0-") {
				t.Errorf("a Go pseudo-version shows: %q", got.String())
			}
		})
	}
	if i := read(stamped, "", "", "", ""); i.Commit != "0123456789abcdef0123456789abcdef01234567" || i.Go != "go1.26.8" {
		t.Errorf("full commit %q, Go %q", i.Commit, i.Go)
	}
}
