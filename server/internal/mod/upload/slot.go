package upload

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hearth/internal/atomicfile"
)

// secretFile holds the key slot URLs are signed with, in the data
// directory (0600), kept across restarts; removing it ends every slot not
// yet used (stored files stay reachable: their URLs carry no signature).
const secretFile = "upload.secret"

// slotLen is the length of a slot's name: 128 random bits in hex.
const slotLen = 32

// newSlot returns a fresh random slot name.
func newSlot() string {
	var b [slotLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// validSlot reports whether s is a slot name as newSlot makes them: the
// only thing from a URL that becomes part of a path on disk.
func validSlot(s string) bool {
	if len(s) != slotLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// loadSecret reads the signing key from dir, making it on first use; with
// no dir, a key for this process.
func loadSecret(dir string) ([]byte, error) {
	if dir == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		return key, nil
	}
	return atomicfile.LoadKey(filepath.Join(dir, secretFile), "the upload key", " (open upload slots end; stored files stay)")
}

// putClaim is what a PUT URL promises: this slot, of this size and type,
// until then.
type putClaim struct {
	Slot        string
	Size        int64
	ContentType string
	Expires     time.Time
}

// sign returns the claim's signature, base64url.
func sign(key []byte, c putClaim) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "hearth upload put\n%s\n%d\n%s\n%d", c.Slot, c.Size, c.ContentType, c.Expires.Unix())
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// query is the PUT URL's query: the expiry and the signature.
func query(key []byte, c putClaim) string {
	return "expires=" + strconv.FormatInt(c.Expires.Unix(), 10) + "&sig=" + sign(key, c)
}

// errBadURL and errExpired are why a PUT URL is refused (403).
var (
	errBadURL  = errors.New("this upload address is not one the server gave out, or it was changed")
	errExpired = errors.New("this upload address has expired; ask for a new one")
)

// parsePut reads a PUT URL's path (escaped, as sent) and query: the slot
// and the claimed expiry and signature. It checks only the form; verify
// checks the signature against the slot's record.
func parsePut(escapedPath, rawQuery string) (slot string, expires time.Time, sig string, err error) {
	slot, ok := parsePath(escapedPath)
	if !ok {
		return "", time.Time{}, "", errBadURL
	}
	q, qerr := url.ParseQuery(rawQuery)
	if qerr != nil || len(q["expires"]) != 1 || len(q["sig"]) != 1 {
		return "", time.Time{}, "", errBadURL
	}
	sec, perr := strconv.ParseInt(q.Get("expires"), 10, 64)
	if perr != nil || sec <= 0 || sec > 1<<40 {
		return "", time.Time{}, "", errBadURL
	}
	sig = q.Get("sig")
	if len(sig) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return "", time.Time{}, "", errBadURL
	}
	return slot, time.Unix(sec, 0), sig, nil
}

// parsePath takes the slot out of /upload/<slot>/<name> (escaped, as
// sent). The name is the client's and only decorates the URL; the slot
// must be one newSlot could have made, so no path outside the store can
// ever be named.
func parsePath(escaped string) (string, bool) {
	rest, ok := strings.CutPrefix(escaped, pathPrefix)
	if !ok {
		return "", false
	}
	slot, name, ok := strings.Cut(rest, "/")
	if !ok || !validSlot(slot) || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return slot, true
}

// verify checks a PUT URL's claim against its slot's record at now.
func verify(key []byte, c putClaim, sig string, now time.Time) error {
	want := sign(key, c)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errBadURL
	}
	if now.After(c.Expires) {
		return errExpired
	}
	return nil
}
