package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"hearth/storage/storagetest"
)

func archiveRow(user string, id int64, with, res string) ArchiveRow {
	return ArchiveRow{User: user, ID: id, Tag: id * 7, With: with, Res: res,
		Stanza: fmt.Appendf(nil, "<message id='m%d'><body>%d</body></message>", id, id)}
}

func ids(rows []ArchiveRow) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestArchive(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	// alice talks with bob (ids 1..10, the even ones from his phone) and
	// carol (11..15); bob's archive has the messages with alice.
	var qs []*Queued
	for id := int64(1); id <= 10; id++ {
		res := "laptop"
		if id%2 == 0 {
			res = "phone"
		}
		qs = append(qs, db.QueueArchive([]ArchiveRow{archiveRow("alice", id, "bob@example.org", res), archiveRow("bob", 100+id, "alice@example.org", "")}, nil))
	}
	for id := int64(11); id <= 15; id++ {
		qs = append(qs, db.QueueArchive([]ArchiveRow{archiveRow("alice", id, "carol@example.net", "")}, nil))
	}
	for _, q := range qs {
		if err := q.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		q    ArchiveQuery
		want []int64
	}{
		{"first page", ArchiveQuery{User: "alice", Max: 4}, []int64{1, 2, 3, 4}},
		{"after", ArchiveQuery{User: "alice", After: 12, Max: 10}, []int64{13, 14, 15}},
		{"before", ArchiveQuery{User: "alice", Before: 4, Max: 10}, []int64{1, 2, 3}},
		{"last page", ArchiveQuery{User: "alice", Last: true, Max: 3}, []int64{13, 14, 15}},
		{"last page before", ArchiveQuery{User: "alice", Last: true, Before: 13, Max: 3}, []int64{10, 11, 12}},
		{"with", ArchiveQuery{User: "alice", With: "carol@example.net", Max: 10}, []int64{11, 12, 13, 14, 15}},
		{"with full JID", ArchiveQuery{User: "alice", With: "bob@example.org", Res: "phone", Max: 10}, []int64{2, 4, 6, 8, 10}},
		{"with and range", ArchiveQuery{User: "alice", With: "bob@example.org", After: 3, Before: 8, Max: 10}, []int64{4, 5, 6, 7}},
		{"ids", ArchiveQuery{User: "alice", IDs: []int64{3, 14, 105}, Max: 10}, []int64{3, 14}},
		{"another's", ArchiveQuery{User: "bob", Max: 2}, []int64{101, 102}},
		{"none", ArchiveQuery{User: "alice", With: "dave@example.org", Max: 10}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := db.ArchivePage(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(rows); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			for _, r := range rows {
				if r.Tag != r.ID*7 || !strings.Contains(string(r.Stanza), fmt.Sprintf("m%d", r.ID)) || r.User != tc.q.User {
					t.Errorf("row %+v", r)
				}
			}
		})
	}
	if n, err := db.CountArchive(ctx, ArchiveQuery{User: "alice", With: "bob@example.org"}, 100); err != nil || n != 10 {
		t.Errorf("count = %d, %v; want 10", n, err)
	}
	if n, err := db.CountArchive(ctx, ArchiveQuery{User: "alice"}, 12); err != nil || n != 12 {
		t.Errorf("count up to 12 = %d, %v", n, err)
	}
	if tag, err := db.ArchiveTag(ctx, "alice", 5); err != nil || tag != 35 {
		t.Errorf("tag = %d, %v", tag, err)
	}
	if _, err := db.ArchiveTag(ctx, "alice", 105); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob's message in alice's archive: %v", err)
	}
	first, last, ok, err := db.ArchiveEnds(ctx, "alice")
	if err != nil || !ok || first.ID != 1 || last.ID != 15 || last.Tag != 105 {
		t.Errorf("ends %+v %+v %v %v", first, last, ok, err)
	}
	if _, _, ok, err := db.ArchiveEnds(ctx, "nobody"); ok || err != nil {
		t.Errorf("ends of an empty archive: %v %v", ok, err)
	}
	if id, err := db.ArchiveMaxID(ctx); err != nil || id != 110 {
		t.Errorf("max id %d, %v", id, err)
	}

	// A message for an account that is gone fails whole: neither row stays.
	err = db.QueueArchive([]ArchiveRow{archiveRow("alice", 200, "zed@example.org", ""), archiveRow("zed", 201, "alice@example.org", "")}, nil).Wait()
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("archive for a missing account: %v", err)
	}
	if _, err := db.ArchiveTag(ctx, "alice", 200); !errors.Is(err, ErrNotFound) {
		t.Errorf("the sender's row of a failed message stayed: %v", err)
	}

	// Retention: chunks of 4 below id 13, then nothing more.
	var deleted []int64
	for {
		q := db.QueueExpireArchive(13, 4)
		if err := q.Wait(); err != nil {
			t.Fatal(err)
		}
		deleted = append(deleted, q.ID())
		if q.ID() < 4 {
			break
		}
	}
	if !slices.Equal(deleted, []int64{4, 4, 4, 0}) {
		t.Errorf("deleted in chunks %v", deleted)
	}
	rows, _ := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 100})
	if got := ids(rows); !slices.Equal(got, []int64{13, 14, 15}) {
		t.Errorf("after expiry alice has %v", got)
	}
	rows, _ = db.ArchivePage(ctx, ArchiveQuery{User: "bob", Max: 100})
	if len(rows) != 10 {
		t.Errorf("after expiry bob has %v", ids(rows))
	}

	// Deleting an account deletes its archive and preferences.
	if err := db.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountArchive(ctx, ArchiveQuery{User: "bob"}, 100); n != 0 {
		t.Errorf("bob's archive has %d rows after his account was deleted", n)
	}
}

