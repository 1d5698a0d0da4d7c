package storage

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestArchiveIndexFollows checks that the index follows the log: a
// commit's runs wait in memory, a read sees them all the same, and a
// crash that loses them loses no message: Open indexes the log's tail.
func TestArchiveIndexFollows(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The runs wait for a read or a flush, not for a timer that could
	// fire before the crash below (set before the first write, which
	// the committer takes under the queue's lock).
	db.commit.index.every, db.commit.index.atOnce = time.Hour, 0
	addUser(t, db, "alice", "bob")
	a := queueBurst(t, db, 100, 1)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b := queueBurst(t, db, 150, 1000)
	all := append(slices.Clone(a), b...)

	indexedUpTo := func(db *DB) int64 {
		var v int64
		if err := db.r.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'archive_indexed'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := indexedUpTo(db); got != a[len(a)-1] {
		t.Fatalf("archive_indexed %d after the first burst and a flush, want %d", got, a[len(a)-1])
	}
	// A crash now: a copy of the files as they are, the second burst
	// in the log and not in the index.
	crash := t.TempDir()
	for _, name := range []string{"hearth.db", "hearth.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The running database reads every message: the read writes the runs.
	page, err := db.ArchivePage(ctx, ArchiveQuery{User: "bob", Max: 1000})
	if err != nil || !slices.Equal(ids2(page), all) {
		t.Fatalf("bob's archive: %d messages, %v; want %d", len(page), err, len(all))
	}
	if got := indexedUpTo(db); got != b[len(b)-1] {
		t.Errorf("archive_indexed %d after a read, want %d", got, b[len(b)-1])
	}

	// The copy opens with the second burst indexed from the log.
	db2, err := Open(context.Background(), filepath.Join(crash, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if got := indexedUpTo(db2); got != b[len(b)-1] {
		t.Errorf("archive_indexed %d after the crash, want %d", got, b[len(b)-1])
	}
	for _, q := range []ArchiveQuery{{User: "alice", Max: 1000}, {User: "bob", With: "alice@home.test", Max: 1000}, {User: "alice", Last: true, Max: 1000}} {
		page, err := db2.ArchivePage(ctx, q)
		if err != nil || !slices.Equal(ids2(page), all) {
			t.Errorf("%+v after the crash: %d messages, %v; want %d", q, len(page), err, len(all))
		}
	}
	if n, err := db2.CountArchive(ctx, ArchiveQuery{User: "alice", With: "bob@home.test"}, 10000); err != nil || n != len(all) {
		t.Errorf("count after the crash: %d, %v", n, err)
	}
	// New messages go on after the old ones.
	c := queueBurst(t, db2, 3, 5000)
	if c[0] <= b[len(b)-1] {
		t.Errorf("id %d after the crash is not past %d", c[0], b[len(b)-1])
	}
	if page, err := db2.ArchivePage(ctx, ArchiveQuery{User: "alice", Last: true, Max: 3}); err != nil || !slices.Equal(ids2(page), c) {
		t.Errorf("the last page after new messages: %v, %v", ids2(page), err)
	}
}

// TestArchiveLongRuns: runs that waited for the index past maxRunIDs ids
// are written as several rows, and read back whole across them.
func TestArchiveLongRuns(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	db.commit.index.every, db.commit.index.atOnce = time.Hour, 0
	addUser(t, db, "alice", "bob")
	ids := queueBurst(t, db, 2*maxRunIDs+100, 1)
	if err := db.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, longest int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*), max(n) FROM archive_index WHERE username = 'alice' AND peer = ''`).Scan(&rows, &longest); err != nil {
		t.Fatal(err)
	}
	if longest > maxRunIDs || rows < 3 {
		t.Errorf("alice's list in %d rows, the longest %d ids", rows, longest)
	}
	page, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", After: ids[maxRunIDs-10], Max: 20})
	if err != nil || !slices.Equal(ids2(page), ids[maxRunIDs-9:maxRunIDs+11]) {
		t.Errorf("a page across two rows: %v, %v", ids2(page), err)
	}
	if n, err := db.CountArchive(ctx, ArchiveQuery{User: "bob", With: "alice@home.test"}, 100000); err != nil || n != len(ids) {
		t.Errorf("count %d, %v; want %d", n, err, len(ids))
	}
}
