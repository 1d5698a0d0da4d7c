// Package storage is the only SQL in Hearth: one SQLite file in WAL mode,
// embedded versioned migrations, and typed methods per table family: users
// with SCRAM keys (RFC 5802, RFC 7677), rosters and pending subscription
// requests (RFC 6121), offline messages (XEP-0160), vcard-temp (XEP-0054),
// private XML storage (XEP-0049), blocking (XEP-0191), last activity
// (XEP-0012), message archives (XEP-0313) and settings.
//
// A method that changes data returns only after the change is committed and
// synced (synchronous=FULL): a stored offline message survives kill -9 and
// power loss once the call returns. The Queue methods (QueueOffline,
// QueueArchive, QueueDeleteOffline, QueueLastActivity) return at once
// instead, with a Queued that says when the change is durable: they share
// one transaction and one sync with everything else queued at the time
// (commit.go).
//
// One process has a database at a time: Open locks a file beside it
// (hearth.db.lock) and Close releases it. A new database is built whole
// before it takes its name, and a damaged one is refused rather than
// begun again.
//
// Usernames are localparts and contacts bare JIDs, both already normalised by
// the caller; storage compares them byte for byte.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors, wrapped with context by every method; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrQuota    = errors.New("quota exceeded")
)

// busyTimeout is how long a connection waits for another one's lock, in
// milliseconds. Inside one process writes queue in database/sql instead;
// this covers WAL checkpoints and other programs reading the file (the
// sqlite3 shell, a backup tool).
var busyTimeout = 5000 // a variable for tests only

// DB is a Hearth database. It is safe for concurrent use.
type DB struct {
	path string
	// lock keeps the database to this process until Close.
	lock *flock.Flock
	// w is the only connection that writes: SQLite has one writer, so
	// writers queue here rather than spin on SQLITE_BUSY. Transactions on it
	// begin IMMEDIATE, taking the write lock up front, so a transaction that
	// reads and then writes cannot fail half-way on a lock upgrade.
	w *sql.DB
	// r holds read-only connections; in WAL mode they read a committed
	// snapshot concurrently with the writer.
	r *sql.DB
	// login is a read-only connection of its own for the account lookups
	// of logins, so that a burst of other reads (one account's hundreds
	// of resources coming online) never makes everyone else's logins
	// wait for a connection.
	login *sql.DB
	// commit is the group commit of durable writes (commit.go).
	commit *committer
}

// Open opens the database at path for this process alone, creating it and
// migrating it to the current schema as needed. The directory must exist.
//
// Before SQLite sees the file, Open locks path+".lock" (hearth.db.lock) and
// holds the lock until Close: a second Open of the same path, in this
// process or another, fails with an error wrapping ErrInUse that names
// the holder's process.
//
// A missing database is built under a temporary name beside it and renamed
// into place once complete, so an existing file is always a whole
// database. An existing file that is empty, is not an SQLite database, or
// is shorter than its header records, and one SQLite finds corrupt while
// opening it, is left as it is and refused with an error wrapping
// ErrDamaged that says what is wrong and how to restore it.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open database %q: need a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	l, err := lock(abs)
	if err != nil {
		return nil, err
	}
	db, err := open(ctx, abs)
	if err != nil {
		unlock(l)
		return nil, err
	}
	db.lock = l
	return db, nil
}

