package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The message archive (XEP-0313): one per account, kept as a log of
// messages (table archive_log) and an index of it (archive_index).
//
// A message is written once, whether it is in one archive or two (a
// message between two accounts here is in both), with its place in each:
// the account, the other party, the resource and the tag. The index lists
// each archive's ids, and each archive's ids with one contact, in runs: the
// ids a list gained in one group commit are one row. So under load, when a
// commit carries hundreds of messages, a list costs one row per commit,
// not one index entry per message; a message alone costs four small rows,
// as an index would. Both go through the group commit (QueueArchive), so a
// message is in its archives before its sender is answered.
//
// The ids are made here, in the order the writes queue: each run of a list
// comes after the one before, and the runs in order are the list in order.

// ArchiveRow is one message in an account's archive.
type ArchiveRow struct {
	User string // the archive's account
	// ID orders the archives; QueueArchive makes it, one for the message
	// in every archive it is in.
	ID   int64
	Tag  int64  // the random half of the message's public id in this archive
	With string // the other party's bare JID
	Res  string // and its resource, if the message named one
	// Stanza is the message as XML.
	Stanza []byte
	// Buffer, if not nil, is the StanzaBuffer that holds Stanza:
	// QueueArchive takes it, and puts it back once the write is done.
	Buffer *bytes.Buffer
}

// StanzaBuffer returns an empty buffer to write a message's XML in for
// QueueArchive (ArchiveRow.Buffer), which puts it back once the message
// is written: a buffer per archived message was a good part of the
// archive's garbage. The spare buffers wait in a channel, not a
// sync.Pool: a pool is emptied by every garbage collection, dozens a
// second under load.
func StanzaBuffer() *bytes.Buffer {
	select {
	case b := <-stanzaBuffers:
		return b
	default:
		return new(bytes.Buffer)
	}
}

// stanzaBuffers holds spare StanzaBuffers: 1,024 of them, each at most
// maxPooledStanza, so at most 8 MiB stays held after a burst.
var stanzaBuffers = make(chan *bytes.Buffer, 1024)

// maxPooledStanza: a buffer grown past this (a large message) goes to the
// collector.
const maxPooledStanza = 8 << 10

// putStanzaBuffer puts a StanzaBuffer back.
func putStanzaBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledStanza {
		return
	}
	b.Reset()
	select {
	case stanzaBuffers <- b:
	default:
	}
}

// Archive ids are the time a message was archived, in milliseconds since
// 2000-01-01 UTC, shifted left 20 bits, plus a sequence within the
// millisecond: ids grow with time, a time range is an id range, and the id
// tells the message's time.
const (
	archiveEpochMS = 946684800000 // 2000-01-01T00:00:00Z
	archiveSeqBits = 20
)

// ArchiveID is the first archive id of the millisecond t falls in.
func ArchiveID(t time.Time) int64 {
	ms := t.UnixMilli() - archiveEpochMS
	if ms < 0 {
		return 0
	}
	return ms << archiveSeqBits
}

// ArchiveTime is the time an archive id was made, to the millisecond.
func ArchiveTime(id int64) time.Time {
	return time.UnixMilli(id>>archiveSeqBits + archiveEpochMS).UTC()
}

// archiveMsg is an archive write: one message and its places in the
// archives; the committer encodes them as the log row's meta.
type archiveMsg struct {
	places [2]place // in the first archive it is in, and the second
	n      int      // archives it is in
	stanza []byte
	buf    *bytes.Buffer // stanza's StanzaBuffer, if it is in one
}

// place is a message's place in one archive.
type place struct {
	user, with, res string
	tag             int64
}

// list is the place's list of the index with one contact.
func (p *place) list() archiveList { return archiveList{p.user, p.with} }

// appendMeta appends the message's meta to b.
func (m *archiveMsg) appendMeta(b []byte) []byte {
	for i := range m.places[:m.n] {
		p := &m.places[i]
		b = appendPlace(b, i > 0, p.user, p.with, p.res, p.tag)
	}
	return b
}

