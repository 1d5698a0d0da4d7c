package storage

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// A room's archive needs no account; its messages are found by occupant,
// rewritten in place, expired like an account's, and deleted whole.
func TestRoomArchive(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	const room, other = "den@conference.home.test", "attic@conference.home.test"
	ann, ben := room+"/ann", room+"/ben"
	var ids []int64
	for i, with := range []string{ann, ben, ann, ben, ann} {
		rows := []ArchiveRow{archiveRow(room, with, "", int64(100+i))}
		if err := db.QueueArchive(rows, nil).Wait(); err != nil {
			t.Fatalf("room message %d: %v", i, err)
		}
		ids = append(ids, rows[0].ID)
	}
	if err := db.QueueArchive([]ArchiveRow{archiveRow(other, other+"/cy", "", 7)}, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	shared := []ArchiveRow{archiveRow("alice", "bob@home.test", "", 1), archiveRow("bob", "alice@home.test", "", 2)}
	if err := db.QueueArchive(shared, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	page := func(q ArchiveQuery) []int64 {
		t.Helper()
		rows, err := db.ArchivePage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return ids2(rows)
	}
	for _, tc := range []struct {
		q    ArchiveQuery
		want []int64
	}{
		{ArchiveQuery{User: room, Max: 10}, ids},
		{ArchiveQuery{User: room, With: ann, Max: 10}, pick(ids, 1, 3, 5)},
		{ArchiveQuery{User: room, With: ben, Last: true, Max: 1}, pick(ids, 4)},
		{ArchiveQuery{User: room, After: ids[1], Max: 2}, pick(ids, 3, 4)},
	} {
		if got := page(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.q, got, tc.want)
		}
	}
	if n, err := db.CountArchive(ctx, ArchiveQuery{User: room, With: ann}, 100); err != nil || n != 3 {
		t.Errorf("count of ann's: %d, %v", n, err)
	}

	t.Run("replace", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			owner     string
			id, tag   int64
			wantFound bool
		}{
			{"wrong tag", room, ids[1], 999, false},
			{"no such message", room, ids[4] + 1000, 101, false},
			{"another room's", other, ids[1], 101, false},
			{"in two archives", "alice", shared[0].ID, 1, false},
			{"the message", room, ids[1], 101, true},
		} {
			err := db.QueueReplaceArchived(tc.owner, tc.id, tc.tag, []byte("<message><retracted/></message>")).Wait()
			if tc.wantFound != (err == nil) || (err != nil && !errors.Is(err, ErrNotFound)) {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		rows, err := db.ArchivePage(ctx, ArchiveQuery{User: room, IDs: pick(ids, 2), Max: 1})
		if err != nil || len(rows) != 1 || string(rows[0].Stanza) != "<message><retracted/></message>" || rows[0].With != ben || rows[0].Tag != 101 {
			t.Errorf("the replaced message: %+v, %v", rows, err)
		}
		rows, _ = db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1})
		if len(rows) != 1 || string(rows[0].Stanza) != string(shared[0].Stanza) {
			t.Errorf("the shared message changed: %+v", rows)
		}
	})

	t.Run("retention", func(t *testing.T) {
		// Everything up to the room's second message is too old.
		q := db.QueueExpireArchive(ids[2], 100)
		if err := q.Wait(); err != nil {
			t.Fatal(err)
		}
		if got := page(ArchiveQuery{User: room, Max: 10}); !slices.Equal(got, ids[2:]) {
			t.Errorf("after expiry: %v, want %v", got, ids[2:])
		}
		if got := page(ArchiveQuery{User: room, With: ben, Max: 10}); !slices.Equal(got, pick(ids, 4)) {
			t.Errorf("ben's after expiry: %v", got)
		}
		if err := db.QueueReplaceArchived(room, ids[1], 101, []byte("<x/>")).Wait(); !errors.Is(err, ErrNotFound) {
			t.Errorf("replace an expired message: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := db.DeleteArchive(ctx, room); err != nil {
			t.Fatal(err)
		}
		if got := page(ArchiveQuery{User: room, Max: 10}); len(got) != 0 {
			t.Errorf("deleted room's archive: %v", got)
		}
		var runs int
		db.r.QueryRow(`SELECT count(*) FROM archive_index WHERE username = ?`, room).Scan(&runs)
		if runs != 0 {
			t.Errorf("%d index runs left", runs)
		}
		if got := page(ArchiveQuery{User: other, Max: 10}); len(got) != 1 {
			t.Errorf("the other room's archive: %v", got)
		}
		if got := page(ArchiveQuery{User: "alice", Max: 10}); len(got) != 1 {
			t.Errorf("alice's archive: %v", got)
		}
		// A room that never had an archive, or whose archive went.
		if err := db.DeleteArchive(ctx, room); err != nil {
			t.Error(err)
		}
	})
}

// A room's archive larger than a chunk goes in several commits.
func TestDeleteRoomArchiveInChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("writes five thousand messages")
	}
	db := newDB(t)
	const room = "den@conference.home.test"
	var last *Queued
	for i := range archiveChunk*2 + 10 {
		last = db.QueueArchive([]ArchiveRow{archiveRow(room, room+"/ann", "", int64(i))}, nil)
	}
	if err := last.Wait(); err != nil {
		t.Fatal(err)
	}
	before := db.CommitStats().Batches
	start := time.Now()
	if err := db.DeleteArchive(t.Context(), room); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted in %v", time.Since(start))
	// A chunk is whole runs of the index, at least archiveChunk messages.
	if n := db.CommitStats().Batches - before; n < 2 {
		t.Errorf("deleted in %d commit, want 2 or more", n)
	}
	var left int
	db.r.QueryRow(`SELECT (SELECT count(*) FROM archive_log) + (SELECT count(*) FROM archive_index)`).Scan(&left)
	if left != 0 {
		t.Errorf("%d rows left", left)
	}
}
