// Package atomicfile writes small files that must be whole after a crash:
// secrets and certificates in the data directory.
package atomicfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Write writes data to a new file beside path, syncs it, renames it into
// place and syncs the directory: after a crash, path holds the old
// content or the new, whole, and the rename is durable.
func Write(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the renames in dir durable. Windows cannot sync a
// directory.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// LoadKey reads the secret key at path, making it the first time: 32
// random bytes, mode 0600, written whole or not at all. A file under 16
// bytes is refused. what names the key in errors ("the dialback
// secret"); short is added to the refusal of a short one (what removing
// it costs).
func LoadKey(path, what, short string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
		if err = Write(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("keep %s in %s: %w", what, path, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("%s %s is too short (%d bytes); remove it, and Hearth makes a new one%s", what, path, len(key), short)
	}
	return key, nil
}
