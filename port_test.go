package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExportImport: hearth export writes a data directory's accounts to a
// XEP-0227 file and hearth import takes them into another, without a
// running server; a second import is refused, --replace takes it.
func TestExportImport(t *testing.T) {
	e := env(t)
	from := "--data=" + t.TempDir()
	to := "--data=" + t.TempDir()
	file := filepath.Join(t.TempDir(), "accounts.xml")
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", from)
	check(t, e, "", 0, "", "roster", "add", "alice", "bob@test.home", "--name", "Bob", "--group", "Family", from)
	check(t, e, "", 0, `(?s)^exported 1 account to .*accounts\.xml.*alice@test\.home: 1 contact\n.*keep it where only you can read it`, "export", file, from)
	check(t, e, "", 1, "", "export", file, from) // not over an existing file
	check(t, e, "", 0, "", "user", "add", "zed@test.home", "--password", "correct horse", to)
	check(t, e, "", 0, `(?s)^would import \(dry run, nothing changed\) 1 account of test\.home`, "import", file, "--dry-run", to)
	check(t, e, "", 0, `(?s)^imported 1 account of test\.home:\n  alice@test\.home: 1 contact\n    login keys: SCRAM-SHA-1 and SCRAM-SHA-256\n$`, "import", file, to)
	check(t, e, "", 0, `(?m)^bob@test\.home +Bob +none +Family$`, "roster", "list", "alice", to)
	r := check(t, e, "", 1, "", "import", file, to)
	if !strings.Contains(r.stderr, "alice@test.home") || !strings.Contains(r.stderr, "--replace") {
		t.Errorf("second import: %q", r.stderr)
	}
	check(t, e, "", 0, `replaced the existing account`, "import", file, "--replace", to)
	check(t, e, "", 2, "", "import", to)
}
