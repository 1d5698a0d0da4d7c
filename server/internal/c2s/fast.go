package c2s

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"path/filepath"
	"slices"
	"time"

	"hearth/internal/atomicfile"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// FAST (XEP-0484): a device that logged in with its password asks for a
// token, and logs in with it next time in one round trip (the HT
// mechanisms, ht.go), without the password.
//
// What the server keeps of a token is a random seed (storage.FASTToken);
// the token is HMAC-SHA-256(key, seed) with a key kept outside the
// database (LoadTokenKey). The HT mechanisms need the token itself to
// check a login (it is their HMAC key), so no one-way hash of it could
// do: this way a copy of the database alone logs nobody in, nor does
// the key alone.
//
// A token is bound to its account, the device's user-agent id and the
// mechanism it was asked for. Each device has a current token and at
// most one newer one, which replaces it at its first use (XEP-0484 4.5);
// a login with a token past half its lifetime gets a new one unasked, so
// a device that comes back at least that often never needs its password
// again. A replayed count, another device's id, an expired or revoked
// token fail as a wrong password does, and count as one at the guard.

// Tokens keeps FAST tokens (storage.DB).
type Tokens interface {
	FASTTokens(ctx context.Context, user, agent string, now time.Time) ([]storage.FASTToken, error)
	AddFASTToken(ctx context.Context, t storage.FASTToken) error
	UseFASTToken(ctx context.Context, t storage.FASTToken, count int64) (bool, error)
	DeleteFASTToken(ctx context.Context, t storage.FASTToken) error
}

// DefaultTokenLifetime is how long a FAST token is valid: two weeks, as
// the common servers give, renewed at every login in its second week.
const DefaultTokenLifetime = 14 * 24 * time.Hour

// tokenKeyFile is where LoadTokenKey keeps the key, in the data directory.
const tokenKeyFile = "fast.secret"

// LoadTokenKey reads the key FAST tokens are derived with from dir, or
// makes it the first time (mode 0600). Removing the file ends every
// token: devices log in with their password again.
func LoadTokenKey(dir string) ([]byte, error) {
	return atomicfile.LoadKey(filepath.Join(dir, tokenKeyFile), "the FAST token key", " (devices then log in with their password once)")
}

// SetTokenLifetime sets the lifetime of FAST tokens issued from now on
// (0: DefaultTokenLifetime).
func (s *Server) SetTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = DefaultTokenLifetime
	}
	s.tokenLife.Store(int64(d))
}

// token is the token a seed stands for.
func (s *Server) token(seed []byte) string {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte("hearth fast token\x00"))
	m.Write(seed)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// fastMechanisms are the HT mechanisms offered on this stream, the one
// with channel binding first.
func (c *conn) fastMechanisms() []string {
	if c.exporter() {
		return []string{mechHTExpr, mechHTNone}
	}
	return []string{mechHTNone}
}

func (c *conn) fastOffered(mech string) bool {
	return c.srv.cfg.Tokens != nil && slices.Contains(c.fastMechanisms(), mech)
}

// fastLogin is the token a stream logged in with.
type fastLogin struct {
	storage.FASTToken
}

