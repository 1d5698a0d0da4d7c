package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The message archive (XEP-0313): one per account, in table archive. Its
// rows are written through the group commit (QueueArchive), so that a
// message is in its archives before its sender is answered, at the cost
// of one insert per archive in a transaction shared with everyone else's.
// A row is kept small and has two indexes: the account's messages in
// order, and the account's messages with one contact in order. The ids are
// made by the caller (the mam module), ordered by time; storage only
// keeps them.

// ArchiveRow is one message in an account's archive.
type ArchiveRow struct {
	User string // the archive's account
	ID   int64  // orders the archive; made by the caller, unique
	Tag  int64  // the random half of the message's public id
	With string // the other party's bare JID
	Res  string // and its resource, if the message named one
	// Stanza is the message as XML.
	Stanza []byte
}

// QueueArchive queues the insert of rows (a message into the archives of
// its sender and its recipient, when both are here) for the next group
// commit. They commit together or fail together; ErrNotFound: an account
// is gone. after is as for QueueOffline.
func (db *DB) QueueArchive(rows []ArchiveRow, after func(int64, error)) *Queued {
	const what = "archive a message"
	if len(rows) > 2 {
		panic("storage: QueueArchive takes the rows of one message: its sender's and its recipient's")
	}
	if len(rows) == 0 {
		return db.commit.enqueue(what, func(*batch) (int64, error) { return 0, nil }, after)
	}
	// The statement's arguments are made here, not on the committer's
	// goroutine, which every durable write waits for.
	args := make([]any, 0, 6*len(rows))
	for _, r := range rows {
		args = append(args, r.ID, r.User, r.With, r.Res, r.Tag, blob(r.Stanza))
	}
	return db.commit.enqueueArchive(what, args, func(b *batch) (int64, error) {
		// One statement for the message's rows: they go in together or
		// not at all (an account was deleted meanwhile).
		_, err := b.exec(archiveInsert(len(args)/6), args...)
		if noUser(err) {
			return 0, ErrNotFound
		}
		return 0, err
	}, after)
}

// maxArchiveRun bounds the messages one statement inserts.
const maxArchiveRun = 32

// archiveRun is how many writes at the start of q are archive writes,
// up to maxArchiveRun.
func archiveRun(q []*Queued) int {
	n := 0
	for n < len(q) && n < maxArchiveRun && q[n].archive != nil {
		n++
	}
	return n
}

// insertArchive inserts the rows of several archive writes in one
// statement. Each statement in a batch's transaction copies the pages it
// changes aside first (so that it can be undone alone); the rows of
// successive messages land on the same few pages, so one statement for
// many messages copies them once, not once per message.
func (b *batch) insertArchive(q []*Queued) error {
	n := 0
	for _, p := range q {
		n += len(p.archive)
	}
	args := make([]any, 0, n)
	for _, p := range q {
		args = append(args, p.archive...)
	}
	_, err := b.exec(archiveInsert(n/6), args...)
	return err
}

// archiveInserts are the insert statements for 1 to 2*maxArchiveRun rows.
var archiveInserts = func() []string {
	out := make([]string, 2*maxArchiveRun)
	var b strings.Builder
	b.WriteString(`INSERT INTO archive (id, username, peer, res, tag, stanza) VALUES `)
	for i := range out {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?)")
		out[i] = b.String()
	}
	return out
}()

func archiveInsert(rows int) string { return archiveInserts[rows-1] }