// archiveWrite is an archive write and its message, in one allocation.
type archiveWrite struct {
	Queued
	msg archiveMsg
}

// QueueArchive queues a message for the archives of its recipient and its
// sender (rows[0] and rows[1], when both are here; Stanza is rows[0]'s)
// for the next group commit, and sets the rows' ID to the message's new
// id. The rows commit together or fail together; ErrNotFound: an account
// is gone. after is as for QueueOffline.
func (db *DB) QueueArchive(rows []ArchiveRow, after func(int64, error)) *Queued {
	const what = "archive a message"
	if len(rows) > 2 {
		panic("storage: QueueArchive takes the rows of one message: its recipient's and its sender's")
	}
	if len(rows) == 0 {
		return db.commit.enqueue(what, func(*batch) (int64, error) { return 0, nil }, after)
	}
	if len(rows) == 2 && rows[0].User == rows[1].User {
		panic("storage: QueueArchive takes one row per archive: a message to oneself is in its archive once")
	}
	w := &archiveWrite{Queued: Queued{what: what, after: after}}
	w.msg.stanza, w.msg.buf = blob(rows[0].Stanza), rows[0].Buffer
	for i, r := range rows {
		w.msg.places[i] = place{r.User, r.With, r.Res, r.Tag}
	}
	w.msg.n = len(rows)
	w.arch = &w.msg
	p := db.commit.push(&w.Queued)
	for i := range rows {
		rows[i].ID = p.archiveID
	}
	return p
}

// A log row's meta is its places in the archives, the fields of each
// (account, peer, resource, tag in decimal) joined by metaSep, which no
// JID and no resource holds (PRECIS disallows control characters). The
// migration from version 6 writes the same in SQL.
const metaSep = 0x01

// appendMeta appends the meta of rows to b.
func appendMeta(b []byte, rows []ArchiveRow) []byte {
	for i, r := range rows {
		b = appendPlace(b, i > 0, r.User, r.With, r.Res, r.Tag)
	}
	return b
}

// appendPlace appends one place of a meta to b, after another (more).
func appendPlace(b []byte, more bool, user, with, res string, tag int64) []byte {
	if more {
		b = append(b, metaSep)
	}
	b = append(b, user...)
	b = append(b, metaSep)
	b = append(b, with...)
	b = append(b, metaSep)
	b = append(b, res...)
	b = append(b, metaSep)
	return strconv.AppendInt(b, tag, 10)
}

