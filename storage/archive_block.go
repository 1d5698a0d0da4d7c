package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/klauspost/compress/s2"
)

// Blocks of the archive's log (schema 14). Under load a group commit
// carries thousands of archived messages; a row per message made SQLite's
// inserts, and the pages they fill, the biggest part of what the archive
// cost. So the messages of one commit that queued next to each other go
// into one row, a block, of up to maxBlock messages, compressed: a message
// whose envelope repeats its neighbours' takes a fifth of its size or less.
// A message that commits alone stays a row of its own, as before, in
// plain XML: that is every message of a quiet home server.
//
// A block's stanza column is a format byte (blockS2), the CRC-32C of the
// decoded payload (4 bytes, big-endian) and the payload compressed with S2
// (github.com/klauspost/compress/s2, block format). The payload is each
// message in id order: the difference from the id before (from the row's
// id for the first), the length of its meta, its meta, the length of its
// stanza and its stanza, each number an unsigned varint. n says how many
// messages it holds; a message deleted from a block leaves it, and a block
// left empty goes.

// maxBlock bounds the messages of one block: a read of one message decodes
// its whole block.
const maxBlock = 64

// blockS2 is the first byte of a block's stanza column.
const blockS2 = 1

// maxBlockPayload bounds a decoded block, against a damaged length: 64
// messages of the largest stanza a stream takes, with room to spare.
const maxBlockPayload = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logEntry is one message of the log: its meta, or for a message being
// written its places (msg), which encode as its meta.
type logEntry struct {
	id           int64
	meta, stanza []byte
	msg          *archiveMsg
}

// appendMeta appends the entry's meta to b.
func (e *logEntry) appendMeta(b []byte) []byte {
	if e.msg != nil {
		return e.msg.appendMeta(b)
	}
	return append(b, e.meta...)
}

// logRec is one row of the log: a message alone (block false) or a block.
type logRec struct {
	id, last int64 // the row's first and last ids (last = id for one)
	block    bool
	entries  []logEntry
}

// blockBuf holds the buffers blocks are encoded in, reused from commit to
// commit: the committer's, so one writer uses them at a time.
type blockBuf struct {
	payload []byte // a block's payload, before it is compressed
	out     []byte // the blocks of one transaction, compressed
}

// reset lets the blocks of the last transaction go: SQLite copied them.
func (bb *blockBuf) reset() {
	if cap(bb.out) > 4<<20 {
		bb.out = nil // a burst's worth: not kept for ever
	}
	bb.out = bb.out[:0]
}

// encode encodes the block of entries (ids ascending, none below first);
// the slice it returns is valid until reset.
func (bb *blockBuf) encode(first int64, entries []logEntry) []byte {
	p := bb.payload[:0]
	prev := first
	for i := range entries {
		e := &entries[i]
		p = binary.AppendUvarint(p, uint64(e.id-prev))
		// The meta's length goes before it: a byte for lengths below
		// 128, which metas are; a longer one moves over by the rest.
		at := len(p)
		p = append(p, 0)
		p = e.appendMeta(p)
		if n := len(p) - at - 1; n < 0x80 {
			p[at] = byte(n)
		} else {
			var l [binary.MaxVarintLen64]byte
			k := binary.PutUvarint(l[:], uint64(n))
			p = append(p, l[:k-1]...)
			copy(p[at+k:], p[at+1:len(p)-k+1])
			copy(p[at:], l[:k])
		}
		p = binary.AppendUvarint(p, uint64(len(e.stanza)))
		p = append(p, e.stanza...)
		prev = e.id
	}
	bb.payload = p
	at := len(bb.out)
	bb.out = slices.Grow(bb.out, 5+s2.MaxEncodedLen(len(p)))
	bb.out = append(bb.out, blockS2)
	bb.out = binary.BigEndian.AppendUint32(bb.out, crc32.Checksum(p, castagnoli))
	enc := s2.Encode(bb.out[len(bb.out):cap(bb.out)], p)
	bb.out = bb.out[:len(bb.out)+len(enc)]
	return bb.out[at:len(bb.out):len(bb.out)]
}

