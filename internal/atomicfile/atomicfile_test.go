package atomicfile

import (
	"os"
	"path/filepath"
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
