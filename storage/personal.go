package storage

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// VCard returns the user's vCard (XEP-0054) as XML, or ErrNotFound.
func (db *DB) VCard(ctx context.Context, user string) ([]byte, error) {
	var xml []byte
	if err := db.r.QueryRowContext(ctx, `SELECT xml FROM vcards WHERE username = ?`, user).Scan(&xml); err != nil {
		return nil, fmt.Errorf("vcard of %s: %w", user, notFound(err))
	}
	return xml, nil
}

// SetVCard stores the user's vCard, replacing any earlier one. It returns
// ErrNotFound if there is no such user.
func (db *DB) SetVCard(ctx context.Context, user string, xml []byte) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO vcards (username, xml) VALUES (?, ?)
		ON CONFLICT (username) DO UPDATE SET xml = excluded.xml`, user, blob(xml))
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set vcard of %s: %w", user, err)
	}
	return nil
}

// Private returns the user's private XML (XEP-0049) stored under key, the
// element's name and namespace as "name ns", or ErrNotFound.
func (db *DB) Private(ctx context.Context, user, key string) ([]byte, error) {
	var xml []byte
	if err := db.r.QueryRowContext(ctx, `SELECT xml FROM private WHERE username = ? AND key = ?`,
		user, key).Scan(&xml); err != nil {
		return nil, fmt.Errorf("private %q of %s: %w", key, user, notFound(err))
	}
	return xml, nil
}

// SetPrivate stores private XML under key, replacing any earlier value. It
// returns ErrNotFound if there is no such user.
func (db *DB) SetPrivate(ctx context.Context, user, key string, xml []byte) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO private (username, key, xml) VALUES (?, ?, ?)
		ON CONFLICT (username, key) DO UPDATE SET xml = excluded.xml`, user, key, blob(xml))
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("set private %q of %s: %w", key, user, err)
	}
	return nil
}

// PrivateSize returns how many bytes of private XML the user keeps under
// keys other than except.
func (db *DB) PrivateSize(ctx context.Context, user string, except ...string) (int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, length(xml) FROM private WHERE username = ?`, user)
	if err != nil {
		return 0, fmt.Errorf("private storage size of %s: %w", user, err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var k string
		var l int64
		if err := rows.Scan(&k, &l); err != nil {
			return 0, fmt.Errorf("private storage size of %s: %w", user, err)
		}
		if !slices.Contains(except, k) {
			n += l
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("private storage size of %s: %w", user, err)
	}
	return n, nil
}

// BlockList returns the JIDs the user blocks (XEP-0191), sorted.
func (db *DB) BlockList(ctx context.Context, user string) ([]string, error) {
	js, err := db.texts(ctx, `SELECT jid FROM blocks WHERE username = ? ORDER BY jid`, user)
	if err != nil {
		return nil, fmt.Errorf("block list of %s: %w", user, err)
	}
	return js, nil
}

// Block adds jids to the user's block list; JIDs already on it are no
// error. It returns ErrNotFound if there is no such user.
func (db *DB) Block(ctx context.Context, user string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO blocks (username, jid) VALUES (?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, j := range jids {
			if _, err := st.ExecContext(ctx, user, j); err != nil {
				return err
			}
		}
		return nil
	})
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("block for %s: %w", user, err)
	}
	return nil
}

// Unblock removes jids from the user's block list; JIDs not on it are no
// error. Empty jids unblocks everyone (XEP-0191 3.4).
func (db *DB) Unblock(ctx context.Context, user string, jids []string) error {
	var err error
	if len(jids) == 0 {
		_, err = db.w.ExecContext(ctx, `DELETE FROM blocks WHERE username = ?`, user)
	} else {
		err = db.tx(ctx, func(tx *sql.Tx) error {
			st, err := tx.PrepareContext(ctx, `DELETE FROM blocks WHERE username = ? AND jid = ?`)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, j := range jids {
				if _, err := st.ExecContext(ctx, user, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("unblock for %s: %w", user, err)
	}
	return nil
}

// IsBlocked reports whether jid is on the user's block list, exactly as
// given: the caller checks each form XEP-0191 8.3 matches (full JID, bare
// JID, domain).
func (db *DB) IsBlocked(ctx context.Context, user, jid string) (bool, error) {
	var ok bool
	err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blocks WHERE username = ? AND jid = ?)`,
		user, jid).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("is %s blocked by %s: %w", jid, user, err)
	}
	return ok, nil
}

// SetLastActivity records when the user was last active (XEP-0012): the
// time their last session ended, and its status text. It returns
// ErrNotFound if there is no such user.
func (db *DB) SetLastActivity(ctx context.Context, user string, at time.Time, status string) error {
	return db.QueueLastActivity(user, at, status, nil).Wait()
}

// QueueLastActivity queues SetLastActivity for the next group commit (a
// logout need not wait for its own sync); after is as for QueueOffline.
func (db *DB) QueueLastActivity(user string, at time.Time, status string, after func(int64, error)) *Queued {
	return db.commit.enqueue("set last activity of "+user, func(b *batch) (int64, error) {
		_, err := b.exec(`INSERT INTO last_activity (username, at, status) VALUES (?, ?, ?)
			ON CONFLICT (username) DO UPDATE SET at = excluded.at, status = excluded.status`,
			user, unix(at), status)
		if noUser(err) {
			return 0, ErrNotFound
		}
		return 0, err
	}, after)
}

// LastActivity returns what SetLastActivity recorded for the user, or
// ErrNotFound.
func (db *DB) LastActivity(ctx context.Context, user string) (at time.Time, status string, err error) {
	var ns int64
	if err := db.r.QueryRowContext(ctx, `SELECT at, status FROM last_activity WHERE username = ?`,
		user).Scan(&ns, &status); err != nil {
		return time.Time{}, "", fmt.Errorf("last activity of %s: %w", user, notFound(err))
	}
	return fromUnix(ns), status, nil
}
