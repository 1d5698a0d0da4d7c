package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/fstest"
)

// newDB opens a database in a fresh temporary directory.
func newDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// addUser creates users with cheap fake credentials.
func addUser(t testing.TB, db *DB, names ...string) {
	t.Helper()
	for _, name := range names {
		c := Credentials{Salt: []byte("salt"), Iters: 1, StoredKey: []byte("s"), ServerKey: []byte("k")}
		if err := db.CreateUser(context.Background(), User{Name: name, SHA1: c, SHA256: c}); err != nil {
			t.Fatal(err)
		}
	}
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpen(t *testing.T) {
	db := newDB(t)
	for _, tt := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{db.w, "journal_mode", "wal"},
		{db.w, "foreign_keys", "1"},
		{db.w, "synchronous", "2"}, // FULL
		{db.w, "busy_timeout", "5000"},
		{db.w, "query_only", "0"},
		{db.w, "user_version", latestVersion(t)},
		{db.r, "journal_mode", "wal"},
		{db.r, "busy_timeout", "5000"},
		{db.r, "query_only", "1"},
	} {
		name := "writer"
		if tt.db == db.r {
			name = "reader"
		}
		t.Run(name+"/"+tt.pragma, func(t *testing.T) {
			if got := pragma(t, tt.db, tt.pragma); got != tt.want {
				t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
			}
		})
	}
	if !filepath.IsAbs(db.Path()) {
		t.Errorf("Path() = %q, want absolute", db.Path())
	}
	fi, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode = %v, want 0600", m)
	}
	if _, err := db.r.ExecContext(t.Context(), `INSERT INTO settings VALUES ('a', 'b')`); err == nil {
		t.Error("reader connection wrote")
	}
}

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "we?ird #dir%20", "hearth.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL beside the database at %s: %v", path, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	db, err := Open(t.Context(), newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(t.Context(), "PRAGMA user_version = 999"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tt := range []struct {
		name, path string
	}{
		{"empty", ""},
		{"memory", ":memory:"},
		{"uri", "file:x.db"},
		{"no directory", filepath.Join(dir, "missing", "hearth.db")},
		{"directory", dir},
		{"newer schema", newer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
		})
	}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hearth.db")
	for i := range 3 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if got := pragma(t, db.w, "user_version"); got != latestVersion(t) {
			t.Errorf("open %d: user_version = %s", i, got)
		}
		if err := db.SetSetting(ctx, fmt.Sprint("k", i), "v"); err != nil {
			t.Fatal(err)
		}
		m, err := db.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != i+1 {
			t.Errorf("open %d: %d settings, want %d", i, len(m), i+1)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Two processes (the server and `hearth user add`) may open a new file at
// the same moment: exactly one of them has it, the others are told that it
// is in use, and none finds it half made.
func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hearth.db")
	var tried, done sync.WaitGroup
	errs := make([]error, 4)
	tried.Add(len(errs))
	for i := range errs {
		done.Go(func() {
			db, err := Open(t.Context(), path)
			errs[i] = err
			tried.Done()
			if err == nil {
				tried.Wait() // hold it until every other Open has tried
				errs[i] = db.Close()
			}
		})
	}
	done.Wait()
	inUse := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrInUse):
			inUse++
		case err != nil:
			t.Error(err)
		}
	}
	if inUse != len(errs)-1 {
		t.Errorf("%d of %d Opens were told the database is in use, want %d", inUse, len(errs), len(errs)-1)
	}
}

func TestMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for _, tt := range []struct {
		name string
		fs   fstest.MapFS
		want int // versions; -1: error
	}{
		{"none", fstest.MapFS{}, 0},
		{"ordered", fstest.MapFS{
			"migrations/0002_b.sql":  file("CREATE TABLE b (x)"),
			"migrations/0001_a.sql":  file("CREATE TABLE a (x)"),
			"migrations/0010_no.txt": file("not sql"),
		}, 2},
		{"gap", fstest.MapFS{
			"migrations/0001_a.sql": file(""),
			"migrations/0003_c.sql": file(""),
		}, -1},
		{"duplicate", fstest.MapFS{
			"migrations/0001_a.sql": file(""),
			"migrations/0001_b.sql": file(""),
		}, -1},
		{"bad name", fstest.MapFS{"migrations/init.sql": file("")}, -1},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file("")}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := migrations(tt.fs)
			if tt.want < 0 {
				if err == nil {
					t.Fatalf("no error, got %d migrations", len(ms))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != tt.want {
				t.Fatalf("%d migrations, want %d", len(ms), tt.want)
			}
			for i, m := range ms {
				if m.version != i+1 {
					t.Errorf("migration %d has version %d", i, m.version)
				}
			}
		})
	}
	// The embedded set must be valid too.
	if _, err := migrations(migrationFS); err != nil {
		t.Fatal(err)
	}
}

