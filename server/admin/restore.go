package admin

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
	"os"
	"path/filepath"
	"strings"

	"hearth/internal/atomicfile"
	"hearth/storage"
)

// maxManifest bounds the manifest a restore reads into memory.
const maxManifest = 16 << 20

// Restore puts the backup file into dataDir, which must be empty or not
// exist yet, so that nothing is overwritten. Every member is checked
// against the manifest (name, size, SHA-256) before anything is put in
// place, and the database is opened, brought to this version's schema
// and checked; on any failure dataDir is left as it was found. It
// returns what the backup held, and the number of accounts.
func Restore(ctx context.Context, file, dataDir string) (BackupInfo, int, error) {
	info := BackupInfo{Path: file}
	if err := emptyDir(dataDir); err != nil {
		return info, 0, err
	}
	made := false
	if _, err := os.Stat(dataDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return info, 0, fmt.Errorf("make the data directory: %w", err)
		}
		made = true
	}
	stage, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return info, 0, fmt.Errorf("restore into %s: %w", dataDir, err)
	}
	undo := func() {
		if made {
			os.RemoveAll(dataDir)
			return
		}
		entries, _ := os.ReadDir(dataDir)
		for _, e := range entries {
			os.RemoveAll(filepath.Join(dataDir, e.Name()))
		}
	}
	m, got, err := unpack(file, stage)
	if err == nil {
		err = m.check(got)
	}
	if err == nil {
		err = moveIn(stage, dataDir, m)
	}
	os.RemoveAll(stage)
	if err != nil {
		undo()
		return info, 0, err
	}
	users, err := openRestored(ctx, dataDir)
	if err != nil {
		undo()
		return info, 0, err
	}
	fi, _ := os.Stat(file)
	if fi != nil {
		info.Bytes = fi.Size()
	}
	info.Domain, info.Created, info.Files = m.Domain, m.Created, len(m.Files)
	return info, users, nil
}

// emptyDir checks that dir is empty or does not exist.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return invalidf("%s is not empty: a backup is restored only into an empty or new data directory, so that nothing there is overwritten; give --data a new directory (or move this one's contents away first)", dir)
	}
	return nil
}

// unpack writes the backup's members into stage, hashing each, and
// returns the manifest and what was found.
func unpack(file, stage string) (*manifest, map[string]manifestFile, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read the backup: %w", err)
	}
	defer f.Close()
	notBackup := func(why string) error {
		return invalidf("%s is not a whole Hearth backup (%s); was it copied completely?", file, why)
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, notBackup("it is not gzip-compressed")
	}
	tr := tar.NewReader(gz)
	got := map[string]manifestFile{}
	var m *manifest
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, notBackup(err.Error())
		}
		if hdr.Typeflag != tar.TypeReg || !restorable(hdr.Name) {
			return nil, nil, notBackup(fmt.Sprintf("it holds %q, which no backup holds", hdr.Name))
		}
		if _, dup := got[hdr.Name]; dup || (hdr.Name == ManifestName && m != nil) {
			return nil, nil, notBackup(fmt.Sprintf("it holds %q twice", hdr.Name))
		}
		if hdr.Name == ManifestName {
			body, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
			if err != nil || len(body) > maxManifest {
				return nil, nil, notBackup("its manifest cannot be read")
			}
			m = &manifest{}
			if err := json.Unmarshal(body, m); err != nil {
				return nil, nil, notBackup("its manifest cannot be read")
			}
			continue
		}
		if m != nil {
			return nil, nil, notBackup("files follow the manifest")
		}
		src := &readErr{r: tr}
		mf, err := extract(src, hdr.Name, stage)
		if src.err != nil {
			return nil, nil, notBackup(fmt.Sprintf("%s cannot be read: %v", hdr.Name, src.err))
		}
		if err != nil {
			return nil, nil, fmt.Errorf("restore %s: %w", hdr.Name, err)
		}
		got[hdr.Name] = mf
	}
	if m == nil {
		return nil, nil, notBackup("it has no manifest")
	}
	if m.Format > backupFormat {
		return nil, nil, invalidf("%s was made by a newer Hearth (backup format %d); restore it with that version or a later one", file, m.Format)
	}
	return m, got, nil
}

// readErr remembers the error reading the backup, to tell it from one
// writing the data directory.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// extract writes one member under stage and returns its size and hash.
func extract(r io.Reader, name, stage string) (manifestFile, error) {
	dst := filepath.Join(stage, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return manifestFile{}, err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return manifestFile{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return manifestFile{}, err
	}
	return manifestFile{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// check compares what was unpacked with the manifest: the same files,
// sizes and hashes, and a database among them.
func (m *manifest) check(got map[string]manifestFile) error {
	var bad []string
	seen := map[string]bool{}
	for _, want := range m.Files {
		seen[want.Name] = true
		g, ok := got[want.Name]
		switch {
		case !ok:
			bad = append(bad, want.Name+" is missing")
		case g.Size != want.Size || !strings.EqualFold(g.SHA256, want.SHA256):
			bad = append(bad, want.Name+" differs from what was backed up")
		}
	}
	for name := range got {
		if !seen[name] {
			bad = append(bad, name+" is not in the manifest")
		}
	}
	if !seen[backupDB] {
		bad = append(bad, "it holds no database")
	}
	if len(bad) > 0 {
		return invalidf("the backup is damaged: %s; nothing was restored", strings.Join(bad, "; "))
	}
	return nil
}

// moveIn renames the staged files into dataDir.
func moveIn(stage, dataDir string, m *manifest) error {
	for _, f := range m.Files {
		src := filepath.Join(stage, filepath.FromSlash(f.Name))
		dst := filepath.Join(dataDir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("restore %s: %w", f.Name, err)
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("restore %s: %w", f.Name, err)
		}
	}
	_ = atomicfile.SyncDir(dataDir)
	return nil
}

// openRestored opens the restored database (which brings it to this
// version's schema), checks it and counts its accounts.
func openRestored(ctx context.Context, dataDir string) (int, error) {
	db, err := storage.Open(ctx, filepath.Join(dataDir, backupDB))
	if err != nil {
		return 0, fmt.Errorf("the restored database does not open: %w", err)
	}
	defer db.Close()
	problems, err := db.QuickCheck(ctx)
	if err != nil {
		return 0, err
	}
	if len(problems) > 0 {
		return 0, invalidf("the restored database is damaged (%s); nothing was restored", strings.Join(problems, "; "))
	}
	users, err := db.Users(ctx)
	if err != nil {
		return 0, err
	}
	return len(users), nil
}
