package admin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataFiles puts what a data directory holds besides the database into
// l's: the CA, certmagic's files and locks, the secrets, an upload, and
// things a backup leaves out.
func dataFiles(t *testing.T, l *Local) map[string]string {
	t.Helper()
	in := map[string]string{
		"tls/ca.pem":                          "CA CERT",
		"tls/ca-key.pem":                      "CA KEY",
		"tls/local/certificates/x/x.crt":      "LEAF",
		"dialback.secret":                     "dialback",
		"fast.secret":                         "fast",
		"uploads/ab/cd/photo.jpg":             strings.Repeat("jpeg", 1000),
		"uploads/tmp/partial":                 "half a file",
		"tls/local/locks/issue_cert_x.lock":   "lock",
		"backups/hearth-old.tar.gz":           "old backup",
		"notes.txt":                           "not ours",
		"tls/local/certificates/x/issue.lock": "lock",
	}
	for name, body := range in {
		p := filepath.Join(l.DataDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// TestBackupRestore: a backup made over the admin socket holds the
// database and the files that belong in one (not locks, old backups or
// strangers); it restores into a new directory, where the accounts and
// the files are back, byte for byte, and mode 0600.
func TestBackupRestore(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	for _, u := range []string{"alice", "bob"} {
		if err := l.AddUser(ctx, u, "silver-kettle-pw-9"); err != nil {
			t.Fatal(err)
		}
	}
	files := dataFiles(t, l)
	api := serve(t, l)

	if _, err := api.Backup(ctx, "relative.tar.gz"); !errors.Is(err, ErrInvalid) {
		t.Errorf("a relative path: %v, want ErrInvalid", err)
	}
	out := t.TempDir()
	info, err := api.Backup(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(info.Path) != out || !strings.HasPrefix(filepath.Base(info.Path), "hearth-"+domain+"-") || info.Domain != domain || info.Bytes == 0 {
		t.Errorf("backup info %+v", info)
	}
	if fi, err := os.Stat(info.Path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v %v", fi, err)
	}
	if _, err := api.Backup(ctx, info.Path); !errors.Is(err, ErrExists) {
		t.Errorf("a backup over another: %v, want ErrExists", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".hearth-backup-*")); len(leftovers) > 0 {
		t.Errorf("work files left: %v", leftovers)
	}

	dst := filepath.Join(t.TempDir(), "new")
	got, users, err := Restore(ctx, info.Path, dst)
	if err != nil {
		t.Fatal(err)
	}
	if users != 2 || got.Domain != domain || got.Files != info.Files {
		t.Errorf("restored %d users, info %+v (backup %+v)", users, got, info)
	}
	for name, body := range files {
		b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(name)))
		want := strings.HasPrefix(name, "tls/ca") || strings.HasSuffix(name, ".secret") || strings.HasPrefix(name, "uploads/ab") || name == "tls/local/certificates/x/x.crt"
		switch {
		case want && (err != nil || string(b) != body):
			t.Errorf("%s restored as %q, %v", name, b, err)
		case !want && err == nil:
			t.Errorf("%s was restored; a backup leaves it out", name)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "tls", "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored key: %v %v", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dst, ".restore-*")); len(left) > 0 {
		t.Errorf("restore left %v", left)
	}

	// Never over anything.
	if _, _, err := Restore(ctx, info.Path, dst); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a restore into a used directory: %v", err)
	}
}

// TestRestoreRefuses: a damaged, truncated, tampered or hostile backup is
// refused with a plain reason, and leaves the directory as it was.
func TestRestoreRefuses(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	dataFiles(t, l)
	info, err := l.Backup(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	members := readMembers(t, good)

	for _, tc := range []struct {
		name, want string
		backup     []byte
	}{
		{"truncated", "not a whole Hearth backup", good[:len(good)/2]},
		{"not gzip", "not gzip", []byte("hello")},
		{"a member changed", "differs from what was backed up", rewrite(t, members, func(m *member) { m.body = append([]byte(nil), m.body...); m.body[0] ^= 1 }, "tls/ca.pem")},
		{"a member dropped", "is missing", rewrite(t, members, nil, "fast.secret")},
		{"no manifest", "no manifest", rewrite(t, members, nil, ManifestName)},
		{"a path outside", `"../evil"`, appendMember(t, members, "../evil")},
		{"an absolute path", `"/etc/evil"`, appendMember(t, members, "/etc/evil")},
		{"a stranger", `"notes.txt"`, appendMember(t, members, "notes.txt")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "b.tar.gz")
			if err := os.WriteFile(file, tc.backup, 0o600); err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			_, _, err := Restore(ctx, file, dst)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalid saying %q", err, tc.want)
			}
			if left, _ := os.ReadDir(dst); len(left) > 0 {
				t.Errorf("the refused restore left %v", left)
			}
		})
	}
}

type member struct {
	name string
	body []byte
}

func readMembers(t *testing.T, b []byte) []member {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, member{h.Name, body})
	}
}

func writeMembers(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o600, Size: int64(len(m.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// rewrite changes (or, with change nil, drops) the member named name.
func rewrite(t *testing.T, ms []member, change func(*member), name string) []byte {
	var out []member
	for _, m := range ms {
		if m.name == name {
			if change == nil {
				continue
			}
			change(&m)
		}
		out = append(out, m)
	}
	return writeMembers(t, out)
}

// appendMember puts a member named name before the manifest.
func appendMember(t *testing.T, ms []member, name string) []byte {
	out := append([]member(nil), ms[:len(ms)-1]...)
	out = append(out, member{name, []byte("x")}, ms[len(ms)-1])
	return writeMembers(t, out)
}

// FuzzRestore: whatever the file, Restore fails cleanly (leaving the
// directory empty) or restores a backup whose every member checked out.
func FuzzRestore(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	var tiny bytes.Buffer
	gz := gzip.NewWriter(&tiny)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o600, Size: 2, Typeflag: tar.TypeReg})
	tw.Write([]byte("{}"))
	tw.Close()
	gz.Close()
	f.Add(tiny.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		file := filepath.Join(t.TempDir(), "b.tar.gz")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		dst := t.TempDir()
		if _, _, err := Restore(t.Context(), file, dst); err != nil {
			if left, _ := os.ReadDir(dst); len(left) > 0 {
				t.Errorf("a failed restore (%v) left %v", err, left)
			}
		}
	})
}