// A failing migration leaves the schema as it was: all pending migrations
// run in one transaction.
func TestMigrateRollsBack(t *testing.T) {
	ctx := t.Context()
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": &fstest.MapFile{Data: []byte("CREATE TABLE a (x)")},
		"migrations/0002_b.sql": &fstest.MapFile{Data: []byte("CREATE TABLE b (x); THIS IS NOT SQL")},
	}
	// A fresh file, not the one Open migrated.
	_, w := emptyWriter(t)
	if err := migrate(ctx, w, fsys); err == nil {
		t.Fatal("migrate succeeded")
	}
	if v := pragma(t, w, "user_version"); v != "0" {
		t.Errorf("user_version = %s after failed migration", v)
	}
	var n int
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d tables left by failed migration", n)
	}
}

// otherProgram opens the database at path past its lock, as another
// program using the file (the sqlite3 shell, a backup tool) would.
func otherProgram(t *testing.T, path string) *DB {
	t.Helper()
	db, err := open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// What a call stored is in the file when the call returns, for any other
// connection to read, without Close: as after kill -9.
func TestDurableBeforeClose(t *testing.T) {
	ctx := t.Context()
	a := newDB(t)
	addUser(t, a, "alice")
	id, err := a.StoreOffline(ctx, "alice", "bob@example.org", []byte("<message>hi</message>"), 0)
	if err != nil {
		t.Fatal(err)
	}
	b := otherProgram(t, a.Path()) // while a is still open
	ms, err := b.OfflineFor(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID != id || string(ms[0].Stanza) != "<message>hi</message>" {
		t.Fatalf("second DB reads %+v", ms)
	}
	// And back: the first sees what the second wrote.
	if err := b.DeleteOffline(ctx, "alice", []int64{id}); err != nil {
		t.Fatal(err)
	}
	if n, err := a.CountOffline(ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("first DB counts %d, %v", n, err)
	}
}

// Writers in several goroutines, through Hearth's *DB and another program
// writing the same file, never see SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	a := newDB(t)
	b := otherProgram(t, a.Path())
	addUser(t, a, "alice", "bob")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for i := range 2 * workers {
		db := []*DB{a, b}[i%2]
		wg.Go(func() {
			for j := range each {
				contact := fmt.Sprintf("c%d-%d@example.org", i, j)
				if _, err := db.StoreOffline(ctx, "alice", contact, []byte("<message/>"), 0); err != nil {
					errs <- err
				}
				if _, err := db.PutRosterItem(ctx, "bob", RosterItem{Contact: contact, Groups: []string{"g"}}); err != nil {
					errs <- err
				}
				if _, _, err := db.Roster(ctx, "bob"); err != nil {
					errs <- err
				}
				if err := db.SetSetting(ctx, fmt.Sprint("k", i), fmt.Sprint(j)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := b.CountOffline(ctx, "alice"); err != nil || n != 2*workers*each {
		t.Errorf("CountOffline = %d, %v; want %d", n, err, 2*workers*each)
	}
	items, ver, err := a.Roster(ctx, "bob")
	if err != nil || len(items) != 2*workers*each || ver != 2*workers*each {
		t.Errorf("Roster = %d items, version %d, %v; want %d, %d", len(items), ver, err, 2*workers*each, 2*workers*each)
	}
}

func TestContextCanceled(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := db.SetSetting(ctx, "a", "b"); !errors.Is(err, context.Canceled) {
		t.Errorf("SetSetting = %v, want context.Canceled", err)
	}
	if _, _, err := db.Roster(ctx, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("Roster = %v, want context.Canceled", err)
	}
}

// latestVersion is the schema version of the newest embedded migration.
func latestVersion(t *testing.T) string {
	t.Helper()
	ms, err := migrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(len(ms))
}

// emptyWriter opens the writer's connection to a new empty database file,
// for migrations run by hand; it is closed when the test ends.
func emptyWriter(t testing.TB) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite", dsn(path, writer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}
