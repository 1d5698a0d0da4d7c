package storage

import (
	"context"
	"fmt"
	"time"
)

// LinkLocalUsers returns the accounts that take part in chat on the LAN
// (XEP-0174), by name.
func (db *DB) LinkLocalUsers(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT username FROM linklocal_users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("LAN chat accounts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("LAN chat accounts: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("LAN chat accounts: %w", err)
	}
	return out, nil
}

// SetLinkLocal records whether the account takes part in chat on the
// LAN. It returns ErrNotFound if there is no such account.
func (db *DB) SetLinkLocal(ctx context.Context, user string, on bool) error {
	var err error
	if on {
		_, err = db.w.ExecContext(ctx, `INSERT INTO linklocal_users (username, since) VALUES (?, ?)
			ON CONFLICT (username) DO NOTHING`, user, unix(time.Now()))
		if noUser(err) {
			err = ErrNotFound
		}
	} else {
		var ok bool
		if ok, err = db.UserExists(ctx, user); err == nil && !ok {
			err = ErrNotFound
		}
		if err == nil {
			_, err = db.w.ExecContext(ctx, `DELETE FROM linklocal_users WHERE username = ?`, user)
		}
	}
	if err != nil {
		return fmt.Errorf("LAN chat for %s: %w", user, err)
	}
	return nil
}
