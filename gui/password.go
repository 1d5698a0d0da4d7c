package gui

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// passwordAlphabet leaves out characters that are easy to misread or
// mistype when copying a password from the screen to a phone: 0 O o, 1 l I
// i, and punctuation. 55 symbols: about 5.8 bits each.
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// passwordLength gives about 115 bits of entropy.
const passwordLength = 20

// newPassword returns a random password from crypto/rand.
func newPassword() (string, error) {
	b := make([]byte, passwordLength)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		b[i] = passwordAlphabet[n.Int64()]
	}
	return string(b), nil
}
