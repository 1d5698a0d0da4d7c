package storage

// The database file before SQLite opens it. A new database is built whole
// under a temporary name and renamed into place, so that a file at the
// database's path is always a complete database; an existing file that is
// empty, is not SQLite's, or is shorter than its header says is refused, so
// that Hearth never begins again with no accounts on top of a damaged one.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"hearth/internal/atomicfile"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrDamaged: the database file is not a whole Hearth database; the
// error's message says what is wrong and how to restore it.
var ErrDamaged = errors.New("database damaged")

// newSuffix names the database being built: hearth.db.new.
const newSuffix = ".new"

// SQLite's file format (https://www.sqlite.org/fileformat.html): the
// header is the first 100 bytes of the file, and a WAL file's own header
// is 32 bytes, after which come the frames.
const (
	headerSize    = 100
	walHeaderSize = 32
	magic         = "SQLite format 3\x00"
)

// damagedError is ErrDamaged with what is wrong with the file at path and
// the files to move aside to start over.
type damagedError struct {
	path  string
	what  string   // "is empty (0 bytes)"
	aside []string // the files to move aside to start over with no data
}

func (e *damagedError) Error() string {
	return fmt.Sprintf("the database %s %s. Hearth will not start on it, so as not to begin again with no accounts. "+
		"To restore it, stop Hearth and put your backup in place of %s; to start over with no data instead, move %s aside.",
		e.path, e.what, e.path, strings.Join(e.aside, " and "))
}

func (e *damagedError) Unwrap() error { return ErrDamaged }

// damaged returns the ErrDamaged error for the database at abs; the files
// to move aside are those of abs, its log and its index that are there.
func damaged(abs, format string, args ...any) error {
	var aside []string
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(abs + suffix); err == nil {
			aside = append(aside, abs+suffix)
		}
	}
	return &damagedError{path: abs, what: fmt.Sprintf(format, args...), aside: aside}
}

// sqliteSays returns SQLite's words in err without the code number.
func sqliteSays(err error) string {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := e.Error()
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	return msg
}

// corrupt reports SQLITE_CORRUPT or SQLITE_NOTADB, whatever the extended
// code: what SQLite says when the file is not a sound database.
func corrupt(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	c := e.Code() & 0xff
	return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
}

// prepare makes the file at abs ready for SQLite: a new database if there
// is none, else the existing one, checked.
func prepare(ctx context.Context, abs string) error {
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return create(ctx, abs)
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("is a directory")
	}
	return check(abs, fi.Size())
}

// check refuses a database file of size bytes at abs that is empty, is not
// an SQLite database, or is shorter than the size its header records.
//
// With a write-ahead log that holds frames beside it, the file may
// legitimately be shorter than its header says (a checkpoint cut short by
// a crash wrote page 1 before the pages after it; the log still holds them
// all): SQLite recovers from the log, and reports SQLITE_CORRUPT if it
// cannot.
func check(abs string, size int64) error {
	if fi, err := os.Stat(abs + "-wal"); err == nil && fi.Size() > walHeaderSize {
		return nil
	}
	if size == 0 {
		return damaged(abs, "is empty (0 bytes)")
	}
	f, err := os.Open(abs)
	if err != nil {
		return err
	}
	defer f.Close()
	h := make([]byte, headerSize)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if n < len(magic) || string(h[:len(magic)]) != magic {
		return damaged(abs, "is not a Hearth database (it does not begin as an SQLite database does)")
	}
	if n < headerSize {
		return damaged(abs, "is truncated: it has %d bytes, less than a database header", n)
	}
	if want, ok := headerDBSize(h); ok && size < want {
		return damaged(abs, "is truncated: it has %d of its %d bytes", size, want)
	}
	return nil
}

// headerDBSize returns the database size that the header h records: the
// page count at offset 28 times the page size at 16. It is valid only when
// the page count is not zero and the version-valid-for number at 92
// equals the change counter at 24 (fileformat.html, 1.3.7).
func headerDBSize(h []byte) (int64, bool) {
	pageSize := int64(binary.BigEndian.Uint16(h[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(h[28:]))
	counter, validFor := binary.BigEndian.Uint32(h[24:]), binary.BigEndian.Uint32(h[92:])
	if pages == 0 || counter != validFor || pageSize < 512 {
		return 0, false
	}
	return pages * pageSize, true
}

// create builds a new database for abs under a temporary name beside it,
// migrates it, closes and syncs it, and renames it into place.
func create(ctx context.Context, abs string) error {
	// A log without its database would be replayed onto the new one:
	// the database was moved or deleted without it.
	if fi, err := os.Stat(abs + "-wal"); err == nil && fi.Size() > walHeaderSize {
		return damaged(abs, "is missing, but its write-ahead log %s-wal is still there", abs)
	}
	tmp := abs + newSuffix
	removeDB(tmp) // left by a crash while building
	if err := build(ctx, tmp); err != nil {
		removeDB(tmp)
		return fmt.Errorf("new database: %w", err)
	}
	// A log without frames says nothing, but neither it nor an old index
	// belongs to the new database.
	removeJournals(abs)
	if err := os.Rename(tmp, abs); err != nil {
		removeDB(tmp)
		return fmt.Errorf("new database: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("new database: %w", err)
	}
	return nil
}

// build makes a complete database at path: created with mode 0600 (it
// holds SCRAM keys and messages; SQLite gives the -wal and -shm files the
// database's mode), migrated, closed (which moves the log into the file)
// and synced.
func build(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	w, err := openWriter(ctx, path)
	if err != nil {
		return err
	}
	if err := migrate(ctx, w, migrationFS); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return errors.New("the write-ahead log was not moved into the database on close")
	}
	return syncFile(path)
}

// removeDB removes the database file at path with its journal files, for
// a database being built. Files that are not there are no error.
func removeDB(path string) {
	os.Remove(path)
	removeJournals(path)
}

// removeJournals removes the journal files of the database at path.
func removeJournals(path string) {
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// syncFile flushes the file at path to stable storage.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// QuickCheck runs SQLite's quick_check over the whole database and returns
// the problems it finds, none when the database is sound. It reads every
// page, so it takes a while on a large database; it does not block
// writers.
func (db *DB) QuickCheck(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, "PRAGMA quick_check")
	if corrupt(err) {
		return []string{sqliteSays(err)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quick check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("quick check: %w", err)
		}
		problems = append(problems, p)
	}
	if err := rows.Err(); corrupt(err) {
		problems = append(problems, sqliteSays(err))
	} else if err != nil {
		return nil, fmt.Errorf("quick check: %w", err)
	}
	if len(problems) == 1 && problems[0] == "ok" {
		return nil, nil
	}
	return problems, nil
}