// open opens the database at abs, whose lock the caller holds.
func open(ctx context.Context, abs string) (*DB, error) {
	fail := func(err error) (*DB, error) {
		var de *damagedError
		switch {
		case errors.As(err, &de):
			return nil, err // says all, with the path
		case corrupt(err):
			return nil, damaged(abs, "is damaged (%s)", sqliteSays(err))
		}
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	if err := prepare(ctx, abs); err != nil {
		return fail(err)
	}
	w, err := openWriter(ctx, abs)
	if err != nil {
		return fail(err)
	}
	db := &DB{path: abs, w: w}
	if err := migrate(ctx, w, migrationFS); err != nil {
		w.Close()
		return fail(err)
	}
	if err := reindexTail(ctx, w); err != nil {
		w.Close()
		return fail(fmt.Errorf("index the archive's last messages: %w", err))
	}
	if db.r, err = openReader(ctx, abs, max(4, runtime.GOMAXPROCS(0))); err != nil {
		w.Close()
		return fail(err)
	}
	if db.login, err = openReader(ctx, abs, 1); err != nil {
		db.r.Close()
		w.Close()
		return fail(err)
	}
	// Ids go on past the log's last and the index's: the newest messages
	// may have been deleted, and a clock set back must not make an id
	// the index already covers (reindexTail would skip it).
	last, err := logLast(ctx, w)
	if err == nil {
		var indexed int64
		err = w.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'archive_indexed'`).Scan(&indexed)
		last = max(last, indexed)
	}
	if err != nil {
		db.login.Close()
		db.r.Close()
		w.Close()
		return fail(err)
	}
	db.commit = newCommitter(db, last)
	return db, nil
}

// openWriter opens the one writing connection to the database file at
// path, which must exist, and checks that it is in WAL mode.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	w, err := sql.Open("sqlite", dsn(path, writer))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, err
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("journal_mode is %q, want wal (is the file system local?)", mode)
	}
	return w, nil
}

// openReader opens n read-only connections to the database file at path.
func openReader(ctx context.Context, path string, n int) (*sql.DB, error) {
	r, err := sql.Open("sqlite", dsn(path, reader))
	if err != nil {
		return nil, err
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n) // reopening a connection reparses the schema
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// The connections to the database: the writer, the pool's readers, and
// the read-only one a snapshot (VACUUM INTO) is taken on.
type connKind int

const (
	reader connKind = iota
	writer
	snapshot
)

// dsn returns the modernc.org/sqlite data source name for the file at the
// absolute path abs, for a connection of kind k.
func dsn(abs string, k connKind) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	// url.URL escapes '?', '#' and '%' in the path; SQLite decodes them.
	u := url.URL{Scheme: "file", Path: p}
	q := url.Values{
		// rw: never create the file. Open has checked or built it, and
		// a database SQLite made empty in its place would be a new one.
		"mode": {"rw"},
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout),
			"foreign_keys(1)",
			// FULL: in WAL mode NORMAL may lose the last commits on
			// power loss; a stored offline message must not be lost.
			"synchronous(FULL)",
			"temp_store(2)",
		},
	}
	switch k {
	case writer:
		// A group commit of thousands of messages changes more pages
		// than the default 2 MB cache holds; spilling them to the log
		// before the commit costs writes and reads again.
		q["_pragma"] = append(q["_pragma"], "journal_mode(WAL)", "cache_size(-32768)")
		q.Set("_txlock", "immediate")
	case reader:
		q["_pragma"] = append(q["_pragma"], "query_only(1)")
	case snapshot:
		// VACUUM INTO writes another file, which query_only forbids;
		// mode=ro keeps this one from writing the database.
		q.Set("mode", "ro")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Close closes the database and then releases its lock.
func (db *DB) Close() error {
	// What is queued is committed first.
	db.commit.close()
	// The writer last: SQLite checkpoints when the last connection closes,
	// and the writer is the one that may write the main file.
	err := errors.Join(db.r.Close(), db.login.Close())
	if err2 := db.w.Close(); err == nil {
		err = err2
	}
	if err2 := unlock(db.lock); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// tx runs fn in a write transaction and commits it if fn returns nil.
// The transaction begins IMMEDIATE (it holds the write lock throughout), so
// what fn reads stays true until the commit. fn must use tx only: the
// writer's one connection is busy with it, so a call to db.w would wait
// forever.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// view runs fn in a read transaction: every query in it sees the same
// committed snapshot.
func (db *DB) view(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// noUser reports whether err is a foreign key violation: the row being
// written belongs to a user that does not exist.
func noUser(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// notFound turns sql.ErrNoRows into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// affected returns ErrNotFound when res changed no row.
func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Times are stored as Unix nanoseconds and read back in UTC.
func unix(t time.Time) int64 { return t.UnixNano() }

func fromUnix(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// blob makes a nil slice an empty one: the blob columns are NOT NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
