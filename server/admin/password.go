package admin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = 8

// preparePassword applies the PRECIS OpaqueString profile (RFC 8265 4.2), as
// SCRAM clients do to theirs (RFC 7677 4), and rejects weak passwords. The
// error says why, without wrapping.
func preparePassword(password, user string) (string, error) {
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
	_, size := utf8.DecodeRuneInString(p)
	if strings.EqualFold(p, user) || strings.Count(p, p[:size])*size == len(p) {
		return "", errors.New("password too easy to guess")
	}
	return p, nil
}

// passwordAlphabet leaves out characters that are easy to misread or
// mistype when copying a password to a phone: 0 O o, 1 l I i, punctuation.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// passwordLength gives about 115 bits of entropy (55 symbols, 5.8 bits each).
const passwordLength = 20

// NewPassword returns a strong random password.
func NewPassword() (string, error) {
	b := make([]byte, passwordLength)
	n := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, n)
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		b[i] = passwordAlphabet[k.Int64()]
	}
	return string(b), nil
}
