package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"hearth/storage/storagetest"
)

func archiveRow(user, with, res string, tag int64) ArchiveRow {
	return ArchiveRow{User: user, Tag: tag, With: with, Res: res,
		Stanza: fmt.Appendf(nil, "<message id='m%d'><body>%d</body></message>", tag, tag)}
}

func ids(rows []ArchiveRow) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

// pick is the ids of messages ns (1-based) of m.
func pick(m []int64, ns ...int) []int64 {
	var out []int64
	for _, n := range ns {
		out = append(out, m[n-1])
	}
	return out
}

func TestArchive(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	// alice talks with bob (messages 1..10, the even ones from his phone;
	// both archives) and carol (11..15, alice's alone). Message k's tag is
	// k in alice's archive, 100+k in bob's.
	var qs []*Queued
	m := make([]int64, 15)
	for k := 1; k <= 10; k++ {
		res := "laptop"
		if k%2 == 0 {
			res = "phone"
		}
		rows := []ArchiveRow{archiveRow("alice", "bob@example.org", res, int64(k)), archiveRow("bob", "alice@example.org", "", 100+int64(k))}
		qs = append(qs, db.QueueArchive(rows, nil))
		if rows[0].ID == 0 || rows[1].ID != rows[0].ID || (k > 1 && rows[0].ID <= m[k-2]) {
			t.Fatalf("message %d has ids %d and %d", k, rows[0].ID, rows[1].ID)
		}
		m[k-1] = rows[0].ID
	}
	for k := 11; k <= 15; k++ {
		rows := []ArchiveRow{archiveRow("alice", "carol@example.net", "", int64(k))}
		qs = append(qs, db.QueueArchive(rows, nil))
		m[k-1] = rows[0].ID
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
		{"first page", ArchiveQuery{User: "alice", Max: 4}, pick(m, 1, 2, 3, 4)},
		{"after", ArchiveQuery{User: "alice", After: m[11], Max: 10}, pick(m, 13, 14, 15)},
		{"before", ArchiveQuery{User: "alice", Before: m[3], Max: 10}, pick(m, 1, 2, 3)},
		{"last page", ArchiveQuery{User: "alice", Last: true, Max: 3}, pick(m, 13, 14, 15)},
		{"last page before", ArchiveQuery{User: "alice", Last: true, Before: m[12], Max: 3}, pick(m, 10, 11, 12)},
		{"last page between", ArchiveQuery{User: "alice", Last: true, After: m[8], Before: m[12], Max: 5}, pick(m, 10, 11, 12)},
		{"with", ArchiveQuery{User: "alice", With: "carol@example.net", Max: 10}, pick(m, 11, 12, 13, 14, 15)},
		{"with full JID", ArchiveQuery{User: "alice", With: "bob@example.org", Res: "phone", Max: 10}, pick(m, 2, 4, 6, 8, 10)},
		{"with full JID, last", ArchiveQuery{User: "alice", With: "bob@example.org", Res: "phone", Last: true, Max: 2}, pick(m, 8, 10)},
		{"with and range", ArchiveQuery{User: "alice", With: "bob@example.org", After: m[2], Before: m[7], Max: 10}, pick(m, 4, 5, 6, 7)},
		{"ids", ArchiveQuery{User: "alice", IDs: []int64{m[2], m[13], 5}, Max: 10}, pick(m, 3, 14)},
		{"ids with", ArchiveQuery{User: "bob", With: "alice@example.org", IDs: []int64{m[2], m[13]}, Max: 10}, pick(m, 3)},
		{"another's", ArchiveQuery{User: "bob", Max: 2}, pick(m, 1, 2)},
		{"another's, last", ArchiveQuery{User: "bob", Last: true, Max: 2}, pick(m, 9, 10)},
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
				k := slices.Index(m, r.ID) + 1
				tag := int64(k)
				if r.User == "bob" {
					tag += 100
				}
				if r.Tag != tag || !strings.Contains(string(r.Stanza), fmt.Sprintf("m%d'", k)) || r.User != tc.q.User {
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
	if n, err := db.CountArchive(ctx, ArchiveQuery{User: "alice", With: "bob@example.org", Res: "phone", After: m[3]}, 100); err != nil || n != 3 {
		t.Errorf("count with a resource = %d, %v; want 3", n, err)
	}
	if tag, err := db.ArchiveTag(ctx, "alice", m[4]); err != nil || tag != 5 {
		t.Errorf("tag = %d, %v", tag, err)
	}
	if tag, err := db.ArchiveTag(ctx, "bob", m[4]); err != nil || tag != 105 {
		t.Errorf("bob's tag = %d, %v", tag, err)
	}
	if _, err := db.ArchiveTag(ctx, "bob", m[11]); !errors.Is(err, ErrNotFound) {
		t.Errorf("alice's message with carol in bob's archive: %v", err)
	}
	first, last, ok, err := db.ArchiveEnds(ctx, "alice")
	if err != nil || !ok || first.ID != m[0] || first.Tag != 1 || last.ID != m[14] || last.Tag != 15 {
		t.Errorf("ends %+v %+v %v %v", first, last, ok, err)
	}
	if _, _, ok, err := db.ArchiveEnds(ctx, "nobody"); ok || err != nil {
		t.Errorf("ends of an empty archive: %v %v", ok, err)
	}

	// A message for an account that is gone fails whole: neither row stays.
	rows := []ArchiveRow{archiveRow("alice", "zed@example.org", "", 200), archiveRow("zed", "alice@example.org", "", 201)}
	err = db.QueueArchive(rows, nil).Wait()
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("archive for a missing account: %v", err)
	}
	if _, err := db.ArchiveTag(ctx, "alice", rows[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the sender's row of a failed message stayed: %v", err)
	}

	// Retention: chunks of 4 below message 13, then nothing more.
	var deleted []int64
	for {
		q := db.QueueExpireArchive(m[12], 4)
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
	got, _ := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 100})
	if !slices.Equal(ids(got), pick(m, 13, 14, 15)) {
		t.Errorf("after expiry alice has %v", ids(got))
	}
	if n, _ := db.CountArchive(ctx, ArchiveQuery{User: "alice", With: "carol@example.net"}, 100); n != 3 {
		t.Errorf("after expiry alice has %d with carol", n)
	}
	if n, _ := db.CountArchive(ctx, ArchiveQuery{User: "bob"}, 100); n != 0 {
		t.Errorf("after expiry bob has %d", n)
	}
	if first, _, _, _ := db.ArchiveEnds(ctx, "alice"); first.ID != m[12] {
		t.Errorf("after expiry alice's archive starts at %d", first.ID)
	}

	// Deleting an account deletes its archive and preferences; the
	// other's archive keeps the messages they shared.
	more := []ArchiveRow{archiveRow("alice", "bob@example.org", "", 16), archiveRow("bob", "alice@example.org", "", 116)}
	if err := db.QueueArchive(more, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if n, _ := db.CountArchive(ctx, ArchiveQuery{User: "bob"}, 100); n != 0 {
		t.Errorf("bob's archive has %d rows after his account was deleted", n)
	}
	if got, _ := db.ArchivePage(ctx, ArchiveQuery{User: "alice", With: "bob@example.org", Max: 10}); !slices.Equal(ids(got), []int64{more[0].ID}) {
		t.Errorf("alice's archive with bob after his account was deleted: %v", ids(got))
	}
	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	var left int
	db.r.QueryRow(`SELECT (SELECT count(*) FROM archive_log) + (SELECT count(*) FROM archive_index)`).Scan(&left)
	if left != 0 {
		t.Errorf("%d rows left in the archive tables with no account", left)
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

// TestArchiveRun: archive writes queued together are inserted together,
// under load one index run per list; one for an account that is gone
// fails alone, the others commit.
func TestArchiveRun(t *testing.T) {
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	// The writes queue up behind another program's lock, so that they
	// are committed in one batch.
	release := storagetest.HoldWriteLock(t, db.Path())
	var qs []*Queued
	var failed int64
	for k := int64(1); k <= 40; k++ {
		rows := []ArchiveRow{archiveRow("alice", "bob@example.org", "", k), archiveRow("bob", "alice@example.org", "", 100+k)}
		if k == 17 {
			rows[1].User = "zed"
		}
		qs = append(qs, db.QueueArchive(rows, nil))
		if k == 17 {
			failed = rows[0].ID
		}
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
		if n, _ := db.CountArchive(t.Context(), ArchiveQuery{User: u, Last: true, Before: failed}, 100); n != 16 {
			t.Errorf("%s has %d archived before the failed one, want 16", u, n)
		}
	}
	if _, err := db.ArchiveTag(t.Context(), "alice", failed); !errors.Is(err, ErrNotFound) {
		t.Errorf("the sender's row of the failed write stayed: %v", err)
	}
	var runs int
	db.r.QueryRow(`SELECT count(*) FROM archive_index`).Scan(&runs)
	// The first write may be committed alone, waiting for the lock; the
	// others in one commit: each adds a run to four lists (two archives,
	// each whole and with one contact).
	if runs != 4 && runs != 8 {
		t.Errorf("40 messages in two commits made %d index runs, want 4 or 8", runs)
	}
}

// TestArchivePlans checks that every read of the archive reads an index
// range or rows by id, never a whole table: archives grow to millions of
// rows.
func TestArchivePlans(t *testing.T) {
	db := newDB(t)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first <= ? ORDER BY first DESC LIMIT 1`, []any{"alice", "", 5}},
		{`SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first > ? AND first < ? ORDER BY first LIMIT ?`, []any{"alice", "", 5, 1 << 40, 64}},
		{`SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first < ? ORDER BY first DESC LIMIT ?`, []any{"alice", "bob@example.org", 1 << 40, 64}},
		{sqlLogRecs, []any{"[1,2]"}},
		{sqlLogByID, []any{"[1,2]"}},
		{sqlLogAcross, []any{5}},
		{sqlLogOldest, []any{5, 10}},
		{sqlLogLast, nil},
		{sqlLogTail, []any{5}},
		{`SELECT username, peer, first, n, ids FROM archive_index WHERE first < ?`, []any{5}},
		{`SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = '' ORDER BY first LIMIT ?`, []any{"alice", 10}},
		{`SELECT coalesce(sum(n), 0) FROM (SELECT n FROM archive_index
		WHERE username = ? AND peer = ? AND first > ? AND first < ? AND last < ? ORDER BY first LIMIT ?)`, []any{"alice", "", 5, 1 << 40, 1 << 40, 10000}},
		{`SELECT first, last, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first < ? ORDER BY first DESC LIMIT 1`, []any{"alice", "", 1 << 40}},
	} {
		rows, err := db.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q.query, q.args...)
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
			t.Errorf("%s: plan %s", q.query, all)
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
				{User: to, Tag: id, With: from + "@home.local", Res: "phone", Stanza: stanza},
				{User: from, Tag: id + 1, With: to + "@home.local"},
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
// the middle, with and without a contact. Each message is a run of its own
// in the index, as when messages come one at a time: the most rows a page
// can take.
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
	for i := int64(1); i <= n; i++ {
		peer := fmt.Sprint("c", i%10, "@home.local")
		if _, err := tx.ExecContext(ctx, `INSERT INTO archive_log (id, meta, stanza) VALUES (?, ?, ?)`, i, appendMeta(nil, []ArchiveRow{{User: "alice", With: peer, Tag: i}}), stanza); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO archive_index (username, peer, first, last, n) VALUES ('alice', '', ?1, ?1, 1), ('alice', ?2, ?1, ?1, 1)`, i, peer); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	benchPages(b, db, n/2)
	b.Run("count-capped", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.CountArchive(ctx, ArchiveQuery{User: "alice", With: "c3@home.local"}, 10000); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkArchiveQueryBlocks reads a page of 50 from an archive of
// 1,000,000 messages written as under load: queued in bursts of 4,096, so
// that the log holds blocks of 64 messages and a contact's page spans
// several blocks, each decoded whole.
func BenchmarkArchiveQueryBlocks(b *testing.B) {
	const n = 1_000_000
	db := newDB(b)
	addUser(b, db, "alice")
	ctx := context.Background()
	stanza := []byte(`<message from='alice@home.local/phone' to='bob@home.local' type='chat' id='x1'><body>Dinner is ready, come down please</body></message>`)
	var ids []int64
	for i := 0; i < n; i += 4096 {
		var qs []*Queued
		for j := i; j < min(i+4096, n); j++ {
			rows := []ArchiveRow{{User: "alice", With: fmt.Sprint("c", j%10, "@home.local"), Tag: int64(j), Stanza: stanza}}
			qs = append(qs, db.QueueArchive(rows, nil))
			ids = append(ids, rows[0].ID)
		}
		for _, q := range qs {
			if err := q.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var rows, blocks int
	db.r.QueryRow(`SELECT count(*), count(last) FROM archive_log`).Scan(&rows, &blocks)
	b.Logf("%d messages in %d rows, %d of them blocks", n, rows, blocks)
	benchPages(b, db, ids[n/2])
}

// benchPages reads pages of 50 of alice's archive, with and without the
// contact c3@home.local: at the start, the end, and after mid.
func benchPages(b *testing.B, db *DB, mid int64) {
	for _, bb := range []struct {
		name string
		q    ArchiveQuery
	}{
		{"first", ArchiveQuery{User: "alice", Max: 50}},
		{"last", ArchiveQuery{User: "alice", Last: true, Max: 50}},
		{"middle", ArchiveQuery{User: "alice", After: mid, Max: 50}},
		{"with/first", ArchiveQuery{User: "alice", With: "c3@home.local", Max: 50}},
		{"with/last", ArchiveQuery{User: "alice", With: "c3@home.local", Last: true, Max: 50}},
		{"with/middle", ArchiveQuery{User: "alice", With: "c3@home.local", After: mid, Max: 50}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, err := db.ArchivePage(context.Background(), bb.q)
				if err != nil || len(rows) != 50 {
					b.Fatal(len(rows), err)
				}
			}
		})
	}
}

// TestArchiveUpgrade: the archives of schema version 6 (a row per message
// per archive) read the same after the upgrade to the log and its index,
// and new messages follow them.
func TestArchiveUpgrade(t *testing.T) {
	ctx := t.Context()
	path, w := emptyWriter(t)
	v6 := fstest.MapFS{}
	for v := 1; v <= 6; v++ {
		names, _ := fs.Glob(migrationFS, fmt.Sprintf("migrations/%04d_*.sql", v))
		b, err := fs.ReadFile(migrationFS, names[0])
		if err != nil {
			t.Fatal(err)
		}
		v6[names[0]] = &fstest.MapFile{Data: b}
	}
	if err := migrate(ctx, w, v6); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := w.ExecContext(ctx, `INSERT INTO users (name, sha1_salt, sha1_iters, sha1_stored, sha1_server,
			sha256_salt, sha256_iters, sha256_stored, sha256_server, created) VALUES (?, x'00', 1, x'00', x'00', x'00', 1, x'00', x'00', 0)`, u); err != nil {
			t.Fatal(err)
		}
	}
	// Version 6 gave each archive's row its own id.
	for _, r := range []ArchiveRow{
		archiveRow("alice", "bob@home.test", "phone", 1), archiveRow("bob", "alice@home.test", "", 2),
		archiveRow("alice", "carol@example.org", "", 3),
	} {
		if _, err := w.ExecContext(ctx, `INSERT INTO archive (id, username, peer, res, tag, stanza) VALUES (?, ?, ?, ?, ?, ?)`,
			r.Tag, r.User, r.With, r.Res, r.Tag*10, r.Stanza); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	more := []ArchiveRow{archiveRow("alice", "bob@home.test", "", 4), archiveRow("bob", "alice@home.test", "", 5)}
	if err := db.QueueArchive(more, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    ArchiveQuery
		want []int64
	}{
		{ArchiveQuery{User: "alice", Max: 10}, []int64{1, 3, more[0].ID}},
		{ArchiveQuery{User: "alice", With: "bob@home.test", Res: "phone", Max: 10}, []int64{1}},
		{ArchiveQuery{User: "bob", Last: true, Max: 10}, []int64{2, more[0].ID}},
	} {
		rows, err := db.ArchivePage(ctx, tc.q)
		if err != nil || !slices.Equal(ids(rows), tc.want) {
			t.Errorf("%+v: %v, %v; want %v", tc.q, ids(rows), err, tc.want)
		}
	}
	if tag, err := db.ArchiveTag(ctx, "bob", 2); err != nil || tag != 20 {
		t.Errorf("bob's tag of message 2: %d, %v", tag, err)
	}
}
