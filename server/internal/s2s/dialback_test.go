package s2s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDialbackKey: the example of XEP-0185 section 3 gives the key it
// shows; any change of name, stream or secret gives another.
func TestDialbackKey(t *testing.T) {
	d := newDialback([]byte("s3cr3tf0rd14lb4ck"))
	const want = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"
	if got := d.Key("xmpp.example.com", "example.org", "D60000229F"); got != want {
		t.Fatalf("key %s, want XEP-0185's %s", got, want)
	}
	if !d.Valid(want, "xmpp.example.com", "example.org", "D60000229F") {
		t.Error("the right key is not valid")
	}
	for _, c := range [][3]string{
		{"example.org", "xmpp.example.com", "D60000229F"}, // the directions swapped
		{"xmpp.example.com", "evil.example", "D60000229F"},
		{"xmpp.example.com", "example.org", "D60000229G"},
	} {
		if d.Valid(want, c[0], c[1], c[2]) {
			t.Errorf("the key is valid for %v too", c)
		}
	}
	if newDialback([]byte("another secret!!")).Valid(want, "xmpp.example.com", "example.org", "D60000229F") {
		t.Error("another secret makes the same key")
	}
}

// TestLoadDialback: the secret is made once, private, and kept across
// loads; one too short is refused with what to do.
func TestLoadDialback(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadDialback(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, dialbackFile))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	b, err := LoadDialback(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Key("b.example", "a.example", "s1") != b.Key("b.example", "a.example", "s1") {
		t.Error("a second load makes other keys: keys handed out before a restart would fail after it")
	}
	os.WriteFile(filepath.Join(dir, dialbackFile), []byte("short"), 0o600)
	if _, err := LoadDialback(dir); err == nil || !strings.Contains(err.Error(), "remove it, and Hearth makes a new one") {
		t.Errorf("short secret: %v", err)
	}
}
