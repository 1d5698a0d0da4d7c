package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is an account on this server.
type User struct {
	Name         string // localpart
	SHA1, SHA256 Credentials
	Disabled     bool
	Created      time.Time
}

const userCols = `name, sha1_salt, sha1_iters, sha1_stored, sha1_server,
	sha256_salt, sha256_iters, sha256_stored, sha256_server, disabled, created`

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (User, error) {
	var u User
	var created int64
	err := s.Scan(&u.Name,
		&u.SHA1.Salt, &u.SHA1.Iters, &u.SHA1.StoredKey, &u.SHA1.ServerKey,
		&u.SHA256.Salt, &u.SHA256.Iters, &u.SHA256.StoredKey, &u.SHA256.ServerKey,
		&u.Disabled, &created)
	u.Created = fromUnix(created)
	return u, err
}

// CreateUser adds u; a zero u.Created means now. It returns ErrExists if
// the name is taken.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	if u.Name == "" {
		return errors.New("create user: empty name")
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	if err := insertUser(ctx, db.w, u); err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return nil
}

// execer is what runs a statement: the database, or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertUser adds u's row, or returns ErrExists: the one INSERT of an
// account, for CreateUser, invitations and imports.
func insertUser(ctx context.Context, ex execer, u User) error {
	res, err := ex.ExecContext(ctx, `INSERT INTO users (`+userCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		u.Name,
		blob(u.SHA1.Salt), u.SHA1.Iters, blob(u.SHA1.StoredKey), blob(u.SHA1.ServerKey),
		blob(u.SHA256.Salt), u.SHA256.Iters, blob(u.SHA256.StoredKey), blob(u.SHA256.ServerKey),
		u.Disabled, unix(u.Created))
	if err == nil {
		if err = affected(res); errors.Is(err, ErrNotFound) {
			err = ErrExists
		}
	}
	return err
}

// setCredentials replaces name's keys and revokes its FAST tokens in tx,
// or returns ErrNotFound: for SetCredentials and reset invitations.
func setCredentials(ctx context.Context, tx *sql.Tx, name string, sha1, sha256 Credentials) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET
		sha1_salt = ?, sha1_iters = ?, sha1_stored = ?, sha1_server = ?,
		sha256_salt = ?, sha256_iters = ?, sha256_stored = ?, sha256_server = ?
		WHERE name = ?`,
		blob(sha1.Salt), sha1.Iters, blob(sha1.StoredKey), blob(sha1.ServerKey),
		blob(sha256.Salt), sha256.Iters, blob(sha256.StoredKey), blob(sha256.ServerKey),
		name)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return err
	}
	return deleteFASTTokens(ctx, tx, name)
}

// User returns the user called name, or ErrNotFound. Logins call it: it
// has a connection of its own.
func (db *DB) User(ctx context.Context, name string) (User, error) {
	u, err := scanUser(db.login.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", name, notFound(err))
	}
	return u, nil
}

// UserExists reports whether the account exists, without reading its
// credentials (it runs for messages to offline accounts and presence).
func (db *DB) UserExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	if err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("user exists %s: %w", name, err)
	}
	return ok, nil
}

// Users returns every user, sorted by name.
func (db *DB) Users(ctx context.Context) ([]User, error) {
	us, err := db.users(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

func (db *DB) users(ctx context.Context) ([]User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// SetCredentials replaces the user's SCRAM credentials, as after a password
// change, and revokes its FAST tokens with them. It returns ErrNotFound if
// there is no such user.
func (db *DB) SetCredentials(ctx context.Context, name string, sha1, sha256 Credentials) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		return setCredentials(ctx, tx, name, sha1, sha256)
	})
	if err != nil {
		return fmt.Errorf("set credentials of %s: %w", name, err)
	}
	return nil
}

// SetDisabled disables or enables the user's account; disabling revokes
// its FAST tokens. It returns ErrNotFound if there is no such user.
func (db *DB) SetDisabled(ctx context.Context, name string, disabled bool) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE name = ?`, disabled, name)
		if err == nil {
			err = affected(res)
		}
		if err != nil || !disabled {
			return err
		}
		return deleteFASTTokens(ctx, tx, name)
	})
	if err != nil {
		return fmt.Errorf("set disabled of %s: %w", name, err)
	}
	return nil
}

// DeleteUser deletes the user and everything they own: roster, pending
// subscription requests, offline messages, vCard, private XML, block list,
// last activity and FAST tokens. It returns ErrNotFound if there is no
// such user.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	// An archive may hold millions of messages: they go first, a chunk
	// per commit. The account goes in a commit of its own with what came
	// meanwhile, which the group commit then no longer archives.
	if err := db.deleteArchiveOf(ctx, name); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	q := db.commit.enqueue("delete user "+name, func(b *batch) (int64, error) {
		if _, err := b.purgeArchive(name, 0); err != nil {
			return 0, err
		}
		res, err := b.exec(`DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil)
	if err := q.Wait(); err != nil {
		return err
	}
	return nil
}
