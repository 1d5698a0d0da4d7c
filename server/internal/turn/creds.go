package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST API's password is HMAC-SHA1
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"hearth/internal/atomicfile"
)

// secretFile holds the key TURN credentials are made with, in the data
// directory: kept across restarts, so that credentials handed out just
// before a restart still work just after it. Removing it ends every
// credential handed out (clients ask again before their next call).
const secretFile = "turn.secret"

// LoadSecret reads the credential key from dir, making it the first time
// (32 random bytes, mode 0600, written whole or not at all).
func LoadSecret(dir string) ([]byte, error) {
	secret, err := atomicfile.LoadKey(filepath.Join(dir, secretFile), "the TURN secret", "")
	if err != nil {
		return nil, fmt.Errorf("calls: %w", err)
	}
	return secret, nil
}

// Credentials are a user name and password for the TURN server, valid
// until Expires: the TURN REST API's scheme
// (draft-uberti-behave-turn-rest-00 2.2), which XEP-0215 clients and
// WebRTC stacks take as they are. The name is "<expiry unix
// time>:<bare JID>", the password base64(HMAC-SHA1(secret, name)): the
// server checks them with no state of its own.
type Credentials struct {
	Username, Password string
	Expires            time.Time
}

// NewCredentials makes the credentials of bareJID, valid until expires.
func NewCredentials(secret []byte, bareJID string, expires time.Time) Credentials {
	name := strconv.FormatInt(expires.Unix(), 10) + ":" + bareJID
	return Credentials{Username: name, Password: password(secret, name), Expires: time.Unix(expires.Unix(), 0)}
}

func password(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// maxUsername bounds the user names taken: a bare JID is at most 3071
// bytes (RFC 7622 3.1), with the expiry and its colon.
const maxUsername = 3100

// ParseUsername reads a user name made by NewCredentials: its expiry and
// the bare JID it was given to. ok is false for anything else.
func ParseUsername(name string) (expires time.Time, user string, ok bool) {
	if len(name) > maxUsername {
		return time.Time{}, "", false
	}
	ts, user, found := strings.Cut(name, ":")
	if !found || user == "" || ts == "" || len(ts) > 12 {
		return time.Time{}, "", false
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return time.Time{}, "", false
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", false
	}
	return time.Unix(sec, 0), user, true
}
