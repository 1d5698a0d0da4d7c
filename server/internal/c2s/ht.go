package c2s

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"unicode/utf8"
)

// The Hashed Token SASL mechanisms (draft-schmaus-kitten-sasl-ht), the
// ones FAST (XEP-0484) logs in with: one round trip, a token as the
// shared secret. The initiator sends
//
//	authcid NUL HMAC(token, "Initiator" || cb-data)
//
// and the responder proves it knows the token too with
// HMAC(token, "Responder" || cb-data) as the success's additional data.
// The HMAC key is the token string's UTF-8 octets; cb-data is empty for
// NONE and the TLS exporter's 32 octets (RFC 9266) for EXPR.
// tls-server-end-point (ENDP) is not offered: the TLS connection's state
// does not hold the server's own certificate, and the exporter is the
// binding RFC 9266 recommends for TLS 1.3, which every stream with EXPR
// offered has.
const (
	mechHTExpr = "HT-SHA-256-EXPR"
	mechHTNone = "HT-SHA-256-NONE"
)

// maxAuthcid is the longest authentication identity the draft requires
// us to take (255 octets).
const maxAuthcid = 255

// parseHT splits an initiator message into the authentication identity
// and the hashed token; ok is false for anything that is not one (no NUL,
// an empty or overlong or not UTF-8 identity, a hash of the wrong size).
func parseHT(msg []byte) (authcid string, hashed []byte, ok bool) {
	i := bytes.IndexByte(msg, 0)
	if i <= 0 || i > maxAuthcid || !utf8.Valid(msg[:i]) {
		return "", nil, false
	}
	hashed = msg[i+1:]
	if len(hashed) != sha256.Size {
		return "", nil, false
	}
	return string(msg[:i]), hashed, true
}

// htMessage returns HMAC-SHA-256(token, label || cb).
func htMessage(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}

// htInitiator is what a client proves the token with.
func htInitiator(token string, cb []byte) []byte { return htMessage(token, "Initiator", cb) }

// htResponder is what the server proves the token with.
func htResponder(token string, cb []byte) []byte { return htMessage(token, "Responder", cb) }

// errNoBinding: the connection has no channel binding of that type.
var errNoBinding = errors.New("no channel binding of this type on this connection")

// htChannelBinding returns the cb-data of mech on a connection.
func htChannelBinding(mech string, st *tls.ConnectionState) ([]byte, error) {
	switch mech {
	case mechHTNone:
		return nil, nil
	case mechHTExpr:
		if st == nil || st.Version < tls.VersionTLS13 {
			return nil, errNoBinding
		}
		// RFC 9266 2: the label, no context, 32 octets.
		return st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	}
	return nil, errNoBinding
}
