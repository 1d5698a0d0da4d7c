package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sampleDB returns the path of a closed database with an account and some
// messages: a file of many pages, as a family's would be.
func sampleDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hearth.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice")
	for i := range 100 {
		body := fmt.Sprintf("<message><body>%d %s</body></message>", i, strings.Repeat("x", 1000))
		if _, err := db.StoreOffline(t.Context(), "alice", "bob@example.org", []byte(body), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenDamaged: a database file that is not whole is refused with
// ErrDamaged, a message that says what is wrong and how to restore, and is
// left exactly as it was.
func TestOpenDamaged(t *testing.T) {
	sample := sampleDB(t)
	whole, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	junkPage1 := bytes.Clone(whole)
	copy(junkPage1[100:4096], bytes.Repeat([]byte{0xff}, 4096))
	for _, tt := range []struct {
		name string
		file []byte // nil: no hearth.db
		wal  []byte // hearth.db-wal, if any
		want string
	}{
		{name: "empty", file: []byte{}, want: "is empty (0 bytes)"},
		{name: "not SQLite", file: []byte("name,password\nalice,secret\n"), want: "is not a Hearth database"},
		{name: "short header", file: whole[:50], want: "is truncated: it has 50 bytes, less than a database header"},
		{name: "truncated", file: whole[:len(whole)/2], want: fmt.Sprintf("is truncated: it has %d of its %d bytes", len(whole)/2, len(whole))},
		{name: "damaged schema", file: junkPage1, want: "is damaged"},
		{name: "log without database", wal: bytes.Repeat([]byte{1}, 4096), want: "is missing, but its write-ahead log"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hearth.db")
			if tt.file != nil {
				if err := os.WriteFile(path, tt.file, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wal != nil {
				if err := os.WriteFile(path+"-wal", tt.wal, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(t.Context(), path)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			t.Log(err)
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("error does not wrap ErrDamaged")
			}
			for _, s := range []string{tt.want, "Hearth will not start on it", "put your backup in place of " + path, "aside"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message without %q", s)
				}
			}
			got, err := os.ReadFile(path)
			if tt.file == nil {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a database was made beside the log: %v", err)
				}
			} else if err != nil || !bytes.Equal(got, tt.file) {
				t.Errorf("the file changed: %d bytes, was %d (%v)", len(got), len(tt.file), err)
			}
			if _, err := os.Stat(path + newSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s left behind: %v", path+newSuffix, err)
			}
		})
	}
}

// TestOpenNew: a new database is built beside its place and renamed into
// it; what a crash left of an earlier attempt does not get in the way.
func TestOpenNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hearth.db")
	for name, b := range map[string][]byte{
		path + newSuffix:          []byte("half a database"),
		path + newSuffix + "-wal": bytes.Repeat([]byte{1}, 4096),
		path + "-wal":             make([]byte, walHeaderSize), // a log without frames says nothing
	} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "hearth.db hearth.db.lock" {
		t.Errorf("directory holds %q, want the database and its lock file", names)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database: %v, %v; want mode 0600", fi, err)
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.UserExists(t.Context(), "alice"); !ok || err != nil {
		t.Errorf("alice after reopening: %v, %v", ok, err)
	}
}

// TestQuickCheck: a sound database has no problems; one with a damaged
// page, which opens, has some.
func TestQuickCheck(t *testing.T) {
	path := sampleDB(t)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := db.QuickCheck(t.Context()); problems != nil || err != nil {
		t.Errorf("sound database: %q, %v", problems, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := len(b) - 4096
	copy(b[last:], bytes.Repeat([]byte{0xff}, 4096))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	problems, err := db.QuickCheck(t.Context())
	if len(problems) == 0 || err != nil {
		t.Errorf("damaged page: %q, %v; want problems", problems, err)
	}
	t.Logf("problems: %q", problems)
}
