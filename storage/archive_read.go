package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Reading the archive: the index's runs give a list's ids in order, from
// either end of a range; the log gives the messages. Each read is one
// read transaction, so the two agree.

// ArchiveQuery selects a page of one account's archive. The bounds are
// exclusive ids; zero means none.
type ArchiveQuery struct {
	User string
	// With: only messages with this bare JID; Res: and this resource.
	With, Res string
	// After and Before bound the ids (exclusive; 0: no bound).
	After, Before int64
	// IDs: only these messages (XEP-0313's ids field).
	IDs []int64
	// Last: the page at the end of the range (RSM <before/>), not at
	// its start.
	Last bool
	// Max is how many rows at most.
	Max int
}

// ArchivePage returns the rows q selects, oldest first: the first q.Max
// of the range, or with q.Last the last q.Max.
func (db *DB) ArchivePage(ctx context.Context, q ArchiveQuery) ([]ArchiveRow, error) {
	var out []ArchiveRow
	err := db.indexedFor(ctx, q)
	if err == nil {
		err = db.view(ctx, func(tx *sql.Tx) error {
			var err error
			out, err = archiveSelect(ctx, tx, q, max(q.Max, 0), true)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("archive of %s: %w", q.User, err)
	}
	if q.Last {
		slices.Reverse(out)
	}
	return out, nil
}

// CountArchive counts the rows q selects (ignoring Last and Max), up to
// limit: counting a large archive reads all of it, so past limit it
// stops and returns limit.
func (db *DB) CountArchive(ctx context.Context, q ArchiveQuery, limit int) (int, error) {
	n := 0
	err := db.indexedFor(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("count the archive of %s: %w", q.User, err)
	}
	err = db.view(ctx, func(tx *sql.Tx) error {
		if q.Res != "" || len(q.IDs) > 0 {
			// The messages themselves say whether they match.
			rows, err := archiveSelect(ctx, tx, q, limit, false)
			n = len(rows)
			return err
		}
		// Every id of the list is a match: the runs tell how many.
		var err error
		n, err = countRuns(ctx, tx, archiveList{q.User, q.With}, q.After, q.Before, limit)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count the archive of %s: %w", q.User, err)
	}
	return min(n, limit), nil
}

// countRuns counts the ids of a list between two exclusive bounds (0:
// none), up to limit (it may stop at fewer runs than limit ids). Only the
// runs across a bound are read id by id; SQLite adds up the lengths of
// the others.
func countRuns(ctx context.Context, tx *sql.Tx, l archiveList, after, before int64, limit int) (int, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	in := func(first int64, size int, packed []byte) (int, error) {
		ids, err := unpackRun(first, size, packed)
		k := 0
		for _, id := range ids {
			if id > after && id < before {
				k++
			}
		}
		return k, err
	}
	n := 0
	if after > 0 {
		// The run that holds after may hold ids past it.
		var first int64
		var size int
		var packed []byte
		err := tx.QueryRowContext(ctx, `SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first <= ? ORDER BY first DESC LIMIT 1`,
			l.user, l.peer, after).Scan(&first, &size, &packed)
		switch {
		case err == nil:
			if n, err = in(first, size, packed); err != nil {
				return 0, err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return 0, err
		}
	}
	// The runs wholly inside, by their lengths: SQLite adds them up.
	var inside int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM (SELECT n FROM archive_index
		WHERE username = ? AND peer = ? AND first > ? AND first < ? AND last < ? ORDER BY first LIMIT ?)`,
		l.user, l.peer, after, before, before, limit).Scan(&inside); err != nil {
		return 0, err
	}
	n += inside
	if before < math.MaxInt64 {
		// The run across before, if one starts after after: the last
		// run to start below before.
		var first, last int64
		var size int
		var packed []byte
		err := tx.QueryRowContext(ctx, `SELECT first, last, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first < ? ORDER BY first DESC LIMIT 1`,
			l.user, l.peer, before).Scan(&first, &last, &size, &packed)
		switch {
		case err == nil && first > after && last >= before:
			k, err := in(first, size, packed)
			if err != nil {
				return 0, err
			}
			n += k
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return 0, err
		}
	}
	return min(n, limit), nil
}

// indexedFor waits for the index where q reads it: a query by ids reads
// the log alone.
func (db *DB) indexedFor(ctx context.Context, q ArchiveQuery) error {
	if len(q.IDs) > 0 {
		return nil
	}
	return db.indexed(ctx)
}

// archiveSelect returns up to limit of the rows q selects, in the order of
// the list (newest first with q.Last); with stanzas false, without them.
func archiveSelect(ctx context.Context, tx *sql.Tx, q ArchiveQuery, limit int, stanzas bool) ([]ArchiveRow, error) {
	var out []ArchiveRow
	keep := func(ids []int64) error {
		got, err := archiveFetch(ctx, tx, ids, stanzas)
		if err != nil {
			return err
		}
		for _, id := range ids {
			l, ok := got[id]
			if !ok {
				continue
			}
			r, ok := l.in(q.User)
			if !ok || (q.With != "" && r.With != q.With) || (q.Res != "" && r.Res != q.Res) ||
				(q.After > 0 && id <= q.After) || (q.Before > 0 && id >= q.Before) {
				continue
			}
			if out = append(out, r); len(out) == limit {
				break
			}
		}
		return nil
	}
	if limit <= 0 {
		return nil, nil
	}
	if len(q.IDs) > 0 {
		ids := slices.Clone(q.IDs)
		slices.Sort(ids)
		if q.Last {
			slices.Reverse(ids)
		}
		err := keep(slices.Compact(ids))
		return out, err
	}
	it := runs{tx: tx, ctx: ctx, list: archiveList{q.User, q.With}, after: q.After, before: q.Before, desc: q.Last}
	for len(out) < limit {
		want := limit - len(out)
		if q.Res != "" {
			want = min(max(want, 64), 1024) // most may be of another resource
		}
		ids, err := it.next(want)
		if err != nil || len(ids) == 0 {
			return out, err
		}
		if err := keep(ids); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// logRow is a message of the log, in one or two archives.
type logRow struct {
	id     int64
	places []ArchiveRow
	stanza []byte
}

// in is the row as the user's archive has it; ok is false if it is not
// in the user's archive.
func (l *logRow) in(user string) (ArchiveRow, bool) {
	for _, p := range l.places {
		if p.User == user {
			p.ID, p.Stanza = l.id, l.stanza
			return p, true
		}
	}
	return ArchiveRow{}, false
}

// archiveFetch reads the log's rows of ids, with their stanzas or not.
func archiveFetch(ctx context.Context, tx *sql.Tx, ids []int64, stanzas bool) (map[int64]*logRow, error) {
	got, err := logEntries(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]*logRow, len(got))
	for id, e := range got {
		l := &logRow{id: id}
		if stanzas {
			l.stanza = e.stanza
		}
		if l.places, err = parseMeta(e.meta); err != nil {
			return nil, fmt.Errorf("message %d: %w", id, err)
		}
		out[id] = l
	}
	return out, nil
}

// runs reads a list of the index in order, ascending or (desc)
// descending, between two exclusive bounds (0: none).
type runs struct {
	tx            *sql.Tx
	ctx           context.Context
	list          archiveList
	after, before int64
	desc          bool

	started bool
	limit   int     // runs the next read takes
	runs    int     // runs read so far
	ids     int     // and the ids they held
	pos     int64   // the first id of the last run read
	ready   []int64 // ids read and not yet returned
	done    bool    // no more runs
}

// A read of the index takes runsFirstRead runs, and then as many as the
// ids still wanted need at the length of the runs read so far, up to
// runsPerRead: a run holds one id when messages come one at a time and
// thousands under load, and a page wants fifty.
const (
	runsFirstRead = 2
	runsPerRead   = 64
)

// next returns up to n more ids of the list; none when there are no more.
func (r *runs) next(n int) ([]int64, error) {
	for len(r.ready) < n && !r.done {
		if err := r.read(n - len(r.ready)); err != nil {
			return nil, err
		}
	}
	k := min(n, len(r.ready))
	out := r.ready[:k:k]
	r.ready = r.ready[k:]
	return out, nil
}

// read reads the next runs into ready, or sets done.
func (r *runs) read(want int) error {
	before := r.before
	if before <= 0 {
		before = math.MaxInt64
	}
	// As many runs as want ids take at the length of the runs read so
	// far; at first runsFirstRead.
	r.limit = runsFirstRead
	if r.runs > 0 {
		r.limit = min(max(want*r.runs/r.ids+1, runsFirstRead), runsPerRead)
	}
	var query string
	var args []any
	probe := false // reading the one run that holds after
	switch {
	case !r.started && !r.desc && r.after > 0:
		// The run that holds after may hold ids past it.
		r.started, r.pos, probe = true, r.after, true
		query = `SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first <= ? ORDER BY first DESC LIMIT 1`
		args = []any{r.list.user, r.list.peer, r.after}
	case !r.desc:
		if !r.started {
			r.started, r.pos = true, math.MinInt64
		}
		query = `SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first > ? AND first < ? ORDER BY first LIMIT ?`
		args = []any{r.list.user, r.list.peer, r.pos, before, r.limit}
	default:
		if !r.started {
			r.started, r.pos = true, before
		}
		query = `SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = ? AND first < ? ORDER BY first DESC LIMIT ?`
		args = []any{r.list.user, r.list.peer, r.pos, r.limit}
	}
	rows, err := r.tx.QueryContext(r.ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		got++
		var first int64
		var n int
		var packed []byte
		if err := rows.Scan(&first, &n, &packed); err != nil {
			return err
		}
		ids, err := unpackRun(first, n, packed)
		if err != nil {
			return err
		}
		r.runs, r.ids = r.runs+1, r.ids+n
		if r.desc {
			r.pos = first
			for i := len(ids) - 1; i >= 0; i-- {
				if ids[i] < before && ids[i] > r.after {
					r.ready = append(r.ready, ids[i])
				}
			}
			if first <= r.after {
				r.done = true // the runs before are all at or below after
				return rows.Err()
			}
			continue
		}
		if first > r.pos {
			r.pos = first
		}
		for _, id := range ids {
			if id > r.after && id < before {
				r.ready = append(r.ready, id)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !probe && got < r.limit {
		r.done = true
	}
	return nil
}

// ArchiveTag returns the tag of the user's message id, or ErrNotFound.
func (db *DB) ArchiveTag(ctx context.Context, user string, id int64) (int64, error) {
	got, err := logEntries(ctx, db.r, []int64{id})
	if err == nil {
		err = sql.ErrNoRows
		if e, ok := got[id]; ok {
			l := logRow{id: id}
			if l.places, err = parseMeta(e.meta); err == nil {
				r, ok := l.in(user)
				if ok {
					return r.Tag, nil
				}
				err = sql.ErrNoRows
			}
		}
	}
	return 0, fmt.Errorf("message %d in the archive of %s: %w", id, user, notFound(err))
}

// ArchiveEnds returns the first and the last message of the user's
// archive (ID and Tag only); ok is false for an empty archive.
func (db *DB) ArchiveEnds(ctx context.Context, user string) (first, last ArchiveRow, ok bool, err error) {
	if err = db.indexed(ctx); err != nil {
		return first, last, false, fmt.Errorf("ends of the archive of %s: %w", user, err)
	}
	err = db.view(ctx, func(tx *sql.Tx) error {
		for _, e := range []struct {
			r    *ArchiveRow
			desc bool
		}{{&first, false}, {&last, true}} {
			it := runs{tx: tx, ctx: ctx, list: archiveList{user, ""}, desc: e.desc}
			ids, err := it.next(1)
			if err != nil || len(ids) == 0 {
				return err
			}
			rows, err := archiveFetch(ctx, tx, ids, false)
			if err != nil {
				return err
			}
			l, found := rows[ids[0]]
			if !found {
				return fmt.Errorf("message %d is in the index and not in the log", ids[0])
			}
			*e.r, _ = l.in(user)
			e.r.User, e.r.ID = user, ids[0]
		}
		ok = true
		return nil
	})
	if err != nil {
		return first, last, false, fmt.Errorf("ends of the archive of %s: %w", user, err)
	}
	return first, last, ok, nil
}
