package main

import (
	"regexp"
	"testing"
)

// TestUploadsCommand: hearth uploads shows the limits and where files
// are served, from the running server or from the database alone; purge
// needs an account or --expired.
func TestUploadsCommand(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
	check(t, e, "", 0, "", "config", "set", "upload.quota_bytes", "0", d)
	check(t, e, "", 0, `(?s)served at: +\(the server is not running.*largest file: +100\.0 MiB\nper account: +no limit kept, 512\.0 MiB a day\nkept for: +720h\nin all: +0 files, 0 bytes`, "uploads", d)
	check(t, e, "", 0, `deleted 0 files \(0 bytes\)`, "uploads", "purge", "--user", "alice", d)

	start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	check(t, e, "", 0, `(?m)^served at: +https://test\.home:\d+$`, "uploads", "list", d)
	check(t, e, "", 0, `(?m)^listener: +https 127\.0\.0\.1:\d+`, "status", d)
	check(t, e, "", 0, `deleted 0 files \(0 bytes\)`, "uploads", "purge", "--expired", d)
	r := check(t, e, "", 2, "", "uploads", "purge", d)
	if !regexp.MustCompile(`--user USER\), or --expired`).MatchString(r.stderr) {
		t.Errorf("purge without a choice: %q", r.stderr)
	}
	check(t, e, "", 1, "", "uploads", "purge", "--user", "nobody@elsewhere.example", d)
}
