package s2s

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"hearth/internal/atomicfile"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
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
	secret, err := atomicfile.LoadKey(filepath.Join(dir, dialbackFile), "the dialback secret", "")
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
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

// dialbackResult checks a dialback key the peer sent (XEP-0220 2.1): a
// peer whose certificate is valid for the domain needs no call back
// (XEP-0344); otherwise the domain's own server is asked whether the key
// is its. The answer goes back on this link.
func (in *inbound) dialbackResult(ctx context.Context, el *stanza.Element) *stream.Error {
	c, f := in.c, in.l.f
	from, to, key := domainOf(el.Attr("from")), domainOf(el.Attr("to")), strings.TrimSpace(el.Content())
	answer := func(typ, cond, text string) *stream.Error {
		var b bytes.Buffer
		if cond == "" {
			appendDialback(&b, "result", to, from, typ, "", "")
		} else {
			appendDialbackError(&b, "result", to, from, "", cond, text)
		}
		if _, err := c.write(b.Bytes()); err != nil {
			return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
		}
		return nil
	}
	switch {
	case !f.isLocal(to):
		return answer("error", "item-not-found", to+" is not served here")
	case from == "" || key == "":
		return &stream.Error{Condition: stream.ImproperAddressing, Text: "db:result needs from, to and a key"}
	case in.from != "" && from != in.from:
		// A key is accepted only for the domain the stream was opened from.
		return answer("error", "not-authorized", "this stream was opened from "+in.h.From)
	}
	if err := f.policy.Load().check(from); err != nil {
		return answer("error", "not-allowed", err.Error())
	}
	if VerifyPeer(c.tlsState().PeerCertificates, from, f.roots, time.Now()) != nil {
		// Each check connects to a server the peer's DNS names: a few per
		// stream, and none that outlives the server.
		if in.dbTries++; in.dbTries > maxDialbackTries {
			return &stream.Error{Condition: stream.PolicyViolation, Text: "too many dialback keys on one stream"}
		}
		vctx, cancel := context.WithTimeout(f.ctx, f.cfg.ConnectTimeout)
		valid, err := f.authoritative(vctx, to, from, in.streamID, key)
		cancel()
		switch {
		case err != nil:
			f.cfg.Log.Info("dialback could not be checked", "domain", from, "why", err)
			return answer("error", "remote-connection-failed", "could not reach "+from+" to check the key")
		case !valid:
			f.cfg.Log.Warn("dialback key refused: its server says it is not its own", "domain", from)
			return answer("invalid", "", "")
		}
	}
	if e := answer("valid", "", ""); e != nil {
		return e
	}
	in.authenticated(from, "dialback")
	return nil
}

// maxDialbackTries bounds the keys one stream may have checked with their
// domains' servers.
const maxDialbackTries = 4

func appendDialbackError(b *bytes.Buffer, name, from, to, id, cond, text string) {
	b.WriteString("<db:" + name)
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"id", id}} {
		if a[1] != "" {
			b.WriteString(" " + a[0] + `="`)
			stanza.EscapeAttr(b, a[1])
			b.WriteByte('"')
		}
	}
	b.WriteString(` type="error"><error type="cancel"><` + cond + ` xmlns="` + nsStanzasErrors + `"/>`)
	if text != "" {
		b.WriteString(`<text xmlns="` + nsStanzasErrors + `">`)
		stanza.EscapeText(b, text)
		b.WriteString("</text>")
	}
	b.WriteString("</error></db:" + name + ">")
}

// authoritative asks originating's server whether key is the one it made
// for the stream streamID it opened to receiving (XEP-0220 2.3).
func (f *Federation) authoritative(ctx context.Context, receiving, originating, streamID, key string) (bool, error) {
	nc, cand, err := f.dialer.Dial(ctx, originating)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	c := newConn(nc, negotiationLimits, f.cfg.WriteTimeout)
	defer c.end(nil, nil)
	if cand.DirectTLS {
		if err := c.startTLS(f.clientTLS(receiving, originating, true), false); err != nil {
			return false, err
		}
	}
	_, feats, err := f.openOut(c, receiving, originating)
	if err != nil {
		return false, err
	}
	if c.tls == nil {
		if err := f.startTLSOut(c, feats, receiving, originating); err != nil {
			return false, err
		}
		if _, _, err = f.openOut(c, receiving, originating); err != nil {
			return false, err
		}
	}
	if err := c.sendDialback("verify", receiving, originating, "", streamID, key); err != nil {
		return false, err
	}
	for {
		el, err := c.next()
		if err != nil {
			return false, err
		}
		switch {
		case el.NS == nsDialback && el.Name == "verify" && el.Attr("id") == streamID:
			switch el.Attr("type") {
			case "valid":
				return true, nil
			case "invalid":
				return false, nil
			}
			return false, fmt.Errorf("%s could not check the key: %s", originating, dialbackError(el))
		case el.Name == "error" && el.NS == stanza.NSStream:
			return false, streamErrorOf(el)
		}
	}
}

// expectVerify notes that we sent a dialback key on the stream streamID
// to receiving: only while it waits does a db:verify for it check out.
func (f *Federation) expectVerify(receiving, streamID, originating string) (done func()) {
	k := receiving + " " + streamID
	f.mu.Lock()
	f.pending[k] = originating
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.pending, k)
		f.mu.Unlock()
	}
}

// answerVerify answers a db:verify (XEP-0220 2.3): valid only if the key is
// ours for that stream and we are waiting on that stream's dialback.
func (f *Federation) answerVerify(c *conn, el *stanza.Element) error {
	receiving, originating := domainOf(el.Attr("from")), domainOf(el.Attr("to"))
	id, key := el.Attr("id"), strings.TrimSpace(el.Content())
	f.mu.Lock()
	waiting := f.pending[receiving+" "+id] == originating
	f.mu.Unlock()
	typ := "invalid"
	if waiting && f.isLocal(originating) && f.cfg.Dialback.Valid(key, receiving, originating, id) {
		typ = "valid"
	}
	if typ == "invalid" {
		f.cfg.Log.Info("dialback: another server asked about a key that is not ours", "asker", receiving, "for", originating)
	}
	return c.sendDialback("verify", originating, receiving, typ, id, "")
}