// Flush waits until every write queued before it (QueueArchive,
// QueueOffline, ...) is durable or failed. A reader calls it to see what
// it was told of: a recipient gets a message as its archive row is
// queued, and may ask the archive for it at once.
func (db *DB) Flush(ctx context.Context) error {
	q := db.commit.enqueue("wait for queued writes", func(*batch) (int64, error) { return 0, nil }, nil)
	select {
	case <-q.Done():
		if errors.Is(q.Err(), ErrClosed) {
			return q.Err()
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

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

func (q ArchiveQuery) where(b *strings.Builder) []any {
	args := []any{q.User}
	b.WriteString(` FROM archive WHERE username = ?`)
	if q.With != "" {
		b.WriteString(` AND peer = ?`)
		args = append(args, q.With)
		if q.Res != "" {
			b.WriteString(` AND res = ?`)
			args = append(args, q.Res)
		}
	}
	if q.After > 0 {
		b.WriteString(` AND id > ?`)
		args = append(args, q.After)
	}
	if q.Before > 0 {
		b.WriteString(` AND id < ?`)
		args = append(args, q.Before)
	}
	if len(q.IDs) > 0 {
		b.WriteString(` AND id IN (SELECT value FROM json_each(?))`)
		args = append(args, jsonInts(q.IDs))
	}
	return args
}

// ArchivePage returns the rows q selects, oldest first: the first q.Max
// of the range, or with q.Last the last q.Max.
func (db *DB) ArchivePage(ctx context.Context, q ArchiveQuery) ([]ArchiveRow, error) {
	query, args := archivePageSQL(q)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("archive of %s: %w", q.User, err)
	}
	defer rows.Close()
	var out []ArchiveRow
	for rows.Next() {
		r := ArchiveRow{User: q.User}
		if err := rows.Scan(&r.ID, &r.With, &r.Res, &r.Tag, &r.Stanza); err != nil {
			return nil, fmt.Errorf("archive of %s: %w", q.User, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("archive of %s: %w", q.User, err)
	}
	if q.Last {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

func archivePageSQL(q ArchiveQuery) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT id, peer, res, tag, stanza`)
	args := q.where(&b)
	if q.Last {
		b.WriteString(` ORDER BY id DESC LIMIT ?`)
	} else {
		b.WriteString(` ORDER BY id LIMIT ?`)
	}
	return b.String(), append(args, max(q.Max, 0))
}

// CountArchive counts the rows q selects (ignoring Last and Max), up to
// limit: counting a large archive reads all of it, so past limit it
// stops and returns limit.
func (db *DB) CountArchive(ctx context.Context, q ArchiveQuery, limit int) (int, error) {
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM (SELECT 1`)
	args := q.where(&b)
	b.WriteString(` LIMIT ?)`)
	var n int
	if err := db.r.QueryRowContext(ctx, b.String(), append(args, limit)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the archive of %s: %w", q.User, err)
	}
	return n, nil
}

// ArchiveTag returns the tag of the user's message id, or ErrNotFound.
func (db *DB) ArchiveTag(ctx context.Context, user string, id int64) (int64, error) {
	var tag int64
	err := db.r.QueryRowContext(ctx, `SELECT tag FROM archive WHERE id = ? AND username = ?`, id, user).Scan(&tag)
	if err != nil {
		return 0, fmt.Errorf("message %d in the archive of %s: %w", id, user, notFound(err))
	}
	return tag, nil
}

// ArchiveEnds returns the first and the last message of the user's
// archive (ID and Tag only); ok is false for an empty archive.
func (db *DB) ArchiveEnds(ctx context.Context, user string) (first, last ArchiveRow, ok bool, err error) {
	err = db.view(ctx, func(tx *sql.Tx) error {
		for _, e := range []struct {
			r     *ArchiveRow
			order string
		}{{&first, "ASC"}, {&last, "DESC"}} {
			err := tx.QueryRowContext(ctx, `SELECT id, tag FROM archive WHERE username = ? ORDER BY id `+e.order+` LIMIT 1`, user).Scan(&e.r.ID, &e.r.Tag)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			e.r.User = user
		}
		ok = true
		return nil
	})
	if err != nil {
		return first, last, false, fmt.Errorf("ends of the archive of %s: %w", user, err)
	}
	return first, last, ok, nil
}

// ArchiveMaxID returns the highest id in any archive (0: none), for the
// caller's ids to continue above it.
func (db *DB) ArchiveMaxID(ctx context.Context) (int64, error) {
	var id int64
	if err := db.r.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM archive`).Scan(&id); err != nil {
		return 0, fmt.Errorf("archive ids: %w", err)
	}
	return id, nil
}

// QueueExpireArchive queues the delete of at most n of the oldest messages
// of all archives whose id is below before; the Queued's ID is how many
// it deleted. Retention calls it until fewer than n go, so that no
// transaction holds the write lock for long.
func (db *DB) QueueExpireArchive(before int64, n int) *Queued {
	return db.commit.enqueue("delete old archived messages", func(b *batch) (int64, error) {
		res, err := b.exec(`DELETE FROM archive WHERE id IN (SELECT id FROM archive WHERE id < ? ORDER BY id LIMIT ?)`, before, n)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}, nil)
}

// deleteArchiveOf deletes the user's archive in chunks of expireChunk,
// each its own commit.
func (db *DB) deleteArchiveOf(user string) error {
	for {
		q := db.commit.enqueue("delete the archive of "+user, func(b *batch) (int64, error) {
			res, err := b.exec(`DELETE FROM archive WHERE id IN (SELECT id FROM archive WHERE username = ? ORDER BY id LIMIT ?)`, user, archiveChunk)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}, nil)
		if err := q.Wait(); err != nil {
			return err
		}
		if q.ID() < archiveChunk {
			return nil
		}
	}
}

// archiveChunk is how many archived messages one commit deletes.
const archiveChunk = 2000

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
