package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
)

// Snapshot writes a copy of the whole database, as it stands at one
// moment, to the new file path, while the database stays in use: every
// write committed before Snapshot began is in the copy, and no writer or
// reader waits for it. The copy is a database of its own in rollback
// mode, compacted, and synced to disk before Snapshot returns; path must
// not exist.
//
// It runs SQLite's VACUUM INTO on a read-only connection of its own (the
// readers of the pool refuse to write anything, even elsewhere).
func (db *DB) Snapshot(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("copy the database to %s: a file of that name exists already", path)
	}
	c, err := sql.Open("sqlite", dsn(db.path, snapshot))
	if err != nil {
		return fmt.Errorf("copy the database: %w", err)
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	if _, err := c.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		os.Remove(path)
		return fmt.Errorf("copy the database to %s: %s", path, sqliteSays(err))
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		err = errors.Join(f.Chmod(0o600), f.Sync(), f.Close())
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("copy the database to %s: %w", path, err)
	}
	return nil
}
