package storage

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestSnapshot: a snapshot taken while messages are being archived holds
// every message whose write had finished when it began, opens as a
// database of its own, and is refused over an existing file.
func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	var (
		done    atomic.Int64 // messages durable so far
		stop    = make(chan struct{})
		writers sync.WaitGroup
	)
	writers.Go(func() {
		for k := int64(1); ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			q := db.QueueArchive([]ArchiveRow{archiveRow("alice", "bob@example.org", "", k), archiveRow("bob", "alice@example.org", "", k)}, nil)
			if err := q.Wait(); err != nil {
				t.Error(err)
				return
			}
			done.Store(k)
		}
	})
	for done.Load() < 200 {
		runtime.Gosched()
	}
	before := done.Load()
	path := filepath.Join(t.TempDir(), "snap.db")
	if err := db.Snapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	close(stop)
	writers.Wait()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600", fi.Mode().Perm())
	}
	if err := db.Snapshot(ctx, path); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("a second snapshot over the first: %v", err)
	}

	// The copy opens as a database (hearth.db in a directory of its own).
	dir := t.TempDir()
	if err := os.Rename(path, filepath.Join(dir, "hearth.db")); err != nil {
		t.Fatal(err)
	}
	snap, err := Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if p, err := snap.QuickCheck(ctx); err != nil || p != nil {
		t.Fatalf("quick check of the snapshot: %v %v", p, err)
	}
	users, err := snap.Users(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("users in the snapshot: %v %v", users, err)
	}
	n, err := snap.CountArchive(ctx, ArchiveQuery{User: "bob"}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if int64(n) < before {
		t.Errorf("the snapshot holds %d of bob's messages; %d were durable before it began", n, before)
	}
	t.Logf("%d messages durable before the snapshot, %d in it, %d written in all", before, n, done.Load())
}