// parseMeta reads a log row's meta: its places, as rows without ID and
// Stanza.
func parseMeta(meta []byte) ([]ArchiveRow, error) {
	f := bytes.Split(meta, []byte{metaSep})
	if len(f) != 4 && len(f) != 8 {
		return nil, fmt.Errorf("archived message's places are damaged (%d fields)", len(f))
	}
	out := make([]ArchiveRow, len(f)/4)
	for i := range out {
		tag, err := strconv.ParseInt(string(f[4*i+3]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("archived message's tag is damaged: %w", err)
		}
		out[i] = ArchiveRow{User: string(f[4*i]), With: string(f[4*i+1]), Res: string(f[4*i+2]), Tag: tag}
	}
	return out, nil
}

// archiveRun is how many writes at the start of q are archive writes.
func archiveRun(q []*Queued) int {
	n := 0
	for n < len(q) && q[n].arch != nil {
		n++
	}
	return n
}

// archive writes a run of archive writes: their messages into the log, in
// blocks (archive_block.go); the runs they add to the index's lists wait in
// b.runs (archive_defer.go).
// A write for an account deleted since it was queued fails alone, with
// ErrNotFound in errs (a room's archive has no account to check).
func (b *batch) archive(q []*Queued, errs []error) error {
	// Each place (account, contact) is looked up once per run of writes:
	// whether the account is there, and the two lists it adds to.
	type lists struct {
		whole, peer int // indexes in b.runs
		gone        bool
	}
	seen := make(map[archiveList]lists)
	// A sender's messages come in runs: each place remembers the last
	// lookup of its kind (the recipient's, the sender's).
	var lastKey [2]archiveList
	var last [2]lists
	lookup := func(j int, pl *place) (lists, error) {
		if k := pl.list(); k == lastKey[j] && k.user != "" {
			return last[j], nil
		}
		l, ok := seen[pl.list()]
		if ok {
			lastKey[j], last[j] = pl.list(), l
			return l, nil
		}
		gone, err := b.gone(pl.user)
		if err != nil {
			return l, err
		}
		l = lists{gone: gone}
		if !gone {
			l.whole, l.peer = b.runs.at(archiveList{pl.user, ""}), b.runs.at(pl.list())
		}
		seen[pl.list()] = l
		lastKey[j], last[j] = pl.list(), l
		return l, nil
	}
	entries := (*b.entries)[:0]
	defer func() { clear(entries); *b.entries = entries[:0] }()
	var at [2]lists
write:
	for i, p := range q {
		m := p.arch
		for j := range m.places[:m.n] {
			l, err := lookup(j, &m.places[j])
			if err != nil {
				return err
			}
			if l.gone {
				errs[i] = ErrNotFound
				continue write
			}
			at[j] = l
		}
		entries = append(entries, logEntry{id: p.archiveID, msg: m, stanza: m.stanza})
		for _, l := range at[:m.n] {
			b.runs.addAt(l.whole, p.archiveID)
			b.runs.addAt(l.peer, p.archiveID)
		}
	}
	// The runs wait for the index (archive_defer.go).
	return b.logInsert(entries)
}

// gone reports whether the account an archive belongs to is gone (a
// room's archive has no account to check).
func (b *batch) gone(user string) (bool, error) {
	if roomArchive(user) {
		return false, nil
	}
	s, err := b.stmt(`SELECT 1 FROM users WHERE name = ?`)
	if err != nil {
		return false, err
	}
	var one int
	err = s.QueryRowContext(b.ctx, user).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	return false, err
}

// runLists gathers the runs a commit adds to the lists.
type runLists struct {
	index map[archiveList]int // index in runs
	runs  []listRun
	n     int // ids in all
}

// reset empties r and keeps its arrays for the next runs.
func (r *runLists) reset() {
	clear(r.index)
	for i := range r.runs {
		r.runs[i].list = archiveList{}
	}
	r.runs = r.runs[:0]
	r.n = 0
}

// listRun is a run of a list.
type listRun struct {
	list archiveList
	ids  []int64
}

func (r *runLists) add(l archiveList, ids ...int64) {
	i := r.at(l)
	r.runs[i].ids = append(r.runs[i].ids, ids...)
	r.n += len(ids)
}

// addAt adds an id to the run at index i (from at).
func (r *runLists) addAt(i int, id int64) {
	r.runs[i].ids = append(r.runs[i].ids, id)
	r.n++
}

// at returns the index of l's run, made if it has none.
func (r *runLists) at(l archiveList) int {
	i, ok := r.index[l]
	if ok {
		return i
	}
	if r.index == nil {
		r.index = make(map[archiveList]int)
	}
	i = len(r.runs)
	r.index[l] = i
	if i < cap(r.runs) {
		// A run reset left: its array is reused.
		r.runs = r.runs[:i+1]
		r.runs[i].list, r.runs[i].ids = l, r.runs[i].ids[:0]
	} else {
		r.runs = append(r.runs, listRun{list: l})
	}
	return i
}

// archiveList names one list of the index: an archive (peer "") or an
// archive's messages with one contact.
type archiveList struct{ user, peer string }

// indexRuns adds the runs to their lists (each run's ids ascending).
func (b *batch) indexRuns(runs []listRun) error {
	const perStmt = 64
	args := make([]any, 0, 6*min(len(runs), perStmt))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := b.exec(indexInsert(len(args)/6), args...)
		args = args[:0]
		return err
	}
	for _, r := range runs {
		// A long run is written as several rows (maxRunIDs ids each):
		// a page decodes the whole row its first id is in.
		for ids := r.ids; len(ids) > 0; {
			k := min(len(ids), maxRunIDs)
			part := ids[:k]
			ids = ids[k:]
			args = append(args, r.list.user, r.list.peer, part[0], part[k-1], k, packRun(part))
			if len(args)/6 == perStmt {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// maxRunIDs bounds the ids of one row of the index. The runs that wait
// for the index (archive_defer.go) hold up to indexMax ids, and a read
// decodes a row whole: 4,096 ids are about 30 KiB decoded.
const maxRunIDs = 4096

// packRun encodes the ids of a run after the first as unsigned varint
// differences; nil (NULL) for a run of one.
func packRun(ids []int64) any {
	if len(ids) == 1 {
		return nil
	}
	out := make([]byte, 0, 3*len(ids))
	for i := 1; i < len(ids); i++ {
		out = binary.AppendUvarint(out, uint64(ids[i]-ids[i-1]))
	}
	return out
}

// unpackRun decodes a run: its first id, its length and its packed ids.
func unpackRun(first int64, n int, packed []byte) ([]int64, error) {
	if n < 1 || n > len(packed)+1 { // each id after the first takes a byte or more
		return nil, fmt.Errorf("archive index run at %d is damaged (%d ids in %d bytes)", first, n, len(packed))
	}
	out := make([]int64, 1, n)
	out[0] = first
	for len(packed) > 0 {
		d, k := binary.Uvarint(packed)
		prev := out[len(out)-1]
		if k <= 0 || d == 0 || d > math.MaxInt64 || prev+int64(d) < prev || len(out) == n {
			return nil, fmt.Errorf("archive index run at %d is damaged", first)
		}
		packed = packed[k:]
		out = append(out, prev+int64(d))
	}
	if len(out) != n {
		return nil, fmt.Errorf("archive index run at %d holds %d ids, not %d", first, len(out), n)
	}
	return out, nil
}

// statements is a list of insert statements of 1 to n rows of cols values.
func statements(head string, cols, n int) []string {
	out := make([]string, n)
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	var b strings.Builder
	b.WriteString(head)
	for i := range out {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
		out[i] = b.String()
	}
	return out
}

var indexInserts = statements(`INSERT INTO archive_index (username, peer, first, last, n, ids) VALUES `, 6, 64)

func indexInsert(rows int) string { return indexInserts[rows-1] }

// Flush waits until every write queued before it (QueueArchive,
// QueueOffline, ...) is durable or failed. A reader calls it to see what
// it was told of: a recipient gets a message as its archive row is
// queued, and may ask the archive for it at once.
func (db *DB) Flush(ctx context.Context) error {
	switch err := db.writeIndex(ctx, "wait for queued writes"); {
	case err == nil, errors.Is(err, ErrClosed), err == ctx.Err():
		return err
	default:
		return nil // the writes before it are done, failed or not
	}
}

// ArchivePrefs are an account's archiving preferences (XEP-0313 6).
type ArchivePrefs struct {
	Default       string // always, roster or never
	Always, Never []string
}

// ArchivePrefs returns the user's preferences, or ErrNotFound if they
// never set any.
func (db *DB) ArchivePrefs(ctx context.Context, user string) (ArchivePrefs, error) {
	var p ArchivePrefs
	var always, never string
	err := db.r.QueryRowContext(ctx, `SELECT dflt, always, never FROM archive_prefs WHERE username = ?`, user).Scan(&p.Default, &always, &never)
	if err != nil {
		return p, fmt.Errorf("archive preferences of %s: %w", user, notFound(err))
	}
	p.Always, p.Never = strings.Fields(always), strings.Fields(never)
	return p, nil
}

// SetArchivePrefs stores the user's preferences; ErrNotFound: no such
// user.
func (db *DB) SetArchivePrefs(ctx context.Context, user string, p ArchivePrefs) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO archive_prefs (username, dflt, always, never) VALUES (?, ?, ?, ?)
		ON CONFLICT (username) DO UPDATE SET dflt = excluded.dflt, always = excluded.always, never = excluded.never`,
		user, p.Default, strings.Join(p.Always, " "), strings.Join(p.Never, " "))
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set archive preferences of %s: %w", user, err)
	}
	return nil
}
