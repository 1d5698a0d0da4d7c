package storage

import (
	"slices"
	"strings"
	"testing"
)

// The archive's stored forms under fuzzing, and its edge cases: deletions
// cut short, ids after a restart, a caller's mistake.

// FuzzArchiveMeta: a log row's places read back as written, and anything
// else is refused without a panic.
func FuzzArchiveMeta(f *testing.F) {
	f.Add([]byte("alice\x01bob@home.test\x01phone\x01-42"), "bob", "alice@home.test", "", int64(7))
	f.Add([]byte("a\x01b\x01c"), "x", "y", "z", int64(0))
	f.Add([]byte{}, "", "", "", int64(1)<<62)
	f.Fuzz(func(t *testing.T, meta []byte, user, with, res string, tag int64) {
		if places, err := parseMeta(meta); err == nil && len(places) == 0 {
			t.Errorf("%q read as no places", meta)
		}
		if strings.ContainsRune(user+with+res, metaSep) {
			return
		}
		rows := []ArchiveRow{{User: user, With: with, Res: res, Tag: tag}, {User: with, With: user, Tag: ^tag}}
		got, err := parseMeta(appendMeta(nil, rows))
		same := func(a, b ArchiveRow) bool {
			return a.User == b.User && a.With == b.With && a.Res == b.Res && a.Tag == b.Tag
		}
		if err != nil || !slices.EqualFunc(got, rows, same) {
			t.Errorf("%+v read back as %+v, %v", rows, got, err)
		}
	})
}

// FuzzArchiveRun: an index run reads back as written, and a damaged one
// is refused without a panic.
func FuzzArchiveRun(f *testing.F) {
	f.Add(int64(1000), 3, []byte{1, 2})
	f.Add(int64(5), 1, []byte(nil))
	f.Add(int64(-1), 2, []byte{0x80})
	f.Fuzz(func(t *testing.T, first int64, n int, packed []byte) {
		if n < 0 || n > 1<<16 {
			return
		}
		ids, err := unpackRun(first, n, packed)
		if err != nil {
			return
		}
		if len(ids) != n || ids[0] != first {
			t.Fatalf("run at %d of %d read as %v", first, n, ids)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("run not ascending: %v", ids)
			}
		}
		back, _ := packRun(ids).([]byte)
		if again, err := unpackRun(first, n, back); err != nil || !slices.Equal(again, ids) {
			t.Errorf("run %v packed and read as %v, %v", ids, again, err)
		}
	})
}

// TestArchiveStaleContactRuns: each chunk of an account's deletion
// (deleteArchiveOf) takes its messages out of the lists with single
// contacts too, so that a reader during a long deletion, or after one cut
// short, counts what it can read.
func TestArchiveStaleContactRuns(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	for k := int64(1); k <= 3; k++ {
		if err := db.QueueArchive([]ArchiveRow{archiveRow("alice", "x@remote.test", "", k)}, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// DeleteUser's first step: the chunks, without the final commit.
	if err := db.deleteArchiveOf(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	q := ArchiveQuery{User: "alice", With: "x@remote.test", Max: 10}
	rows, err := db.ArchivePage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := db.CountArchive(ctx, ArchiveQuery{User: "alice"}, 100)
	with, _ := db.CountArchive(ctx, q, 100)
	if len(rows) != with || whole != with {
		t.Errorf("alice's archive with x: page of %d, count %d; whole archive count %d", len(rows), with, whole)
	}
}

// TestArchiveStaleIDsAtOpen: after a deletion cut short between its chunks
// and its final commit, the index holds no id above those of the log, from
// which Open goes on making ids (a clock set back, as on a board without a
// real-time clock before NTP, cannot make runs of one list overlap).
func TestArchiveStaleIDsAtOpen(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	if err := db.QueueArchive([]ArchiveRow{archiveRow("bob", "x@remote.test", "", 1)}, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueArchive([]ArchiveRow{archiveRow("alice", "x@remote.test", "", 2)}, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := db.deleteArchiveOf(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	path := db.Path()
	db.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var last int64
	db.r.QueryRow(`SELECT max(last) FROM archive_index`).Scan(&last)
	db.commit.mu.Lock()
	next := db.commit.lastArchiveID
	db.commit.mu.Unlock()
	if next < last {
		t.Errorf("ids restart above %d; the index holds %d", next, last)
	}
}

// TestArchiveSameUserTwice: one message in one archive twice is a mistake
// of the caller, refused before anything is written.
func TestArchiveSameUserTwice(t *testing.T) {
	db := newDB(t)
	addUser(t, db, "alice")
	defer func() {
		if recover() == nil {
			t.Errorf("two rows for alice were taken")
		}
	}()
	db.QueueArchive([]ArchiveRow{archiveRow("alice", "alice@home.test", "a", 2), archiveRow("alice", "alice@home.test", "b", 3)}, nil)
}
