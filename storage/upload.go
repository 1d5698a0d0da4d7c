package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Upload states (XEP-0363 slots and the files put in them).
const (
	UploadSlot   = "slot"   // handed out, waiting for its PUT
	UploadBusy   = "busy"   // a PUT is under way
	UploadStored = "stored" // the file is whole on disk
)

// ErrUploadDaily is the daily upload limit (it is an ErrQuota too).
var ErrUploadDaily = fmt.Errorf("daily upload limit reached: %w", ErrQuota)

// Upload is a file slot and, once stored, its file.
type Upload struct {
	Slot        string // random; the file's name on disk and in its URL
	User        string
	Filename    string // what the download is called, nothing more
	Size        int64
	ContentType string
	Created     time.Time
	// Expires is when the slot's PUT URL ends, or when the stored file
	// is deleted.
	Expires time.Time
	State   string
}

// UploadUsage is what one account keeps in the upload store.
type UploadUsage struct {
	User  string
	Files int   // stored files
	Bytes int64 // their sizes, with the slots still open
}

// AddUpload records a new slot of u.User's (state UploadSlot), durable
// before it returns (group commit). It returns ErrQuota when the sizes of
// the account's files and open slots would pass quota, ErrUploadDaily
// when the slots it asked for since a day before u.Created would pass
// daily (each <= 0: no limit).
func (db *DB) AddUpload(ctx context.Context, u Upload, quota, daily int64) error {
	q := db.commit.enqueue("new upload slot of "+u.User, func(b *batch) (int64, error) {
		if quota > 0 {
			var used int64
			if err := b.tx.QueryRowContext(b.ctx, `SELECT coalesce(sum(size), 0) FROM uploads WHERE username = ?`, u.User).Scan(&used); err != nil {
				return 0, err
			}
			if used+u.Size > quota {
				return 0, ErrQuota
			}
		}
		if daily > 0 {
			var today int64
			if err := b.tx.QueryRowContext(b.ctx, `SELECT coalesce(sum(size), 0) FROM uploads WHERE username = ? AND created > ?`,
				u.User, unix(u.Created.Add(-24*time.Hour))).Scan(&today); err != nil {
				return 0, err
			}
			if today+u.Size > daily {
				return 0, ErrUploadDaily
			}
		}
		_, err := b.exec(`INSERT INTO uploads (slot, username, filename, size, content_type, created, expires, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Slot, u.User, u.Filename, u.Size, u.ContentType, unix(u.Created), unix(u.Expires), UploadSlot)
		return 0, err
	}, nil)
	select {
	case <-q.Done():
		return q.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UploadOf returns the slot named slot, or ErrNotFound.
func (db *DB) UploadOf(ctx context.Context, slot string) (Upload, error) {
	row := db.r.QueryRowContext(ctx, `SELECT slot, username, filename, size, content_type, created, expires, state
		FROM uploads WHERE slot = ?`, slot)
	u, err := scanUpload(row)
	if err != nil {
		return Upload{}, fmt.Errorf("upload %s: %w", slot, notFound(err))
	}
	return u, nil
}

// BeginUpload marks an open slot busy (its PUT is under way); it returns
// ErrNotFound if the slot is not open (unknown, busy or stored).
func (db *DB) BeginUpload(ctx context.Context, slot string) error {
	res, err := db.w.ExecContext(ctx, `UPDATE uploads SET state = ? WHERE slot = ? AND state = ?`, UploadBusy, slot, UploadSlot)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("begin upload %s: %w", slot, err)
	}
	return nil
}

// AbortUpload opens a busy slot again (its PUT failed: the client may try
// again while the slot lasts).
func (db *DB) AbortUpload(ctx context.Context, slot string) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE uploads SET state = ? WHERE slot = ? AND state = ?`, UploadSlot, slot, UploadBusy); err != nil {
		return fmt.Errorf("abort upload %s: %w", slot, err)
	}
	return nil
}

// FinishUpload marks a busy slot's file stored until expires, durable
// before it returns (group commit). ErrNotFound: the slot is not busy
// (its account was deleted meanwhile).
func (db *DB) FinishUpload(ctx context.Context, slot string, expires time.Time) error {
	q := db.commit.enqueue("store upload "+slot, func(b *batch) (int64, error) {
		res, err := b.exec(`UPDATE uploads SET state = ?, expires = ? WHERE slot = ? AND state = ?`, UploadStored, unix(expires), slot, UploadBusy)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil)
	select {
	case <-q.Done():
		return q.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ReopenBusyUploads opens again the slots whose PUT was under way when
// the server stopped (their partial files are gone with the temporary
// directory).
func (db *DB) ReopenBusyUploads(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `UPDATE uploads SET state = ? WHERE state = ?`, UploadSlot, UploadBusy); err != nil {
		return fmt.Errorf("reopen upload slots: %w", err)
	}
	return nil
}

// Uploads lists user's slots and files ("" for everyone's), oldest first.
func (db *DB) Uploads(ctx context.Context, user string) ([]Upload, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT slot, username, filename, size, content_type, created, expires, state
		FROM uploads WHERE ? = '' OR username = ? ORDER BY created, slot`, user, user)
	if err != nil {
		return nil, fmt.Errorf("uploads of %q: %w", user, err)
	}
	return scanUploads(rows)
}

// DeadUploads lists up to limit slots and files to delete at now: past
// their expiry, or whose account is gone.
func (db *DB) DeadUploads(ctx context.Context, now time.Time, limit int) ([]Upload, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT slot, username, filename, size, content_type, created, expires, state
		FROM uploads WHERE (expires < ? AND state <> ?) OR username NOT IN (SELECT name FROM users) ORDER BY expires LIMIT ?`,
		unix(now), UploadBusy, limit)
	if err != nil {
		return nil, fmt.Errorf("expired uploads: %w", err)
	}
	return scanUploads(rows)
}

// UploadUsages returns each account's use of the upload store, by name.
func (db *DB) UploadUsages(ctx context.Context) ([]UploadUsage, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT username, sum(state = ?), sum(size) FROM uploads GROUP BY username ORDER BY username`, UploadStored)
	if err != nil {
		return nil, fmt.Errorf("upload use: %w", err)
	}
	defer rows.Close()
	var out []UploadUsage
	for rows.Next() {
		var u UploadUsage
		if err := rows.Scan(&u.User, &u.Files, &u.Bytes); err != nil {
			return nil, fmt.Errorf("upload use: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteUpload forgets a slot or file (its file is deleted first, by its
// caller).
func (db *DB) DeleteUpload(ctx context.Context, slot string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM uploads WHERE slot = ?`, slot); err != nil {
		return fmt.Errorf("delete upload %s: %w", slot, err)
	}
	return nil
}

func scanUpload(s scanner) (Upload, error) {
	var u Upload
	var created, expires int64
	err := s.Scan(&u.Slot, &u.User, &u.Filename, &u.Size, &u.ContentType, &created, &expires, &u.State)
	u.Created, u.Expires = fromUnix(created), fromUnix(expires)
	return u, err
}

func scanUploads(rows *sql.Rows) ([]Upload, error) {
	defer rows.Close()
	var out []Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("uploads: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("uploads: %w", err)
	}
	return out, rows.Err()
}
