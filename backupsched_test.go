package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hearth/server/admin"
	"hearth/server/settings"
	"hearth/storage"
)

// TestScheduledBackups: the server makes a backup when the newest of its
// own is older than the schedule's period, keeps backup.keep of them,
// never touches one made by hand, and makes none when the schedule is off.
func TestScheduledBackups(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := storage.Open(ctx, filepath.Join(data, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := &admin.Local{DB: db, DataDir: data, Domain: "test.home"}
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	s := &backupScheduler{local: l, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	dir := filepath.Join(data, "backups")
	list := func() []string {
		entries, _ := os.ReadDir(dir)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		slices.Sort(out)
		return out
	}
	set := func(k, v string) {
		if _, err := l.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	step := func(d time.Duration) {
		t.Helper()
		now = now.Add(d)
		// The files' own times are what tells their age.
		for _, n := range list() {
			old := now.Add(-d)
			if strings.HasPrefix(n, autoPrefix) {
				os.Chtimes(filepath.Join(dir, n), old, old)
			}
		}
		if err := s.check(ctx); err != nil {
			t.Fatal(err)
		}
	}

	set(settings.KeyBackupKeep, "2")
	if err := s.check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 1 || got[0] != "hearth-auto-test.home-20261201-030000.tar.gz" {
		t.Fatalf("after the first check: %v", got)
	}
	if _, err := l.Backup(ctx, dir); err != nil { // one by hand
		t.Fatal(err)
	}
	step(time.Hour) // not due yet
	if got := list(); len(got) != 2 {
		t.Fatalf("an hour later: %v", got)
	}
	step(24 * time.Hour)
	step(24 * time.Hour)
	got := list()
	var auto, manual int
	for _, n := range got {
		if strings.HasPrefix(n, autoPrefix) {
			auto++
		} else {
			manual++
		}
	}
	if auto != 2 || manual != 1 || !slices.Contains(got, "hearth-auto-test.home-20261203-040000.tar.gz") {
		t.Fatalf("after two more days, keeping 2: %v", got)
	}

	set(settings.KeyBackupSchedule, "off")
	step(7 * 24 * time.Hour)
	if got := list(); len(got) != 3 {
		t.Fatalf("with the schedule off: %v", got)
	}
	set(settings.KeyBackupSchedule, "weekly")
	other := t.TempDir()
	set(settings.KeyBackupDir, other)
	step(time.Hour)
	if n, _ := os.ReadDir(other); len(n) != 1 {
		t.Fatalf("backup.dir %s holds %v", other, n)
	}
}
