package component

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"

	"hearth/server/internal/stanza"
)

// errHandshake is a handshake that is not one: not the element, or its
// content is no SHA-1 digest in hex.
var errHandshake = errors.New("the component did not send a handshake (XEP-0114): a <handshake/> with the SHA-1 of the stream id and the secret, in hex")

// Digest is what a component sends in its handshake (XEP-0114 3): the
// SHA-1 of the stream's id followed by the secret, in lower-case hex.
func Digest(streamID, secret string) string {
	sum := sha1.Sum([]byte(streamID + secret))
	return hex.EncodeToString(sum[:])
}

// ParseHandshake reads a component's handshake: the element <handshake/>
// in the stream's namespace (kept as jabber:client by the decoder) whose
// text, spaces around it aside, is 40 hex digits (either case). It
// returns the digest's bytes.
func ParseHandshake(el *stanza.Element) ([]byte, error) {
	if el == nil || el.Name != "handshake" || el.NS != stanza.NSClient || len(el.Elements()) != 0 {
		return nil, errHandshake
	}
	s := strings.TrimSpace(el.Content())
	if len(s) != 2*sha1.Size {
		return nil, errHandshake
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errHandshake
	}
	return b, nil
}

// Verify reports whether digest (from ParseHandshake) proves secret for
// the stream streamID, in constant time.
func Verify(digest []byte, streamID, secret string) bool {
	sum := sha1.Sum([]byte(streamID + secret))
	return len(digest) == len(sum) && subtle.ConstantTimeCompare(digest, sum[:]) == 1
}