// decodeBlock reads a block of n messages whose row id is first. The
// entries' meta and stanza share one buffer, made for this call.
func decodeBlock(first int64, n int, data []byte) ([]logEntry, error) {
	damaged := func(why string) error {
		return fmt.Errorf("archived messages from %d are damaged (%s)", first, why)
	}
	if len(data) < 5 || data[0] != blockS2 {
		return nil, damaged("unknown format")
	}
	if n < 1 || n > maxBlock {
		return nil, damaged(fmt.Sprintf("a block of %d messages", n))
	}
	size, err := s2.DecodedLen(data[5:])
	if err != nil || size > maxBlockPayload {
		return nil, damaged("bad length")
	}
	p, err := s2.Decode(make([]byte, size), data[5:])
	if err != nil {
		return nil, damaged("does not decompress")
	}
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(data[1:5]) {
		return nil, damaged("checksum")
	}
	out := make([]logEntry, 0, n)
	id := first
	field := func() ([]byte, bool) {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, false
		}
		f := p[k : k+int(l) : k+int(l)]
		p = p[k+int(l):]
		return f, true
	}
	for len(p) > 0 {
		d, k := binary.Uvarint(p)
		if k <= 0 || (len(out) > 0 && d == 0) || d > uint64(1<<62) || id+int64(d) < id || len(out) == n {
			return nil, damaged("bad id")
		}
		p = p[k:]
		id += int64(d)
		meta, ok := field()
		if !ok {
			return nil, damaged("bad length")
		}
		st, ok := field()
		if !ok {
			return nil, damaged("bad length")
		}
		out = append(out, logEntry{id: id, meta: meta, stanza: st})
	}
	if len(out) != n {
		return nil, damaged(fmt.Sprintf("%d messages, not %d", len(out), n))
	}
	return out, nil
}

// scanRec reads a log row (id, last, n, meta, stanza) into a logRec.
func scanRec(scan func(...any) error) (*logRec, error) {
	var id int64
	var last, n sql.NullInt64
	var meta, data []byte
	if err := scan(&id, &last, &n, &meta, &data); err != nil {
		return nil, err
	}
	if !last.Valid {
		return &logRec{id: id, last: id, entries: []logEntry{{id: id, meta: meta, stanza: data}}}, nil
	}
	entries, err := decodeBlock(id, int(n.Int64), data)
	if err != nil {
		return nil, err
	}
	return &logRec{id: id, last: last.Int64, block: true, entries: entries}, nil
}

// The log's reads (TestArchivePlans checks that none scans the log).
const (
	// sqlLogByID: the rows whose first id is one of a JSON array's.
	sqlLogByID = `SELECT id, last, n, meta, stanza FROM archive_log WHERE id IN (SELECT value FROM json_each(?))`
	// sqlLogRecs: the rows that hold the ids of a JSON array, each once.
	sqlLogRecs = `SELECT id, last, n, meta, stanza FROM archive_log WHERE id IN
		(SELECT (SELECT max(id) FROM archive_log WHERE id <= j.value) FROM json_each(?) AS j)`
	// sqlLogAcross: the last row to start below an id.
	sqlLogAcross = `SELECT id, last, n, meta, stanza FROM archive_log WHERE id < ? ORDER BY id DESC LIMIT 1`
	// sqlLogOldest: the oldest rows that start below an id.
	sqlLogOldest = `SELECT id, last, n, meta, stanza FROM archive_log WHERE id < ? ORDER BY id LIMIT ?`
	// sqlLogTail: the rows from the one that holds an id on (one range:
	// Open runs it on every start, over archives of millions).
	sqlLogTail = `SELECT id, last, n, meta, stanza FROM archive_log
		WHERE id >= coalesce((SELECT max(id) FROM archive_log WHERE id <= ?1), ?1) ORDER BY id`
	// sqlLogLast: the highest id of the last row.
	sqlLogLast = `SELECT coalesce(last, id) FROM archive_log WHERE id = (SELECT max(id) FROM archive_log)`
)

