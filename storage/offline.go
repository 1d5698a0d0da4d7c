package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Offline is a message stored for a user who was offline (XEP-0160).
type Offline struct {
	ID     int64 // never reused
	From   string
	Stanza []byte // the message, as XML
	Stored time.Time
}

// StoreOffline stores a message from from to the user and returns its ID.
// It returns ErrQuota when the user already has max or more messages
// stored (max <= 0: no limit), and ErrNotFound if there is no such user.
// The message is committed and synced before StoreOffline returns.
func (db *DB) StoreOffline(ctx context.Context, user, from string, stanza []byte, max int) (int64, error) {
	p := db.QueueOffline(user, from, stanza, max, nil)
	err := p.Wait()
	return p.ID(), err
}

// QueueOffline queues the store of a message for the next group commit;
// the Queued says when it is durable and gives the new message's ID. max
// and the errors are StoreOffline's. after, if not nil, is called on the
// committer's goroutine when the store is durable or failed, before the
// Queued is done; it must not block.
func (db *DB) QueueOffline(user, from string, stanza []byte, max int, after func(id int64, err error)) *Queued {
	at := unix(time.Now())
	return db.commit.enqueue("store offline message for "+user, func(b *batch) (int64, error) {
		// Exec, not INSERT ... RETURNING: a result set left open would
		// hold the statement.
		var res sql.Result
		var err error
		if max <= 0 {
			res, err = b.exec(`INSERT INTO offline (username, sender, stanza, stored) VALUES (?, ?, ?, ?)`,
				user, from, blob(stanza), at)
		} else {
			// One statement: the count and the insert are atomic.
			res, err = b.exec(`INSERT INTO offline (username, sender, stanza, stored)
				SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM offline WHERE username = ?) < ?`,
				user, from, blob(stanza), at, user, max)
			if err == nil {
				if err = affected(res); errors.Is(err, ErrNotFound) {
					return 0, ErrQuota
				}
			}
		}
		if noUser(err) {
			return 0, ErrNotFound
		}
		if err != nil {
			return 0, err
		}
		return res.LastInsertId()
	}, after)
}

// OfflineFor returns the user's offline messages, oldest first.
func (db *DB) OfflineFor(ctx context.Context, user string) ([]Offline, error) {
	ms, err := db.offlineFor(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("offline messages for %s: %w", user, err)
	}
	return ms, nil
}

func (db *DB) offlineFor(ctx context.Context, user string) ([]Offline, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, sender, stanza, stored FROM offline
		WHERE username = ? ORDER BY id`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []Offline
	for rows.Next() {
		var m Offline
		var at int64
		if err := rows.Scan(&m.ID, &m.From, &m.Stanza, &at); err != nil {
			return nil, err
		}
		m.Stored = fromUnix(at)
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// OfflinePage returns the user's offline messages after the one with ID
// after, oldest first: at most n, and no more once they add up to bytes
// (at least one, however large). A backlog is delivered in such pages, so
// that reading it takes memory for one page, not for all of it.
func (db *DB) OfflinePage(ctx context.Context, user string, after int64, n, bytes int) ([]Offline, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, sender, stanza, stored FROM offline
		WHERE username = ? AND id > ? ORDER BY id LIMIT ?`, user, after, n)
	if err != nil {
		return nil, fmt.Errorf("offline messages for %s: %w", user, err)
	}
	defer rows.Close()
	var ms []Offline
	size := 0
	for size < bytes && rows.Next() {
		var m Offline
		var at int64
		if err := rows.Scan(&m.ID, &m.From, &m.Stanza, &at); err != nil {
			return nil, fmt.Errorf("offline messages for %s: %w", user, err)
		}
		m.Stored = fromUnix(at)
		ms = append(ms, m)
		size += len(m.Stanza)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("offline messages for %s: %w", user, err)
	}
	return ms, nil
}

// DeleteOffline deletes the user's offline messages with the given IDs,
// as after they were delivered. IDs that are not the user's are ignored.
func (db *DB) DeleteOffline(ctx context.Context, user string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return db.QueueDeleteOffline(user, ids, nil).Wait()
}

// QueueDeleteOffline queues DeleteOffline for the next group commit; after
// is as for QueueOffline.
func (db *DB) QueueDeleteOffline(user string, ids []int64, after func(int64, error)) *Queued {
	list := jsonInts(ids)
	return db.commit.enqueue("delete offline messages for "+user, func(b *batch) (int64, error) {
		_, err := b.exec(`DELETE FROM offline WHERE username = ? AND id IN (SELECT value FROM json_each(?))`, user, list)
		return 0, err
	}, after)
}

// jsonInts encodes ids as a JSON array, for json_each: one statement for
// any number of IDs.
func jsonInts(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// OfflineCounts returns how many offline messages each user has who has
// any.
func (db *DB) OfflineCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT username, count(*) FROM offline GROUP BY username`)
	if err != nil {
		return nil, fmt.Errorf("count offline messages: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var user string
		var n int
		if err := rows.Scan(&user, &n); err != nil {
			return nil, fmt.Errorf("count offline messages: %w", err)
		}
		out[user] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count offline messages: %w", err)
	}
	return out, nil
}

// CountOffline returns how many offline messages the user has.
func (db *DB) CountOffline(ctx context.Context, user string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM offline WHERE username = ?`, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count offline messages for %s: %w", user, err)
	}
	return n, nil
}
