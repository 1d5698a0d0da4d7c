package storage

// Deleting from the archive: retention (the oldest messages of all
// archives), and an account's or a room's whole archive, in chunks so
// that no commit holds the write lock for long.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// QueueExpireArchive queues the delete of at most n of the oldest messages
// of all archives whose id is below before; the Queued's ID is how many
// it deleted. Retention calls it until fewer than n go, so that no
// transaction holds the write lock for long.
func (db *DB) QueueExpireArchive(before int64, n int) *Queued {
	return db.commit.enqueue("delete old archived messages", func(b *batch) (int64, error) {
		if err := b.flushIndex(); err != nil {
			return 0, err
		}
		cut, gone, err := b.expireCut(before, n)
		if err != nil {
			return 0, err
		}
		if err := b.logCutBelow(cut); err != nil {
			return 0, err
		}
		if err := b.trimRuns(cut, nil); err != nil {
			return 0, err
		}
		return gone, nil
	}, nil)
}

// expireCut finds where a delete of at most n of the oldest messages below
// before stops: cut, the (n+1)th oldest id below before, or before; and
// how many messages lie below it. The rows' lengths count the messages;
// only the row that holds cut is decoded.
func (b *batch) expireCut(before int64, n int) (cut, gone int64, err error) {
	s, err := b.stmt(sqlLogOldest)
	if err != nil {
		return 0, 0, err
	}
	// n+1 rows hold at least n+1 messages: enough to find cut.
	rows, err := s.QueryContext(b.ctx, before, n+1)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var last, size sql.NullInt64
		var meta, data sql.RawBytes
		if err := rows.Scan(&id, &last, &size, &meta, &data); err != nil {
			return 0, 0, err
		}
		k := int64(1)
		if size.Valid {
			k = size.Int64
		}
		if gone+k <= int64(n) && (!last.Valid || last.Int64 < before) {
			gone += k // the whole row goes
			continue
		}
		// The row that holds cut: its messages below go, up to n in all.
		r := &logRec{id: id}
		if last.Valid {
			if r.entries, err = decodeBlock(id, int(k), data); err != nil {
				return 0, 0, err
			}
		} else {
			r.entries = []logEntry{{id: id}}
		}
		for _, e := range r.entries {
			if e.id >= before || gone == int64(n) {
				return min(e.id, before), gone, nil
			}
			gone++
		}
		// A block whose messages from before on were deleted: all of
		// it goes, and no row below before comes after it.
		return before, gone, nil
	}
	return before, gone, rows.Err()
}

// trimRuns takes the ids below cut out of the index, or out of one list
// of it: the runs wholly below go, and a run across cut (at most one per
// list) loses its start.
func (b *batch) trimRuns(cut int64, list *archiveList) error {
	where, args := `first < ?`, []any{cut}
	if list != nil {
		where, args = `username = ? AND peer = ? AND first < ?`, []any{list.user, list.peer, cut}
	}
	if _, err := b.exec(`DELETE FROM archive_index WHERE `+where+` AND last < ?`, append(args, cut)...); err != nil {
		return err
	}
	rows, err := b.tx.QueryContext(b.ctx, `SELECT username, peer, first, n, ids FROM archive_index WHERE `+where, args...)
	if err != nil {
		return err
	}
	type across struct {
		l     archiveList
		first int64
		ids   []int64
	}
	var runs []across
	for rows.Next() {
		var a across
		var n int
		var packed []byte
		if err := rows.Scan(&a.l.user, &a.l.peer, &a.first, &n, &packed); err != nil {
			rows.Close()
			return err
		}
		if a.ids, err = unpackRun(a.first, n, packed); err != nil {
			rows.Close()
			return err
		}
		runs = append(runs, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, a := range runs {
		if _, err := b.exec(`DELETE FROM archive_index WHERE username = ? AND peer = ? AND first = ?`, a.l.user, a.l.peer, a.first); err != nil {
			return err
		}
		i := 0
		for i < len(a.ids) && a.ids[i] < cut {
			i++
		}
		if err := b.indexRuns([]listRun{{a.l, a.ids[i:]}}); err != nil {
			return err
		}
	}
	return nil
}

// purgeArchive takes up to limit of the user's oldest messages (all, if
// limit is 0) out of the user's archive: the user's place leaves their log
// rows' meta, and a row in no archive then goes; so do the ids in the
// user's lists, the whole archive's and each contact's. It returns how
// many it took.
func (b *batch) purgeArchive(user string, limit int) (int64, error) {
	if err := b.flushIndex(); err != nil {
		return 0, err
	}
	q := `SELECT first, n, ids FROM archive_index WHERE username = ? AND peer = '' ORDER BY first`
	args := []any{user}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := b.tx.QueryContext(b.ctx, q, args...)
	if err != nil {
		return 0, err
	}
	var ids, firsts []int64
	for rows.Next() && (limit == 0 || len(ids) < limit) {
		var first int64
		var n int
		var packed []byte
		if err := rows.Scan(&first, &n, &packed); err != nil {
			rows.Close()
			return 0, err
		}
		run, err := unpackRun(first, n, packed)
		if err != nil {
			rows.Close()
			return 0, err
		}
		ids, firsts = append(ids, run...), append(firsts, first)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	// Each message leaves the user's archive: it keeps its other place,
	// or goes; each row of the log is written back once.
	recs, err := logRecs(b.ctx, b.tx, ids)
	if err != nil {
		return 0, err
	}
	gone := make(map[int64]bool, len(ids))
	for _, id := range ids {
		gone[id] = true
	}
	var peers []string // the contacts whose lists held them
	for _, r := range recs {
		changed := false
		kept := r.entries[:0]
		for _, e := range r.entries {
			if !gone[e.id] {
				kept = append(kept, e)
				continue
			}
			places, err := parseMeta(e.meta)
			if err != nil {
				return 0, fmt.Errorf("message %d: %w", e.id, err)
			}
			changed = true
			places = slices.DeleteFunc(places, func(p ArchiveRow) bool {
				if p.User == user && !slices.Contains(peers, p.With) {
					peers = append(peers, p.With)
				}
				return p.User == user
			})
			if len(places) > 0 {
				e.meta = appendMeta(nil, places)
				kept = append(kept, e)
			}
		}
		r.entries = kept
		if changed {
			if err := b.put(r); err != nil {
				return 0, err
			}
		}
	}
	if _, err := b.tx.ExecContext(b.ctx, `DELETE FROM archive_index WHERE username = ? AND peer = '' AND first IN (SELECT value FROM json_each(?))`, user, jsonInts(firsts)); err != nil {
		return 0, err
	}
	// The lists with single contacts lose the same messages: they were
	// the account's oldest, so they are all below cut.
	cut := slices.Max(ids) + 1
	for _, peer := range peers {
		if err := b.trimRuns(cut, &archiveList{user, peer}); err != nil {
			return 0, err
		}
	}
	return int64(len(ids)), nil
}

// deleteArchiveOf deletes the archive of owner (an account or a room),
// about archiveChunk messages per commit, so that the group commit is
// never held for long: an account still takes messages meanwhile, which
// DeleteUser then deletes with the account, in one commit.
func (db *DB) deleteArchiveOf(ctx context.Context, owner string) error {
	for {
		q := db.commit.enqueue("delete the archive of "+owner, func(b *batch) (int64, error) {
			return b.purgeArchive(owner, archiveChunk)
		}, nil)
		if err := q.Wait(); err != nil {
			return err
		}
		if q.ID() < archiveChunk {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// archiveChunk is how many archived messages one commit deletes.
const archiveChunk = 2000
