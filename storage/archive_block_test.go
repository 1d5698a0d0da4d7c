package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// logAll reads every message of the log, blocks decoded.
func logAll(t testing.TB, db *DB) (entries []logEntry, blocks int) {
	t.Helper()
	rows, err := db.r.QueryContext(context.Background(), `SELECT id, last, n, meta, stanza FROM archive_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRec(rows.Scan)
		if err != nil {
			t.Fatal(err)
		}
		if r.block {
			blocks++
		}
		entries = append(entries, r.entries...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return entries, blocks
}

// queueBurst queues k messages from bob to alice at once, so that the
// group commit takes most of them together, and waits for them.
func queueBurst(t *testing.T, db *DB, k int, firstTag int64) []int64 {
	t.Helper()
	qs := make([]*Queued, k)
	ids := make([]int64, k)
	for i := range qs {
		tag := firstTag + int64(i)
		rows := []ArchiveRow{archiveRow("alice", "bob@home.test", "", tag), archiveRow("bob", "alice@home.test", "", tag+1000)}
		qs[i] = db.QueueArchive(rows, nil)
		ids[i] = rows[0].ID
	}
	for _, q := range qs {
		if err := q.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestArchiveBlocks checks the log's blocks: messages queued together are
// written as blocks and read back one by one; a purge, a replacement and
// retention each change one block and keep the rest.
func TestArchiveBlocks(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob", "carol")
	ids := queueBurst(t, db, 300, 1)
	entries, blocks := logAll(t, db)
	if blocks == 0 || len(entries) != 300 {
		t.Fatalf("300 messages queued at once made %d blocks of %d messages", blocks, len(entries))
	}
	// Every message reads back, by page, by id and by tag.
	page, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", With: "bob@home.test", Max: 1000})
	if err != nil || !slices.Equal(ids2(page), ids) {
		t.Fatalf("alice's page: %d rows, %v", len(page), err)
	}
	for i, r := range page {
		if r.Tag != int64(i+1) || !bytes.Contains(r.Stanza, fmt.Appendf(nil, "m%d'", i+1)) {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	if tag, err := db.ArchiveTag(ctx, "bob", ids[150]); err != nil || tag != 1151 {
		t.Errorf("bob's tag of message 150: %d, %v", tag, err)
	}
	got, err := db.ArchivePage(ctx, ArchiveQuery{User: "bob", IDs: []int64{ids[3], ids[299], ids[64]}, Max: 10})
	if err != nil || !slices.Equal(ids2(got), []int64{ids[3], ids[64], ids[299]}) {
		t.Errorf("by ids: %v, %v", ids2(got), err)
	}

	// Retention cuts inside a block: exactly the 70 oldest go.
	q := db.QueueExpireArchive(ids[200], 70)
	if err := q.Wait(); err != nil || q.ID() != 70 {
		t.Fatalf("expire: %d, %v", q.ID(), err)
	}
	if page, _ := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000}); !slices.Equal(ids2(page), ids[70:]) {
		t.Errorf("after expiring 70: %d rows left, first %v", len(page), ids2(page)[:1])
	}
	// And below an id inside a block: everything below it.
	q = db.QueueExpireArchive(ids[100], 1000)
	if err := q.Wait(); err != nil || q.ID() != 30 {
		t.Fatalf("expire below message 100: %d, %v", q.ID(), err)
	}
	if page, _ := db.ArchivePage(ctx, ArchiveQuery{User: "bob", Max: 1000}); !slices.Equal(ids2(page), ids[100:]) {
		t.Errorf("after expiring below 100: %d rows left", len(page))
	}

	// Deleting bob takes his place out of every block: alice keeps all.
	if err := db.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	entries, _ = logAll(t, db)
	for _, e := range entries {
		if bytes.Contains(e.meta, []byte("bob\x01")) {
			t.Fatalf("message %d still in bob's archive: %q", e.id, e.meta)
		}
	}
	if page, _ := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 1000}); !slices.Equal(ids2(page), ids[100:]) {
		t.Errorf("alice's archive after bob went: %d rows", len(page))
	}
	// Now in one archive only, a message in a block can be replaced.
	if err := db.QueueReplaceArchived("alice", ids[250], 251, []byte("<message><retracted/></message>")).Wait(); err != nil {
		t.Fatal(err)
	}
	got, _ = db.ArchivePage(ctx, ArchiveQuery{User: "alice", IDs: []int64{ids[249], ids[250], ids[251]}, Max: 3})
	if len(got) != 3 || string(got[1].Stanza) != "<message><retracted/></message>" || !bytes.Contains(got[2].Stanza, []byte("m252'")) {
		t.Errorf("after the replacement: %+v", got)
	}
	if err := db.QueueReplaceArchived("alice", ids[250], 999, nil).Wait(); !errors.Is(err, ErrNotFound) {
		t.Errorf("replacement with a wrong tag: %v", err)
	}

	// Ids keep growing past a block's last after a restart.
	last, err := logLast(ctx, db.r)
	if err != nil || last != ids[299] {
		t.Errorf("last id %d, %v; want %d", last, err, ids[299])
	}
}

// TestArchiveBlockDamage checks that a damaged block is an error, not a
// panic or a wrong message.
func TestArchiveBlockDamage(t *testing.T) {
	var bb blockBuf
	entries := []logEntry{{id: 10, meta: []byte("a"), stanza: []byte("<m/>")}, {id: 12, meta: []byte("b"), stanza: []byte("<n/>")}}
	good := bb.encode(10, entries)
	if got, err := decodeBlock(10, 2, good); err != nil || len(got) != 2 || got[1].id != 12 || string(got[1].stanza) != "<n/>" {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	for name, c := range map[string]struct {
		n    int
		data []byte
	}{
		"count":    {3, good},
		"zero":     {0, good},
		"format":   {2, append([]byte{9}, good[1:]...)},
		"checksum": {2, append(append([]byte{}, good[:1]...), append([]byte{0, 0, 0, 0}, good[5:]...)...)},
		"short":    {2, good[:len(good)-2]},
		"empty":    {2, nil},
	} {
		if _, err := decodeBlock(10, c.n, c.data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzArchiveBlock decodes arbitrary blocks, and checks that what is
// encoded decodes to itself.
func FuzzArchiveBlock(f *testing.F) {
	var bb blockBuf
	f.Add(bb.encode(1, []logEntry{{id: 1, meta: []byte("m"), stanza: []byte("s")}, {id: 5, stanza: []byte("<x/>")}}), 2, []byte("abc"))
	f.Add([]byte{1, 0, 0, 0, 0, 0}, 1, []byte{})
	f.Fuzz(func(t *testing.T, data []byte, n int, body []byte) {
		if got, err := decodeBlock(100, n, data); err == nil && len(got) != n {
			t.Fatalf("decoded %d messages, want %d", len(got), n)
		}
		// Round trip: body split into up to maxBlock messages.
		var in []logEntry
		for i := 0; i < len(body) && len(in) < maxBlock; i += 3 {
			in = append(in, logEntry{id: 100 + int64(i), meta: body[i:min(i+1, len(body))], stanza: body[min(i+1, len(body)):min(i+3, len(body))]})
		}
		if len(in) == 0 {
			return
		}
		var bb blockBuf
		out, err := decodeBlock(100, len(in), bb.encode(100, in))
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if out[i].id != in[i].id || !bytes.Equal(out[i].meta, in[i].meta) || !bytes.Equal(out[i].stanza, in[i].stanza) {
				t.Fatalf("message %d: %+v, want %+v", i, out[i], in[i])
			}
		}
	})
}

// TestArchiveBlockLongMeta checks a block whose metas need more than a
// byte for their length (long JIDs and resources), written from places
// as the group commit writes them.
func TestArchiveBlockLongMeta(t *testing.T) {
	var bb blockBuf
	var in []logEntry
	for i, n := range []int{0, 1, 120, 127, 128, 300, 20000} {
		res := string(bytes.Repeat([]byte{'r'}, n))
		m := &archiveMsg{n: 1, places: [2]place{{user: "alice", with: "bob@home.test", res: res, tag: int64(i)}}}
		in = append(in, logEntry{id: 100 + int64(i), msg: m, stanza: []byte(fmt.Sprint("<m", i, "/>"))})
	}
	out, err := decodeBlock(100, len(in), bb.encode(100, in))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range out {
		want := in[i].appendMeta(nil)
		if e.id != in[i].id || !bytes.Equal(e.meta, want) || !bytes.Equal(e.stanza, in[i].stanza) {
			t.Errorf("message %d: %d %q %q", i, e.id, e.meta, e.stanza)
		}
		places, err := parseMeta(e.meta)
		if err != nil || places[0].Res != in[i].msg.places[0].res || places[0].Tag != int64(i) {
			t.Errorf("message %d: places %+v, %v", i, places, err)
		}
	}
}

// TestArchiveStanzaBuffer checks that a message written from a
// StanzaBuffer is kept whole after the buffer went back to the pool and
// was written over.
func TestArchiveStanzaBuffer(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	var qs []*Queued
	for i := range 100 {
		r := archiveRow("alice", "bob@home.test", "", int64(i+1))
		r.Buffer = StanzaBuffer()
		r.Buffer.Write(r.Stanza)
		r.Stanza = r.Buffer.Bytes()
		qs = append(qs, db.QueueArchive([]ArchiveRow{r}, nil))
	}
	for _, q := range qs {
		if err := q.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		b := StanzaBuffer()
		b.WriteString("<overwritten-overwritten-overwritten-overwritten/>")
		putStanzaBuffer(b)
	}
	page, err := db.ArchivePage(ctx, ArchiveQuery{User: "alice", Max: 200})
	if err != nil || len(page) != 100 {
		t.Fatalf("%d messages, %v", len(page), err)
	}
	for i, r := range page {
		if want := fmt.Sprintf("<message id='m%d'><body>%d</body></message>", i+1, i+1); string(r.Stanza) != want {
			t.Errorf("message %d: %s, want %s", i, r.Stanza, want)
		}
	}
}
