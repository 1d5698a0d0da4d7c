package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The index follows the log. An archived message is durable once its log
// row commits: the index is only a way to find it, and the log's meta
// says which lists it belongs to. So a group commit writes the log and
// keeps the runs it adds to the index in memory (indexQueue), and they go
// to the index together, in one row per list, every indexEvery or
// indexMax ids, and whenever something reads or changes the index. Under
// load each list then costs a row per half second instead of a row per
// commit, and the index's pages, scattered over every list, stop being
// most of what a commit writes.
//
// The counter archive_indexed is the highest id whose runs are in the
// index; it moves in the transaction that writes them. After a crash,
// Open adds the runs of the log's messages past it (reindexTail).

// Pending runs wait at most indexEvery, or until indexMax ids wait. A
// batch that adds indexAtOnce ids or fewer while none wait writes its
// runs at once, as a quiet server's commits do: a second sync per message
// would cost more than its few index rows.
const (
	indexEvery  = 500 * time.Millisecond
	indexMax    = 1 << 16
	indexAtOnce = 128
)

// indexQueue is the runs committed to the log and not yet to the index:
// the committer's alone.
type indexQueue struct {
	runs  runLists  // runs.n: the ids waiting
	since time.Time // when the first of them committed
	// every and atOnce are indexEvery and indexAtOnce; a test holds the
	// runs longer. They are set before the first write.
	every  time.Duration
	atOnce int
}

// due reports whether the waiting runs, and more ids a batch adds,
// should go to the index in that batch: they waited long enough or are
// many, or nothing waits and the batch adds few.
func (q *indexQueue) due(now time.Time, more int) bool {
	waiting := q.runs.n
	return waiting+more >= indexMax || waiting > 0 && now.Sub(q.since) >= q.every || waiting == 0 && more <= q.atOnce
}

// merge adds the runs of a batch that committed.
func (q *indexQueue) merge(r *runLists, now time.Time) {
	if r.n == 0 {
		return
	}
	if q.runs.n == 0 {
		q.since = now
	}
	for _, run := range r.runs {
		if len(run.ids) > 0 {
			q.runs.add(run.list, run.ids...)
		}
	}
}

// flushIndex writes to the index the pending runs (once per batch) and the
// runs of this batch so far, and moves archive_indexed past them. Every op
// that reads or changes the index calls it first.
//
// A failure fails the whole batch (indexFailed), never the op alone: rows
// of the index it wrote would stay while the runs left memory. Inside a
// savepoint only what was flushed before it may be asked for: a rollback
// to it would undo the rows.
func (b *batch) flushIndex() error {
	runs := make([]listRun, 0, len(b.index.runs.runs)+len(b.runs.runs))
	if !b.indexed {
		runs = append(runs, b.index.runs.runs...)
	}
	runs = append(runs, b.runs.runs...)
	var top int64
	for _, r := range runs {
		if len(r.ids) > 0 {
			top = max(top, r.ids[len(r.ids)-1])
		}
	}
	if top == 0 {
		// Nothing to write (or only lists that failed writes looked up).
		b.indexed = true
		b.runs.reset()
		return nil
	}
	if b.savepoint {
		panic("storage: the archive's index is written inside a savepoint")
	}
	err := b.indexRuns(runs)
	if err == nil {
		_, err = b.exec(`UPDATE counters SET value = max(value, ?) WHERE name = 'archive_indexed'`, top)
	}
	if err != nil {
		b.indexFailed = fmt.Errorf("write the archive's index: %w", err)
		return b.indexFailed
	}
	b.indexed = true
	b.runs.reset()
	return nil
}

// indexed waits until the index holds every archived message that was
// committed before it was called: what reads the index calls it first.
func (db *DB) indexed(ctx context.Context) error {
	if db.commit.unindexed.Load() == 0 {
		return nil
	}
	// Unlike Flush, an index that could not be written is an error: a
	// read would miss the messages it lacks and not know.
	return db.writeIndex(ctx, "write the archive's index")
}

// writeIndex waits for the writes queued before it and writes the runs
// waiting for the index, and returns the error of that commit (or ctx's).
func (db *DB) writeIndex(ctx context.Context, what string) error {
	q := db.commit.enqueue(what, flushIndexOp, nil)
	select {
	case <-q.Done():
		return q.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flushIndexOp is a group-commit op that writes the waiting runs.
func flushIndexOp(b *batch) (int64, error) { return 0, b.flushIndex() }

// reindexTail adds to the index the runs of the log's messages past
// archive_indexed (those a crash left out), and moves it to the log's end.
// It runs at Open, before the group commit starts.
func reindexTail(ctx context.Context, w *sql.DB) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var done int64
	err = tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'archive_indexed'`).Scan(&done)
	if errors.Is(err, sql.ErrNoRows) {
		return errors.New("the archive's index counter is missing from the counters table")
	}
	if err != nil {
		return err
	}
	// The row across done, if it goes past it, and every row after.
	rows, err := tx.QueryContext(ctx, sqlLogTail, done)
	if err != nil {
		return err
	}
	var lists runLists
	top := done
	for rows.Next() {
		r, err := scanRec(rows.Scan)
		if err != nil {
			rows.Close()
			return err
		}
		for _, e := range r.entries {
			if e.id <= done {
				continue
			}
			places, err := parseMeta(e.meta)
			if err != nil {
				rows.Close()
				return err
			}
			for _, p := range places {
				lists.add(archiveList{p.User, ""}, e.id)
				lists.add(archiveList{p.User, p.With}, e.id)
			}
			top = max(top, e.id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if top == done {
		return nil
	}
	b := &batch{tx: tx, ctx: ctx, prepared: &prepared{}}
	defer b.close()
	if err := b.indexRuns(lists.runs); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = 'archive_indexed'`, top); err != nil {
		return err
	}
	return tx.Commit()
}
