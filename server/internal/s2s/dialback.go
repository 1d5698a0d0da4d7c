package s2s

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"hearth/internal/atomicfile"
)

// dialbackFile holds the secret dialback keys are made from, in the data
// directory: kept across restarts, so that a key this server handed out
// just before a restart still checks out just after it.
const dialbackFile = "dialback.secret"

// Dialback makes and checks server dialback keys (XEP-0220) as XEP-0185
// recommends: HMAC-SHA256 keyed with the hex SHA-256 of a secret of this
// server's, over "receiving originating streamID", in hex. Only this
// server can make a key for its own streams; the receiving server asks it
// to check one (db:verify) and learns nothing that lets it make another.
type Dialback struct {
	key []byte // hex SHA-256 of the secret, as XEP-0185's HMAC key
}

// LoadDialback reads the secret from dir, making one on first use (32
// random bytes, mode 0600, written whole or not at all).
func LoadDialback(dir string) (*Dialback, error) {
	path := filepath.Join(dir, dialbackFile)
	secret, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret = make([]byte, 32)
		rand.Read(secret) // never fails (crypto/rand)
		if err = atomicfile.Write(path, secret, 0o600); err != nil {
			return nil, fmt.Errorf("federation: keep the dialback secret in %s: %w", path, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("federation: read the dialback secret %s: %w", path, err)
	}
	if len(secret) < 16 {
		return nil, fmt.Errorf("federation: the dialback secret %s is too short (%d bytes); remove it, and Hearth makes a new one", path, len(secret))
	}
	return newDialback(secret), nil
}

// NewDialback returns a Dialback with a secret kept in memory only (a
// server without a data directory: keys do not outlive it).
func NewDialback() *Dialback {
	secret := make([]byte, 32)
	rand.Read(secret)
	return newDialback(secret)
}

func newDialback(secret []byte) *Dialback {
	sum := sha256.Sum256(secret)
	return &Dialback{key: []byte(hex.EncodeToString(sum[:]))}
}

// Key is the dialback key for a stream this server (originating) opened
// to receiving, with the stream ID receiving gave it.
func (d *Dialback) Key(receiving, originating, streamID string) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(receiving + " " + originating + " " + streamID))
	return hex.EncodeToString(m.Sum(nil))
}

// Valid says whether key is the one Key gives for these names and stream,
// in time that does not depend on where a wrong key differs.
func (d *Dialback) Valid(key, receiving, originating, streamID string) bool {
	return hmac.Equal([]byte(key), []byte(d.Key(receiving, originating, streamID)))
}