func TestArchivePrefs(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	addUser(t, db, "alice")
	if _, err := db.ArchivePrefs(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("prefs never set: %v", err)
	}
	want := ArchivePrefs{Default: "roster", Always: []string{"bob@example.org", "carol@example.net"}, Never: []string{"spam@example.com"}}
	if err := db.SetArchivePrefs(ctx, "alice", want); err != nil {
		t.Fatal(err)
	}
	got, err := db.ArchivePrefs(ctx, "alice")
	if err != nil || got.Default != want.Default || !slices.Equal(got.Always, want.Always) || !slices.Equal(got.Never, want.Never) {
		t.Errorf("prefs %+v, %v", got, err)
	}
	want = ArchivePrefs{Default: "never"}
	if err := db.SetArchivePrefs(ctx, "alice", want); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.ArchivePrefs(ctx, "alice"); got.Default != "never" || len(got.Always)+len(got.Never) != 0 {
		t.Errorf("prefs replaced: %+v", got)
	}
	if err := db.SetArchivePrefs(ctx, "nobody", want); !errors.Is(err, ErrNotFound) {
		t.Errorf("prefs of a missing account: %v", err)
	}
	if err := db.SetArchivePrefs(ctx, "alice", ArchivePrefs{Default: "sometimes"}); err == nil {
		t.Errorf("a default that is not always, roster or never was taken")
	}
}

