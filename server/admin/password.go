package admin

import (
	"crypto/rand"
	"fmt"
	"math/big"

	"hearth/storage"
)

// MinPasswordLength is the fewest characters a password may have.
const MinPasswordLength = storage.MinPasswordLength

// preparePassword applies the server's password rules (storage.PreparePassword).
func preparePassword(password, user string) (string, error) {
	return storage.PreparePassword(password, user)
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
