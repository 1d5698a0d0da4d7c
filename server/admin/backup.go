package admin

// Backups: one file (a gzipped tar) that holds all a server needs to start
// again somewhere else: a snapshot of the database, the certificates and
// the home CA, the secrets, and the uploaded files. Its last member,
// MANIFEST.json, lists every other with its size and SHA-256; a restore
// checks each against it before anything is put in place.

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"hearth/internal/atomicfile"
	"hearth/server/settings"
)

// BackupInfo describes a backup file.
type BackupInfo struct {
	Path    string
	Domain  string
	Created time.Time
	Files   int   // members besides the manifest
	Bytes   int64 // the backup file's size
}

// Size is the backup file's size as people read it.
func (b BackupInfo) Size() string { return ByteSize(b.Bytes) }

// ByteSize writes a byte count as people read it: 512 bytes, 3.4 KiB,
// 1.2 GiB.
func ByteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// backupFormat is the version of the layout below; a restore refuses a
// newer one.
const backupFormat = 1

// ManifestName is the backup's last member.
const ManifestName = "MANIFEST.json"

// backupDB is the database's name in a backup and in the data directory.
const backupDB = "hearth.db"

type manifest struct {
	Format  int            `json:"format"`
	Domain  string         `json:"domain"`
	Created time.Time      `json:"created"`
	Files   []manifestFile `json:"files"`
}

type manifestFile struct {
	Name   string `json:"name"` // slash-separated, relative to the data directory
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// BackupName is the name a backup made at t gets in a folder: sorted by
// name, backups are sorted by age.
func BackupName(domain string, t time.Time) string {
	return "hearth-" + domain + "-" + t.UTC().Format("20060102-150405") + ".tar.gz"
}

// Backup asks the running server for a backup (see API.Backup).
func (c *Client) Backup(ctx context.Context, file string) (BackupInfo, error) {
	var v BackupInfo
	err := c.call(ctx, "Backup", request{Path: file}, &v)
	return v, err
}

// backedUp reports whether the data directory's file rel (slash-separated)
// belongs in a backup: the certificates and CA (tls/, without certmagic's
// lock files), the secrets (*.secret) and uploaded files (uploads/, not
// those still being uploaded). The
// database goes in as a snapshot; the lock, the socket and the backups
// folder stay out.
func backedUp(rel string) bool {
	switch {
	case strings.HasPrefix(rel, "tls/"):
		return !strings.HasSuffix(rel, ".lock") && !strings.Contains(rel, "/locks/")
	case strings.HasPrefix(rel, "uploads/"):
		return !strings.HasPrefix(rel, "uploads/tmp/") // uploads under way: gone at the next start
	}
	return !strings.Contains(rel, "/") && strings.HasSuffix(rel, ".secret")
}

// BackupFolder is where the server's backups go: the setting backup.dir,
// else the folder backups in the data directory.
func (l *Local) BackupFolder(ctx context.Context) (string, error) {
	v, err := l.Values(ctx)
	if err != nil {
		return "", err
	}
	if d := v.String(settings.KeyBackupDir); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(l.DataDir, d)
		}
		return d, nil
	}
	return filepath.Join(l.DataDir, "backups"), nil
}

// Backup writes a backup of the server to file, an absolute path: a new
// file, or a folder to make one in (named by BackupName); "" is the
// BackupFolder. The database is copied as it stands when Backup begins,
// while the server goes on.
func (l *Local) Backup(ctx context.Context, file string) (BackupInfo, error) {
	now := time.Now().UTC()
	if file == "" {
		dir, err := l.BackupFolder(ctx)
		if err != nil {
			return BackupInfo{}, err
		}
		file = filepath.Join(dir, BackupName(l.domain(), now)) // the folder is made below
	}
	if !filepath.IsAbs(file) {
		return BackupInfo{}, invalidf("the backup file %q must be an absolute path", file)
	}
	if fi, err := os.Stat(file); err == nil && fi.IsDir() {
		file = filepath.Join(file, BackupName(l.domain(), now))
	}
	if _, err := os.Lstat(file); err == nil {
		return BackupInfo{}, &kindError{msg: fmt.Sprintf("%s exists already: give the backup another name, or remove the old file first", file), kind: ErrExists}
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return BackupInfo{}, fmt.Errorf("make the folder for the backup: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".hearth-backup-")
	if err != nil {
		return BackupInfo{}, fmt.Errorf("write the backup in %s: %w", dir, err)
	}
	defer os.RemoveAll(work)
	snap := filepath.Join(work, backupDB)
	if err := l.DB.Snapshot(ctx, snap); err != nil {
		return BackupInfo{}, err
	}
	part := filepath.Join(work, "backup.part")
	m := manifest{Format: backupFormat, Domain: l.domain(), Created: now}
	if err := writeBackup(part, snap, l.DataDir, &m); err != nil {
		return BackupInfo{}, err
	}
	if err := os.Rename(part, file); err != nil {
		return BackupInfo{}, fmt.Errorf("put the backup in place: %w", err)
	}
	_ = atomicfile.SyncDir(dir)
	fi, err := os.Stat(file)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{Path: file, Domain: m.Domain, Created: now, Files: len(m.Files), Bytes: fi.Size()}, nil
}

// writeBackup writes the backup to part: the snapshot, the data
// directory's files that belong in it, then the manifest; synced.
func writeBackup(part, snap, dataDir string, m *manifest) (err error) {
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write the backup: %w", cerr)
		}
	}()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	add := func(name, src string) error {
		mf, err := addFile(tw, name, src)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, mf)
		return nil
	}
	if err := add(backupDB, snap); err != nil {
		return err
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, rerr := filepath.Rel(dataDir, p)
		if rerr != nil || rel == "." {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "backups" || strings.HasPrefix(d.Name(), ".hearth-backup-") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !backedUp(rel) {
			return nil
		}
		return add(rel, p)
	})
	if err != nil {
		return fmt.Errorf("back up the data directory %s: %w", dataDir, err)
	}
	body, _ := json.MarshalIndent(m, "", "  ")
	hdr := &tar.Header{Name: ManifestName, Mode: 0o600, Size: int64(len(body)), ModTime: m.Created, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	if _, err := tw.Write(body); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	if err := errors.Join(tw.Close(), gz.Close(), f.Sync()); err != nil {
		return fmt.Errorf("write the backup: %w", err)
	}
	return nil
}

// addFile writes the file src to tw as name and returns its manifest
// entry.
func addFile(tw *tar.Writer, name, src string) (manifestFile, error) {
	f, err := os.Open(src)
	if err != nil {
		return manifestFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return manifestFile{}, err
	}
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return manifestFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(f, fi.Size()))
	if err != nil {
		return manifestFile{}, err
	}
	if n != fi.Size() {
		return manifestFile{}, fmt.Errorf("%s changed size while it was being backed up", src)
	}
	return manifestFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// restorable reports whether a backup member's name is one a restore
// writes: slash-separated, relative, inside the data directory, and of a
// kind backups hold.
func restorable(name string) bool {
	if name == "" || strings.Contains(name, "\\") || path.Clean(name) != name || !filepath.IsLocal(filepath.FromSlash(name)) {
		return false
	}
	return name == backupDB || name == ManifestName || backedUp(name)
}
