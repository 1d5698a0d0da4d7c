package storage

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestArchiveIndexImportRollback: an import that replaces an account and
// fails rolls back to its savepoint; the runs that waited for the index
// were written before it and stay (a rollback once took them away while
// the committer believed them written).
func TestArchiveIndexImportRollback(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.commit.index.every, db.commit.index.atOnce = time.Hour, 0
	addUser(t, db, "alice", "bob", "carol")
	a := queueBurst(t, db, 50, 1)
	c := Credentials{Salt: []byte("salt"), Iters: 1, StoredKey: []byte("s"), ServerKey: []byte("k")}
	err = db.ImportAccount(ctx, Account{User: User{Name: "carol", SHA1: c, SHA256: c},
		Roster: []RosterItem{{Contact: "x@example.org", Subscription: "bogus"}}}, true)
	if err == nil {
		t.Fatal("an import with a bad subscription succeeded")
	}
	if page, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000}); err != nil || len(page) != len(a) {
		t.Errorf("alice reads %d of %d messages after the failed import: %v", len(page), len(a), err)
	}
	b := queueBurst(t, db, 5, 100)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if page, err := db2.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000}); err != nil || len(page) != len(a)+len(b) {
		t.Errorf("after a restart alice reads %d of %d: %v", len(page), len(a)+len(b), err)
	}
}

// TestArchiveIndexBusy: while another program holds the write lock the
// index cannot be written, and a read says so rather than miss messages.
func TestArchiveIndexBusy(t *testing.T) {
	defer func(d int) { busyTimeout = d }(busyTimeout)
	busyTimeout = 200
	ctx := t.Context()
	db := newDB(t)
	db.commit.index.every, db.commit.index.atOnce = time.Hour, 0
	addUser(t, db, "alice", "bob")
	a := queueBurst(t, db, 50, 1)
	release := holdLock(t, db)
	_, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000})
	if !errors.Is(err, ErrBusy) {
		t.Errorf("a page while the index cannot be written: %v, want ErrBusy", err)
	}
	if _, err := db.CountArchive(ctx, ArchiveQuery{User: "alice"}, 1000); !errors.Is(err, ErrBusy) {
		t.Errorf("a count while the index cannot be written: %v, want ErrBusy", err)
	}
	release()
	if page, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000}); err != nil || len(page) != len(a) {
		t.Errorf("after the lock: %d of %d, %v", len(page), len(a), err)
	}
}
