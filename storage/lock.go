package storage

// One process per database: Open locks a file beside the database before
// SQLite sees it, and Close releases it. The lock is flock(2) (LockFileEx on
// Windows): the kernel drops it when the process dies, so a crash leaves
// nothing to clean up.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrInUse: another process (a running server, or a hearth command that
// opened the database itself) holds the database's lock.
var ErrInUse = errors.New("data directory in use")

// lockSuffix names the lock file: hearth.db.lock beside hearth.db.
const lockSuffix = ".lock"

// inUseError says who holds the lock, as far as the lock file tells.
type inUseError struct {
	dir string
	pid int // 0: unknown
}

func (e *inUseError) Error() string {
	who := "a running server or another hearth command"
	if e.pid > 0 {
		who += ", process " + strconv.Itoa(e.pid)
	}
	return fmt.Sprintf("another Hearth (%s) is using the data directory %s", who, e.dir)
}

func (e *inUseError) Unwrap() error { return ErrInUse }

// lock takes the lock of the database at the absolute path abs without
// waiting. If another process holds it, the error wraps ErrInUse.
func lock(abs string) (*flock.Flock, error) {
	path := abs + lockSuffix
	l := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		err = pe.Err // the message names the path already
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, &inUseError{dir: filepath.Dir(abs), pid: holder(path)}
	}
	// The pid is for the message another process shows, and for
	// nothing else: it may be stale or missing. A failure to write it
	// costs only that.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	return l, nil
}

// holder returns the pid written in the lock file at path, or 0.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// unlock empties the lock file of its pid and releases l. It does nothing
// once l is released (or for nil), so that a second Close cannot empty a
// lock file that another process holds by then.
func unlock(l *flock.Flock) error {
	if l == nil || !l.Locked() {
		return nil
	}
	_ = os.Truncate(l.Path(), 0) // only the pid, for messages
	if err := l.Unlock(); err != nil {
		return fmt.Errorf("unlock %s: %w", l.Path(), err)
	}
	return nil
}

// WaitReleased waits until no process holds the lock of the database at
// path (the server that had it open has exited), or ctx is done. It holds
// a shared lock for an instant to find out: a server starting at that
// very moment may be told the data directory is in use.
func WaitReleased(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	l := flock.New(abs+lockSuffix, flock.SetFlag(os.O_RDONLY))
	if _, err := os.Stat(l.Path()); errors.Is(err, fs.ErrNotExist) {
		return nil // never opened
	}
	ok, err := l.TryRLockContext(ctx, 50*time.Millisecond)
	if err != nil {
		return fmt.Errorf("wait for %s: %w", l.Path(), err)
	}
	if ok {
		return l.Unlock()
	}
	return ctx.Err()
}
