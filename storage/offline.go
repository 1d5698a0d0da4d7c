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
	// Exec, not INSERT ... RETURNING: the autocommit happens inside the
	// step that Exec waits for, so a failed commit is reported here rather
	// than lost in closing a result set.
	var res sql.Result
	var err error
	if max <= 0 {
		res, err = db.w.ExecContext(ctx, `INSERT INTO offline (username, sender, stanza, stored)
			VALUES (?, ?, ?, ?)`,
			user, from, blob(stanza), unix(time.Now()))
	} else {
		// One statement: count and insert are atomic without a transaction.
		res, err = db.w.ExecContext(ctx, `INSERT INTO offline (username, sender, stanza, stored)
			SELECT ?, ?, ?, ? WHERE (SELECT count(*) FROM offline WHERE username = ?) < ?`,
			user, from, blob(stanza), unix(time.Now()), user, max)
		if err == nil {
			if err = affected(res); errors.Is(err, ErrNotFound) {
				err = ErrQuota
			}
		}
	}
	var id int64
	if err == nil {
		id, err = res.LastInsertId()
	}
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store offline message for %s: %w", user, err)
	}
	return id, nil
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

// DeleteOffline deletes the user's offline messages with the given IDs,
// as after they were delivered. IDs that are not the user's are ignored.
func (db *DB) DeleteOffline(ctx context.Context, user string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := db.w.ExecContext(ctx, `DELETE FROM offline
		WHERE username = ? AND id IN (SELECT value FROM json_each(?))`, user, jsonInts(ids))
	if err != nil {
		return fmt.Errorf("delete offline messages for %s: %w", user, err)
	}
	return nil
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

// CountOffline returns how many offline messages the user has.
func (db *DB) CountOffline(ctx context.Context, user string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM offline WHERE username = ?`, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("count offline messages for %s: %w", user, err)
	}
	return n, nil
}
