package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite: the file holds what was written, with its mode, and no
// temporary file is left beside it; writing again replaces it.
func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	for _, data := range []string{"first", "second, longer"} {
		if err := Write(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if _, err := os.Stat(path + ".new"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left: %v", err)
	}
}

// TestLoadKey: a missing key is made (32 bytes, 0600) and read back the
// same; a short one is refused with what to do.
func TestLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.secret")
	k, err := LoadKey(path, "the x secret", "")
	if err != nil || len(k) != 32 {
		t.Fatalf("made %d bytes, %v", len(k), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if again, err := LoadKey(path, "the x secret", ""); err != nil || string(again) != string(k) {
		t.Fatalf("read back %x, %v; want %x", again, err, k)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(path, "the x secret", " (more)"); err == nil || !strings.Contains(err.Error(), "the x secret "+path+" is too short (5 bytes); remove it, and Hearth makes a new one (more)") {
		t.Fatalf("short key: %v", err)
	}
}