// hashedToken runs an HT mechanism (ht.go) against the device's tokens.
func (c *conn) hashedToken(ctx context.Context, mech string, msg []byte) (string, error) {
	authcid, hashed, ok := parseHT(msg)
	if !ok {
		return "", c.failed("malformed-request", "")
	}
	cb, err := htChannelBinding(mech, c.f.TLS())
	if err != nil {
		return "", c.refused("invalid-mechanism")
	}
	u, name, err := c.lookup(ctx, authcid)
	var refusal *saslFail
	if errors.As(err, &refusal) {
		return "", refusal
	}
	var toks []storage.FASTToken
	if c.sasl2.agentID != "" {
		// Read for a name with no account too (it finds nothing), so
		// that it costs what a known one does.
		who := name
		if err != nil {
			who = authcid
		}
		found, rerr := c.srv.cfg.Tokens.FASTTokens(ctx, who, c.sasl2.agentID, time.Now())
		if rerr != nil {
			c.srv.cfg.Log.Error("login not checked: the FAST tokens could not be read", "addr", c.ip, "account", name, "err", rerr)
			return "", &saslFail{cond: "temporary-auth-failure", text: "the server could not read its tokens; try again in a moment"}
		}
		if err == nil {
			toks = found
		}
	}
	// Every candidate is compared, in constant time; with none, a decoy
	// is, so that an unknown name or device costs the same.
	var match *storage.FASTToken
	var token string
	for i := range toks {
		t := c.srv.token(toks[i].Seed)
		if hmac.Equal(htInitiator(t, cb), hashed) && match == nil {
			match, token = &toks[i], t
		}
	}
	if len(toks) == 0 {
		hmac.Equal(htInitiator(c.srv.token(c.srv.secret[:]), cb), hashed)
	}
	switch {
	case match == nil:
		return name, c.failed("not-authorized", "")
	case match.Mechanism != mech:
		// XEP-0484 4.4: a token works with the mechanism it was asked for.
		return name, c.failed("not-authorized", "")
	case u.Disabled:
		return name, c.failed("account-disabled", "")
	}
	count := int64(-1)
	if c.sasl2.fast != nil {
		count = c.sasl2.fast.count
	}
	used, err := c.srv.cfg.Tokens.UseFASTToken(ctx, *match, count)
	if err != nil {
		c.srv.cfg.Log.Error("login not checked: the FAST token's use could not be recorded", "addr", c.ip, "account", name, "err", err)
		return "", &saslFail{cond: "temporary-auth-failure", text: "the server could not record the login; try again in a moment"}
	}
	if !used {
		// A count seen before (a replay), or revoked meanwhile.
		return name, c.failed("not-authorized", "")
	}
	c.fastUsed = &fastLogin{FASTToken: *match}
	c.successData = string(htResponder(token, cb))
	c.cred, c.cred1 = u.SHA256.StoredKey, u.SHA1.StoredKey
	return name, nil
}

// fastResult revokes the token a login asked to invalidate, and returns
// the <token/> for the success when one is asked for or due (nil for
// none). Keeping a token is never worth failing a login that succeeded:
// a failure to is logged, and the device asks again next time.
func (c *conn) fastResult(ctx context.Context) *stanza.Element {
	req, used := c.sasl2, c.fastUsed
	if c.srv.cfg.Tokens == nil || req.agentID == "" {
		return nil
	}
	mech := req.requestToken
	if used != nil {
		switch {
		case req.fast != nil && req.fast.invalidate:
			// XEP-0484 4.6: no new token unless asked for.
			if err := c.srv.cfg.Tokens.DeleteFASTToken(ctx, used.FASTToken); err != nil {
				c.srv.cfg.Log.Error("a FAST token the device gave up could not be revoked", "account", c.authed, "err", err)
			}
		case mech == "" && time.Now().After(used.Issued.Add(used.Expires.Sub(used.Issued)/2)):
			mech = used.Mechanism // rotation (XEP-0484 4.5)
		}
	}
	if mech == "" {
		return nil
	}
	if !c.fastOffered(mech) {
		c.srv.cfg.Log.Debug("no FAST token: asked for a mechanism not offered", "account", c.authed, "mechanism", mech)
		return nil
	}
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	now := time.Now()
	t := storage.FASTToken{User: c.authed, Agent: req.agentID, Next: true, Seed: seed[:], Mechanism: mech,
		Issued: now, Expires: now.Add(time.Duration(c.srv.tokenLife.Load()))}
	if err := c.srv.cfg.Tokens.AddFASTToken(ctx, t); err != nil {
		c.srv.cfg.Log.Error("no FAST token given: it could not be kept", "account", c.authed, "err", err)
		return nil
	}
	return stanza.New("token", NSFAST, "expiry", t.Expires.UTC().Format(time.RFC3339), "token", c.srv.token(seed[:]))
}
