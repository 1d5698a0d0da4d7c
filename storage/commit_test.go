package storage

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"hearth/storage/storagetest"
)

// holdLock takes the database's write lock from a connection of its own,
// as another program would, until the returned function is called.
func holdLock(t *testing.T, db *DB) (release func()) {
	return storagetest.HoldWriteLock(t, db.Path())
}

// TestGroupCommit: stores queued together are committed together, in
// queue order, each told its own ID; one for a missing user fails alone.
func TestGroupCommit(t *testing.T) {
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	release := holdLock(t, db)
	// The first write takes the committer into BEGIN, waiting for the
	// lock; everything after it queues for the next batch.
	first := db.QueueOffline("alice", "x@example.org", []byte("<message id='first'/>"), 0, nil)
	time.Sleep(50 * time.Millisecond)
	var qs []*Queued
	var afters sync.WaitGroup
	for i := range 100 {
		user := "alice"
		switch i {
		case 10:
			user = "nobody"
		case 20:
			user = "bob"
		}
		afters.Add(1)
		qs = append(qs, db.QueueOffline(user, "x@example.org", fmt.Appendf(nil, "<message id='%d'/>", i), 0,
			func(int64, error) { afters.Done() }))
	}
	before := db.CommitStats()
	release()
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	var last int64
	for i, q := range qs {
		err := q.Wait()
		if i == 10 {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("store for a missing user: %v, want ErrNotFound", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		if q.ID() <= last {
			t.Errorf("store %d has ID %d after %d", i, q.ID(), last)
		}
		last = q.ID()
	}
	afters.Wait()
	if got := db.CommitStats(); got.Batches-before.Batches > 2 {
		t.Errorf("%d stores took %d commits, want at most 2", len(qs), got.Batches-before.Batches)
	}
	if n, _ := db.CountOffline(t.Context(), "alice"); n != 1+98 {
		t.Errorf("alice has %d messages, want 99", n)
	}
}

// TestGroupCommitBusy: while another program holds the write lock past
// the busy timeout, writes fail with ErrBusy instead of waiting without
// end, and succeed again once it lets go.
func TestGroupCommitBusy(t *testing.T) {
	defer func(d int) { busyTimeout = d }(busyTimeout)
	busyTimeout = 200
	db := newDB(t)
	addUser(t, db, "alice")
	release := holdLock(t, db)
	start := time.Now()
	err := db.SetLastActivity(t.Context(), "alice", time.Now(), "")
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("write under another program's lock: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failed after %s", d)
	}
	t.Logf("error: %v", err)
	release()
	if err := db.SetLastActivity(t.Context(), "alice", time.Now(), ""); err != nil {
		t.Fatal(err)
	}
}

// TestCloseCommits: Close commits what is queued and refuses what comes
// after it.
func TestCloseCommits(t *testing.T) {
	db, err := Open(t.Context(), t.TempDir()+"/hearth.db")
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice")
	var qs []*Queued
	for i := range 500 {
		qs = append(qs, db.QueueOffline("alice", "x@example.org", fmt.Appendf(nil, "<message id='%d'/>", i), 0, nil))
	}
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i, q := range qs {
		if err := q.Wait(); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	if err := db.QueueOffline("alice", "x", nil, 0, nil).Wait(); !errors.Is(err, ErrClosed) {
		t.Errorf("store after Close: %v, want ErrClosed", err)
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _ := db.CountOffline(t.Context(), "alice"); n != 500 {
		t.Errorf("%d messages after reopening, want 500", n)
	}
}
