// Package buildinfo is Hearth's version as people read it: the release
// and the commit it was built from, from the linker (make passes them) or
// from what the Go toolchain stamps into the binary. Never a Go
// pseudo-version: "0.1.0-dev (commit abc1234, 2026-12-06)".
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Base is the release this source tree is on the way to; a build that is
// not that release shows it with -dev.
const Base = "0.1.0"

// Set by the linker, for example by make:
//
//	-X hearth/internal/buildinfo.version=0.1.0
//	-X hearth/internal/buildinfo.commit=<full hash>
//	-X hearth/internal/buildinfo.date=2026-12-06
//	-X hearth/internal/buildinfo.modified=true
var version, commit, date, modified string

// Info describes a build.
type Info struct {
	Version  string // a release (0.1.0), or Base-dev
	Commit   string // the full commit hash, or "" when not recorded
	Date     string // the commit's date, YYYY-MM-DD, or ""
	Modified bool   // built from a tree with changes not committed
	Go       string // the Go toolchain's version
}

// Read describes this binary.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return read(bi, version, commit, date, modified)
}

// pseudo matches a Go pseudo-version's tail: a timestamp and a commit.
var pseudo = regexp.MustCompile(`-(\d+\.)?\d{14}-[0-9a-f]{12}`)

// read combines what the linker set (which wins) with what the toolchain
// stamped into bi (which may be nil).
func read(bi *debug.BuildInfo, version, commit, date, modified string) Info {
	i := Info{Version: version, Commit: commit, Date: date, Modified: modified == "true", Go: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; i.Version == "" && v != "" && v != "(devel)" && !pseudo.MatchString(v) {
			i.Version = strings.TrimSuffix(strings.TrimPrefix(v, "v"), "+dirty") // go install hearth@v0.1.0
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "":
				i.Commit = s.Value
			case s.Key == "vcs.time" && i.Date == "" && len(s.Value) >= len("2006-01-02"):
				i.Date = s.Value[:len("2006-01-02")]
			case s.Key == "vcs.modified" && modified == "":
				i.Modified = s.Value == "true"
			}
		}
		if bi.GoVersion != "" {
			i.Go = bi.GoVersion
		}
	}
	if i.Version == "" {
		i.Version = Base + "-dev"
	}
	return i
}

// ShortCommit is the commit's first seven digits, or "".
func (i Info) ShortCommit() string {
	if len(i.Commit) > 7 {
		return i.Commit[:7]
	}
	return i.Commit
}

// String is the version as Hearth shows it: "0.1.0-dev (commit abc1234,
// 2026-12-06)", "0.1.0 (commit abc1234 with local changes, 2026-12-06)",
// or only the version when no commit is recorded.
func (i Info) String() string {
	var about []string
	if c := i.ShortCommit(); c != "" {
		if i.Modified {
			c += " with local changes"
		}
		about = append(about, "commit "+c)
	}
	if i.Date != "" {
		about = append(about, i.Date)
	}
	if len(about) == 0 {
		return i.Version
	}
	return i.Version + " (" + strings.Join(about, ", ") + ")"
}
