package storage

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"golang.org/x/text/secure/precis"
)

// Credentials are the keys SCRAM (RFC 5802 3) needs to authenticate a user
// with one hash function; the password itself is never stored.
type Credentials struct {
	Salt      []byte
	Iters     int
	StoredKey []byte // H(ClientKey)
	ServerKey []byte // HMAC(SaltedPassword, "Server Key")
}

// Parameters of the credentials NewCredentials derives. Iterations is
// exported so that the decoy credentials of unknown names (c2s) cost and
// look the same.
const (
	saltLen    = 16
	Iterations = 4096 // RFC 7677 4: at least 4096
)

// NewCredentials derives SCRAM-SHA-1 and SCRAM-SHA-256 credentials from
// password, each with its own random salt. The password must already be
// prepared by the caller with the PRECIS OpaqueString profile (RFC 8265 4.2),
// as SCRAM clients prepare theirs (RFC 7677 4).
func NewCredentials(password string) (sha1c, sha256c Credentials, err error) {
	sha1c, err = derive(password, sha1.New)
	if err != nil {
		return Credentials{}, Credentials{}, fmt.Errorf("derive SCRAM-SHA-1 credentials: %w", err)
	}
	sha256c, err = derive(password, sha256.New)
	if err != nil {
		return Credentials{}, Credentials{}, fmt.Errorf("derive SCRAM-SHA-256 credentials: %w", err)
	}
	return sha1c, sha256c, nil
}

func derive(password string, h func() hash.Hash) (Credentials, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return Credentials{}, err
	}
	stored, server, err := keys(password, salt, Iterations, h)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Salt: salt, Iters: Iterations, StoredKey: stored, ServerKey: server}, nil
}

// keys computes StoredKey and ServerKey (RFC 5802 3).
func keys(password string, salt []byte, iters int, h func() hash.Hash) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(h, password, salt, iters, h().Size())
	if err != nil {
		return nil, nil, err
	}
	mac := hmac.New(h, salted)
	mac.Write([]byte("Client Key"))
	client := mac.Sum(nil)
	mac = hmac.New(h, salted)
	mac.Write([]byte("Server Key"))
	server = mac.Sum(nil)
	sum := h()
	sum.Write(client)
	return sum.Sum(nil), server, nil
}

// Verify reports whether password, PRECIS-prepared as for NewCredentials,
// matches c, which was derived with h (sha1.New or sha256.New). It is what
// SASL PLAIN needs; the comparison takes constant time.
func (c Credentials) Verify(password string, h func() hash.Hash) bool {
	if c.Iters <= 0 || len(c.Salt) == 0 || len(c.StoredKey) == 0 {
		return false
	}
	stored, _, err := keys(password, c.Salt, c.Iters, h)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(stored, c.StoredKey) == 1
}

// MinPasswordLength is the fewest characters a password may have;
// MaxPasswordBytes the most bytes.
const (
	MinPasswordLength = 8
	MaxPasswordBytes  = 1024
)

// firstRunes returns s cut after n characters.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// PreparePassword applies the PRECIS OpaqueString profile (RFC 8265 4.2),
// as SCRAM clients do to theirs (RFC 7677 4), and the server's rules for
// the password of user: not empty, at least MinPasswordLength characters,
// not the user's name, not one character repeated. Every way of setting a
// password (admin, CLI, GUI, XEP-0077) goes through it. The error says
// why, without wrapping.
func PreparePassword(password, user string) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", errors.New("password has characters a password may not have (RFC 8265 4.2)")
	}
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return "", fmt.Errorf("password too short: at least %d characters", MinPasswordLength)
	}
	if len(p) > MaxPasswordBytes {
		return "", fmt.Errorf("password too long: at most %d bytes", MaxPasswordBytes)
	}
	_, size := utf8.DecodeRuneInString(p)
	if strings.EqualFold(p, user) || strings.Count(p, p[:size])*size == len(p) {
		return "", errors.New("password too easy to guess")
	}
	if utf8.RuneCountInString(user) >= 3 && strings.Contains(strings.ToLower(p), strings.ToLower(user)) {
		return "", errors.New("password contains the user name; choose one that does not")
	}
	// zxcvbn estimates how many guesses a password takes from dictionaries
	// of common passwords, words and names, keyboard patterns, dates and
	// repeats. Score 2 is about 10^8 guesses: safe against guessing over
	// the network, which the login guard slows further.
	// Its cost grows faster than the length: it sees the first 100
	// characters, which say all there is to say about the strength.
	if r := zxcvbn.PasswordStrength(firstRunes(p, 100), []string{user}); r.Score < 2 {
		return "", errors.New("password too easy to guess: it is a common password, a word or a pattern; three or four unrelated words make a good one")
	}
	return p, nil
}
