// Package atomicfile writes small files that must be whole after a crash:
// secrets and certificates in the data directory.
package atomicfile

import (
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