// querier is a transaction or a database.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// logRecs reads the rows of the log that hold ids, each once: the row that
// holds an id is the one with the largest id not above it.
func logRecs(ctx context.Context, q querier, ids []int64) ([]*logRec, error) {
	// Most ids start a row: every message of a quiet server is a row
	// of its own. Those are read by id; the rest by the row before them.
	out, err := queryRecs(ctx, q, sqlLogByID, ids)
	if err != nil || len(out) == 0 && len(ids) == 0 {
		return out, err
	}
	slices.SortFunc(out, func(a, b *logRec) int { return cmp.Compare(a.id, b.id) })
	holds := func(id int64) bool { // a row read holds id
		i, found := slices.BinarySearchFunc(out, id, func(r *logRec, id int64) int { return cmp.Compare(r.id, id) })
		return found || i > 0 && out[i-1].last >= id
	}
	var rest []int64
	for _, id := range ids {
		if !holds(id) {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	more, err := queryRecs(ctx, q, sqlLogRecs, rest)
	have := make(map[int64]bool, len(out))
	for _, r := range out {
		have[r.id] = true
	}
	for _, r := range more {
		if !have[r.id] {
			have[r.id] = true
			out = append(out, r)
		}
	}
	return out, err
}

// queryRecs reads the log's rows that query selects for the JSON array of
// ids.
func queryRecs(ctx context.Context, q querier, query string, ids []int64) ([]*logRec, error) {
	rows, err := q.QueryContext(ctx, query, jsonInts(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*logRec
	for rows.Next() {
		r, err := scanRec(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// logEntries reads the messages ids of the log, by id; an id the log does
// not hold is left out.
func logEntries(ctx context.Context, q querier, ids []int64) (map[int64]logEntry, error) {
	recs, err := logRecs(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[int64]logEntry, len(ids))
	for _, r := range recs {
		for _, e := range r.entries {
			if want[e.id] {
				out[e.id] = e
			}
		}
	}
	return out, nil
}

// put writes r back after its entries changed: a row with none left goes.
func (b *batch) put(r *logRec) error {
	var err error
	switch {
	case len(r.entries) == 0:
		_, err = b.exec(`DELETE FROM archive_log WHERE id = ?`, r.id)
	case !r.block:
		e := r.entries[0]
		_, err = b.exec(`UPDATE archive_log SET meta = ?, stanza = ? WHERE id = ?`, e.meta, blob(e.stanza), r.id)
	default:
		data := b.blocks.encode(r.id, r.entries)
		_, err = b.exec(`UPDATE archive_log SET n = ?, stanza = ? WHERE id = ?`, len(r.entries), data, r.id)
	}
	return err
}

// logInsert writes the messages of one commit (ids ascending) to the log:
// a message alone as a row of its own, runs of them as blocks of up to
// maxBlock, in statements of up to maxLogRows rows.
func (b *batch) logInsert(entries []logEntry) error {
	args := make([]any, 0, 5*min(len(entries), maxLogRows))
	for len(entries) > 0 {
		k := min(len(entries), maxBlock)
		blk := entries[:k]
		entries = entries[k:]
		if k == 1 {
			e := &blk[0]
			args = append(args, e.id, nil, nil, e.appendMeta(nil), e.stanza)
		} else {
			first, last := blk[0].id, blk[k-1].id
			args = append(args, first, last, k, []byte{}, b.blocks.encode(first, blk))
		}
		if len(args) == 5*maxLogRows || len(entries) == 0 {
			if _, err := b.exec(logInserts[len(args)/5-1], args...); err != nil {
				return err
			}
			args = args[:0]
		}
	}
	return nil
}

// maxLogRows bounds the rows one statement inserts.
const maxLogRows = 16

var logInserts = statements(`INSERT INTO archive_log (id, last, n, meta, stanza) VALUES `, 5, maxLogRows)

// logCutBelow deletes every message of the log below cut: the rows wholly
// below go, and the one row across cut (a block, at most one) keeps its
// messages from cut on.
func (b *batch) logCutBelow(cut int64) error {
	s, err := b.stmt(sqlLogAcross)
	if err != nil {
		return err
	}
	below := cut // delete the rows below this
	r, err := scanRec(s.QueryRowContext(b.ctx, cut).Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case r.last >= cut:
		below = r.id
		r.entries = slices.DeleteFunc(r.entries, func(e logEntry) bool { return e.id < cut })
		if err := b.put(r); err != nil {
			return err
		}
	}
	_, err = b.exec(`DELETE FROM archive_log WHERE id < ?`, below)
	return err
}

// logLast is the highest id the log holds or held in a row still there.
func logLast(ctx context.Context, q querier) (int64, error) {
	rows, err := q.QueryContext(ctx, sqlLogLast)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var last int64
	if rows.Next() {
		if err := rows.Scan(&last); err != nil {
			return 0, err
		}
	}
	return last, rows.Err()
}
