package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOpenInUse: while a database is open, a second Open of it is refused
// with ErrInUse and a message naming the holder; after Close it opens.
func TestOpenInUse(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "hearth.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	lockPath := path + lockSuffix
	fi, err := os.Stat(lockPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v; want mode 0600", fi, err)
	}
	pid := strconv.Itoa(os.Getpid())
	if b, err := os.ReadFile(lockPath); err != nil || string(b) != pid+"\n" {
		t.Errorf("lock file holds %q, %v; want the pid %s", b, err, pid)
	}

	b, err := Open(ctx, path)
	if err == nil {
		b.Close()
		t.Fatal("second Open succeeded")
	}
	t.Log(err)
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second Open: error does not wrap ErrInUse")
	}
	for _, s := range []string{"another Hearth", "process " + pid, dir} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message without %q", s)
		}
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(lockPath); err != nil || len(b) != 0 {
		t.Errorf("lock file after Close holds %q, %v; want it empty", b, err)
	}
	b, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer b.Close()
	// Closing a again releases nothing of b's.
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, err := Open(ctx, path); !errors.Is(err, ErrInUse) {
		if err == nil {
			c.Close()
		}
		t.Errorf("Open after the first DB's second Close: %v, want ErrInUse", err)
	}
}

// TestWaitReleased: WaitReleased waits while the database is open and
// returns once it is closed; ctx bounds the wait.
func TestWaitReleased(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "hearth.db")
	if err := WaitReleased(ctx, path); err != nil {
		t.Errorf("WaitReleased on a database never opened: %v", err)
	}
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := WaitReleased(short, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReleased while open: %v, want the deadline", err)
	}
	released := make(chan error, 1)
	go func() { released <- WaitReleased(ctx, path) }()
	select {
	case err := <-released:
		t.Fatalf("WaitReleased returned while the database is open: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-released:
		if err != nil {
			t.Errorf("WaitReleased after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitReleased still waiting 5s after Close")
	}
	// The wait took no lock that a new Open would trip over.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open after WaitReleased: %v", err)
	}
	db.Close()
}