// TestArchiveRun: archive writes queued together are inserted together;
// one for an account that is gone fails alone, the others commit.
func TestArchiveRun(t *testing.T) {
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	// The writes queue up behind another program's lock, so that they
	// are committed in one batch.
	release := storagetest.HoldWriteLock(t, db.Path())
	var qs []*Queued
	for id := int64(1); id <= 40; id++ {
		rows := []ArchiveRow{archiveRow("alice", 2*id, "bob@example.org", ""), archiveRow("bob", 2*id+1, "alice@example.org", "")}
		if id == 17 {
			rows[1].User = "zed"
		}
		qs = append(qs, db.QueueArchive(rows, nil))
	}
	release()
	for i, q := range qs {
		err := q.Wait()
		if i == 16 {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("write for a missing account: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("write %d: %v", i+1, err)
		}
	}
	for _, u := range []string{"alice", "bob"} {
		if n, _ := db.CountArchive(t.Context(), ArchiveQuery{User: u}, 100); n != 39 {
			t.Errorf("%s has %d archived, want 39", u, n)
		}
	}
	if _, err := db.ArchiveTag(t.Context(), "alice", 34); !errors.Is(err, ErrNotFound) {
		t.Errorf("the sender's row of the failed write stayed: %v", err)
	}
}

// TestArchivePlans checks that every kind of page query reads an index
// range, never the whole table: archives grow to millions of rows.
func TestArchivePlans(t *testing.T) {
	db := newDB(t)
	for _, q := range []ArchiveQuery{
		{User: "alice", Max: 50},
		{User: "alice", Last: true, Max: 50},
		{User: "alice", After: 5, Before: 1 << 40, Max: 50},
		{User: "alice", With: "bob@example.org", Max: 50},
		{User: "alice", With: "bob@example.org", Res: "phone", Last: true, After: 5, Max: 50},
		{User: "alice", IDs: []int64{1, 2}, Max: 50},
	} {
		query, args := archivePageSQL(q)
		rows, err := db.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "; ")
		if strings.Contains(all, "SCAN archive") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("%+v: plan %s", q, all)
		}
	}
}

// BenchmarkArchiveInsert archives messages from many senders at once, each
// waiting for its message (a row in the sender's archive and one in the
// recipient's) to be durable, as the router does: the figure is messages
// per second through the group commit.
func BenchmarkArchiveInsert(b *testing.B) {
	db := newDB(b)
	users := make([]string, 20)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
		addUser(b, db, users[i])
	}
	stanza := []byte(`<message from='u1@home.local/phone' to='u2@home.local' type='chat' id='x1'><body>Dinner is ready, come down please</body><origin-id xmlns='urn:xmpp:sid:0' id='2d1f3c0a-8f41-4c4e-9b8a-1f3f4b2c6d7e'/></message>`)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(512)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := next.Add(2)
			from, to := users[id%20], users[(id+1)%20]
			q := db.QueueArchive([]ArchiveRow{
				{User: from, ID: id, Tag: id, With: to + "@home.local", Stanza: stanza},
				{User: to, ID: id + 1, Tag: id, With: from + "@home.local", Res: "phone", Stanza: stanza},
			}, nil)
			if err := q.Wait(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkArchiveQuery reads a page of 50 from an archive of 1,000,000
// messages (one account's, among 10 contacts), at its start, its end and
// the middle, with and without a contact.
func BenchmarkArchiveQuery(b *testing.B) {
	const n = 1_000_000
	db := newDB(b)
	addUser(b, db, "alice")
	ctx := context.Background()
	stanza := []byte(`<message from='alice@home.local/phone' to='bob@home.local' type='chat' id='x1'><body>Dinner is ready, come down please</body></message>`)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO archive (id, username, peer, res, tag, stanza) VALUES (?, 'alice', ?, '', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := int64(1); i <= n; i++ {
		if _, err := st.ExecContext(ctx, i, fmt.Sprint("c", i%10, "@home.local"), i, stanza); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name string
		q    ArchiveQuery
	}{
		{"first", ArchiveQuery{User: "alice", Max: 50}},
		{"last", ArchiveQuery{User: "alice", Last: true, Max: 50}},
		{"middle", ArchiveQuery{User: "alice", After: n / 2, Max: 50}},
		{"with/first", ArchiveQuery{User: "alice", With: "c3@home.local", Max: 50}},
		{"with/last", ArchiveQuery{User: "alice", With: "c3@home.local", Last: true, Max: 50}},
		{"with/middle", ArchiveQuery{User: "alice", With: "c3@home.local", After: n / 2, Max: 50}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := db.ArchivePage(ctx, bb.q)
				if err != nil || len(rows) != 50 {
					b.Fatal(len(rows), err)
				}
			}
		})
	}
	b.Run("count-capped", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.CountArchive(ctx, ArchiveQuery{User: "alice", With: "c3@home.local"}, 10000); err != nil {
				b.Fatal(err)
			}
		}
	})
}
