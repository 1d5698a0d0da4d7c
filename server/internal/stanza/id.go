package stanza

import (
	"crypto/rand"
	"encoding/hex"
)

// RandomID returns n random bytes in hex: stream ids (RFC 6120 4.7.3),
// stanza ids and item ids that nobody can guess.
func RandomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
