package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"hearth/internal/atomicfile"
	"hearth/storage"
)

// Store is the files on disk: <data>/uploads/files/<ab>/<slot>, where slot
// is a random name newSlot made (checked by validSlot before it becomes a
// path); PUTs are written to <data>/uploads/tmp and renamed into place
// when whole.
type Store struct {
	dir string
}

// OpenStore opens the store in the data directory, making it if needed,
// and removes what PUTs cut off by the last stop left in its tmp.
func OpenStore(dataDir string) (*Store, error) {
	if dataDir == "" {
		d, err := os.MkdirTemp("", "hearth-uploads-")
		if err != nil {
			return nil, fmt.Errorf("upload store: %w", err)
		}
		dataDir = d
	}
	s := StoreIn(dataDir)
	_ = os.RemoveAll(s.tmp())
	for _, d := range []string{s.dir, filepath.Join(s.dir, "files"), s.tmp()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("upload store: %w", err)
		}
	}
	return s, nil
}

// StoreIn is the store in the data directory as it is, for purges by
// the admin commands while no server runs.
func StoreIn(dataDir string) *Store {
	return &Store{dir: filepath.Join(dataDir, "uploads")}
}

func (s *Store) tmp() string { return filepath.Join(s.dir, "tmp") }

// path is where slot's file is; slot must be valid.
func (s *Store) path(slot string) string {
	if !validSlot(slot) {
		panic("upload: path of an invalid slot name") // a caller skipped validSlot
	}
	return filepath.Join(s.dir, "files", slot[:2], slot)
}

// Open opens slot's stored file.
func (s *Store) Open(slot string) (*os.File, error) {
	if !validSlot(slot) {
		return nil, os.ErrNotExist
	}
	return os.Open(s.path(slot))
}

// errSize: the body was not the size announced.
var errSize = errors.New("the upload is not the size that was announced")

// Put writes exactly size bytes from r as slot's file: into a temporary
// file, synced, then renamed into place; never whole in memory. A body
// shorter or longer than size leaves nothing behind (errSize).
func (s *Store) Put(slot string, size int64, r io.Reader) error {
	if !validSlot(slot) {
		return errBadURL
	}
	f, err := os.CreateTemp(s.tmp(), slot+".*")
	if err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return errSize
	}
	// One byte more means the body is longer than announced.
	var one [1]byte
	if m, _ := io.ReadFull(r, one[:]); m > 0 {
		return errSize
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	final := s.path(slot)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("upload store: %w", err)
	}
	ok = true
	_ = atomicfile.SyncDir(filepath.Dir(final))
	return nil
}

// remove deletes slot's file, if there is one.
func (s *Store) remove(slot string) error {
	if !validSlot(slot) {
		return nil
	}
	if err := os.Remove(s.path(slot)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Purge deletes files and their records: user's ("" for everyone's),
// only the expired ones (and those of deleted accounts) when expired is
// set. It returns how many files and bytes went.
func (s *Store) Purge(ctx context.Context, db *storage.DB, user string, expired bool, now time.Time) (int, int64, error) {
	var list []storage.Upload
	var err error
	if expired {
		list, err = db.DeadUploads(ctx, now, 1<<20)
	} else {
		list, err = db.Uploads(ctx, user)
	}
	if err != nil {
		return 0, 0, err
	}
	var n int
	var bytes int64
	var errs []error
	for _, u := range list {
		if user != "" && u.User != user {
			continue
		}
		if err := s.remove(u.Slot); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := db.DeleteUpload(ctx, u.Slot); err != nil {
			errs = append(errs, err)
			continue
		}
		if u.State == storage.UploadStored {
			n++
			bytes += u.Size
		}
	}
	return n, bytes, errors.Join(errs...)
}

// Sweep deletes files that have no record (a backup restored with files
// newer than its database, a crash between a purge's two steps); a
// file being put has its record already. It returns how many went.
func (s *Store) Sweep(ctx context.Context, db *storage.DB) (int, error) {
	dirs, err := os.ReadDir(filepath.Join(s.dir, "files"))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, d := range dirs {
		files, err := os.ReadDir(filepath.Join(s.dir, "files", d.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			slot := f.Name()
			if !validSlot(slot) || slot[:2] != d.Name() {
				continue
			}
			_, err := db.UploadOf(ctx, slot)
			if !errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err := s.remove(slot); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}
