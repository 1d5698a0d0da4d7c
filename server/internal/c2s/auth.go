package c2s

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"github.com/xdg-go/scram"
	"golang.org/x/text/secure/precis"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Mechanisms offered, strongest first. PLAIN is offered only because the
// stream is always encrypted before SASL (RFC 6120 6.4.1).
const (
	mechSCRAM256Plus = "SCRAM-SHA-256-PLUS"
	mechSCRAM1Plus   = "SCRAM-SHA-1-PLUS"
	mechSCRAM256     = "SCRAM-SHA-256"
	mechSCRAM1       = "SCRAM-SHA-1"
	mechPLAIN        = "PLAIN"
)

// NSChannelBinding is XEP-0440: SASL channel-binding type capability.
const NSChannelBinding = "urn:xmpp:sasl-cb:0"

// exporter says whether the -PLUS mechanisms (tls-exporter) are offered:
// on TLS 1.3, and not over BOSH, whose requests may each come on another
// TLS connection (XEP-0124 keeps no connection for a session), so that
// no one channel is there to bind to.
func (c *conn) exporter() bool {
	if _, ok := c.f.(*boshStream); ok {
		return false
	}
	st := c.f.TLS()
	return st != nil && st.Version >= tls.VersionTLS13
}

func (c *conn) mechanisms() *stanza.Element {
	m := stanza.New("mechanisms", stanza.NSSASL)
	names := []string{mechSCRAM256, mechSCRAM1, mechPLAIN}
	if c.exporter() {
		c.cbind = true
		names = append([]string{mechSCRAM256Plus, mechSCRAM1Plus}, names...)
	}
	for _, n := range names {
		m.Append(stanza.New("mechanism", stanza.NSSASL).AppendText(n))
	}
	return m
}

// channelBinding tells clients which channel-binding type the -PLUS
// mechanisms use (XEP-0440), or nil when none is offered.
func (c *conn) channelBinding() *stanza.Element {
	if !c.cbind {
		return nil
	}
	return stanza.New("sasl-channel-binding", NSChannelBinding).Append(stanza.New("channel-binding", NSChannelBinding, "type", "tls-exporter"))
}

// saslFailure is a SASL failure condition (RFC 6120 6.5).
type saslFailure string

func (c *conn) failure(cond saslFailure, text string) error {
	if c.sasl2 != nil {
		return c.send(sasl2Failure(cond, text))
	}
	f := stanza.New("failure", stanza.NSSASL).Append(stanza.New(string(cond), stanza.NSSASL))
	if text != "" {
		f.Append(stanza.New("text", stanza.NSSASL, "xml:lang", "en").AppendText(text))
	}
	return c.send(f)
}

// errAuthFailed is what looking up an unknown account gives.
var errAuthFailed = errors.New("authentication failed")

// saslFail is a failed SASL attempt, not yet told to the client: the
// failure is counted first, so that a client retrying at once already
// meets the limit (the count must never trail the client's view).
type saslFail struct {
	cond saslFailure
	text string
	// counted: a wrong password or unknown account. A refusal that says
	// nothing about the password (an unsupported mechanism or
	// channel-binding type, a downgrade flag) is not counted: clients try
	// their mechanisms in turn and must not be locked out for that.
	counted bool
}

func (e *saslFail) Error() string { return "sasl failure: " + string(e.cond) }

// authenticate runs SASL exchanges until one succeeds. Failures go to
// the guard, which may hold back the answer (the account is being
// guessed at) or make the address wait (it is guessing): then the stream
// ends.
func (c *conn) authenticate(ctx context.Context) error {
	log := c.srv.cfg.Log
	for {
		el, err := c.f.Next()
		if err != nil {
			return err
		}
		c.sasl2 = nil
		switch {
		case el.NS == stanza.NSSASL && el.Name == "auth":
		case el.NS == NSSASL2 && el.Name == "authenticate":
			req, fail := parseAuthenticate(el)
			if fail != nil {
				// Refused before any account was looked at.
				c.sasl2 = &sasl2Request{}
				if err := c.failure(fail.cond, fail.text); err != nil {
					return err
				}
				continue
			}
			c.sasl2 = req
		case (el.NS == stanza.NSSASL || el.NS == NSSASL2) && el.Name == "abort":
			if el.NS == NSSASL2 {
				c.sasl2 = &sasl2Request{}
			}
			if err := c.failure("aborted", ""); err != nil {
				return err
			}
			continue
		case el.Name == "iq" && el.NS == stanza.NSClient && c.srv.cfg.Registrar != nil:
			// XEP-0077 and XEP-0445: registration before login.
			c.guest.Addr = c.ip
			res := c.srv.cfg.Registrar.GuestIQ(ctx, &c.guest, el)
			if res == nil {
				return &stream.Error{Condition: stream.NotAuthorized, Text: "authenticate first"}
			}
			if err := c.send(res); err != nil {
				return err
			}
			continue
		default:
			return &stream.Error{Condition: stream.NotAuthorized, Text: "authenticate first"}
		}
		mech := el.Attr("mechanism")
		if wait := c.srv.guard.begin(c.ip); wait > 0 {
			log.Debug("login refused: this address must wait", "addr", c.ip, "mechanism", mech, "retry_in", roundUp(wait))
			_ = c.failure("temporary-auth-failure", "too many failed attempts from your address; try again in "+roundUp(wait).String())
			return &stream.Error{Condition: stream.PolicyViolation, Text: "too many failed authentication attempts"}
		}
		user, err := c.saslExchange(ctx, el)
		var f *saslFail
		switch {
		case err == nil:
			c.srv.guard.end(c.ip)
			c.authed = user
			log.Info("login succeeded", "account", user, "addr", c.ip, "mechanism", mech, "tls", tlsMode(c.f))
			if c.sasl2 != nil {
				return nil // afterSASL2 answers, with what binding gave
			}
			ok := stanza.New("success", stanza.NSSASL)
			if c.successData != "" {
				// RFC 6120 6.4.6: the server-final-message rides on <success/>.
				ok.AppendText(b64.EncodeToString([]byte(c.successData)))
			}
			return c.send(ok)
		case !errors.As(err, &f):
			c.srv.guard.end(c.ip)
			return err
		case !f.counted:
			c.srv.guard.end(c.ip)
			if err := c.failure(f.cond, f.text); err != nil {
				return err
			}
		default:
			tarpit, wait := c.srv.guard.fail(c.ip, user)
			c.srv.guard.end(c.ip)
			account := user
			if account == "" {
				account = "(no such account)"
			}
			log.Info("login failed", "addr", c.ip, "account", account, "mechanism", mech, "reason", failReason(f.cond), "answer_delay", tarpit)
			if wait > 0 {
				log.Warn("address must wait before logging in again: too many failed logins", "addr", c.ip, "account", account, "wait", roundUp(wait))
			}
			// The account is being guessed at: its wrong answers come
			// late, one after another; its right one never does.
			if err := c.srv.guard.hold(ctx, user, tarpit); err != nil {
				return err
			}
			if err := c.failure(f.cond, f.text); err != nil {
				return err
			}
			if wait > 0 {
				return &stream.Error{Condition: stream.PolicyViolation, Text: "too many failed authentication attempts; try again in " + roundUp(wait).String()}
			}
		}
	}
}

// failReason says why a login failed, in words for the log. A wrong
// password and an account that does not exist read the same, in the log
// as to the client (not-authorized, RFC 6120 6.4.5), so that neither
// tells which names exist.
func failReason(cond saslFailure) string {
	switch cond {
	case "not-authorized":
		return "wrong password or no such account"
	case "account-disabled":
		return "the account is disabled"
	case "invalid-authzid":
		return "asked to act as another account"
	case "malformed-request", "incorrect-encoding":
		return "the device sent a login the server cannot read"
	case "temporary-auth-failure":
		return "the server could not check the password"
	}
	return string(cond)
}

// roundUp rounds a wait up to whole seconds, as people read it.
func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// saslExchange runs one mechanism. A failed attempt is a *saslFail, with
// the user it was for, if known; the caller tells the client.
func (c *conn) saslExchange(ctx context.Context, auth *stanza.Element) (string, error) {
	mech, data := auth.Attr("mechanism"), auth.Content()
	if c.sasl2 != nil {
		mech, data = c.sasl2.mech, c.sasl2.initial
	}
	initial, ok := decodeB64(data)
	if !ok {
		return "", c.failed("incorrect-encoding", "")
	}
	switch mech {
	case mechPLAIN:
		return c.plain(ctx, initial)
	case mechSCRAM256, mechSCRAM1:
		return c.scram(ctx, mech, initial, false)
	case mechSCRAM256Plus, mechSCRAM1Plus:
		if !c.cbind {
			return "", c.refused("invalid-mechanism")
		}
		return c.scram(ctx, mech, initial, true)
	case mechHTExpr, mechHTNone:
		if c.sasl2 == nil || !c.fastOffered(mech) {
			return "", c.refused("invalid-mechanism")
		}
		return c.hashedToken(ctx, mech, initial)
	default:
		return "", c.refused("invalid-mechanism")
	}
}

// refused is a failure that is not counted against the limits.
func (c *conn) refused(cond saslFailure) error { return &saslFail{cond: cond} }

// failed is a failure counted against the limits.
func (c *conn) failed(cond saslFailure, text string) error {
	return &saslFail{cond: cond, text: text, counted: true}
}

// decodeB64 decodes SASL data; "=" is the empty response (RFC 6120 6.4.2).
func decodeB64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return nil, true
	}
	b, err := b64.DecodeString(s)
	return b, err == nil
}

// lookup returns the stored account for a SASL username. A name with no
// account gets a decoy and errAuthFailed. A *saslFail is a refusal that
// says nothing about the password: the accounts could not be read, or this
// address must wait before trying this account again.
func (c *conn) lookup(ctx context.Context, name string) (storage.User, string, error) {
	j, err := jid.New(name, c.srv.cfg.Domain, "")
	if err != nil || j.Local == "" {
		return c.srv.decoy(name), "", errAuthFailed
	}
	u, err := c.srv.cfg.Accounts.User(ctx, j.Local)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// No per-account counter for names that do not exist: they
		// would only grow the guard's maps. The decoy lets the exchange
		// run its course, so that an unknown name costs and looks the
		// same as a wrong password (RFC 5802 9).
		return c.srv.decoy(j.Local), "", errAuthFailed
	case err != nil:
		c.srv.cfg.Log.Error("login not checked: the accounts could not be read", "addr", c.ip, "err", err)
		return storage.User{}, "", &saslFail{cond: "temporary-auth-failure", text: "the server could not read its accounts; try again in a moment"}
	}
	if wait := c.srv.guard.waitFor(c.ip, j.Local); wait > 0 {
		c.srv.cfg.Log.Debug("login refused: this address must wait before trying this account again", "addr", c.ip, "account", j.Local, "retry_in", roundUp(wait))
		return storage.User{}, "", &saslFail{cond: "temporary-auth-failure", text: "too many failed attempts at this account from your address; try again in " + roundUp(wait).String()}
	}
	return u, j.Local, nil
}

func (c *conn) plain(ctx context.Context, msg []byte) (string, error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", c.failed("malformed-request", "")
	}
	authz, authc, pass := string(parts[0]), string(parts[1]), string(parts[2])
	u, name, err := c.lookup(ctx, authc)
	var refusal *saslFail
	if errors.As(err, &refusal) {
		return "", refusal
	}
	if authz != "" && !c.authzOK(authz, name) {
		return name, c.failed("invalid-authzid", "")
	}
	pw, perr := precis.OpaqueString.String(pass)
	cr, h := u.SHA256, sha256.New
	if err == nil && cr.Iters == 0 && u.SHA1.Iters > 0 {
		// Imported with SCRAM-SHA-1 keys only (XEP-0227, admin's
		// xep0227.go): checked against those.
		cr, h = u.SHA1, sha1.New
	}
	ok := cr.Verify(pw, h) // also for a decoy: same cost
	if err != nil || perr != nil || !ok {
		return name, c.failed("not-authorized", "")
	}
	if u.Disabled {
		return name, c.failed("account-disabled", "")
	}
	c.cred, c.cred1 = u.SHA256.StoredKey, u.SHA1.StoredKey
	if u.SHA256.Iters == 0 || u.SHA1.Iters == 0 {
		c.cred = c.fillCredentials(ctx, name, pw)
	}
	return name, nil
}

func (c *conn) authzOK(authz, user string) bool {
	j, err := jid.Parse(authz)
	return err == nil && j == jid.JID{Local: user, Domain: c.srv.cfg.Domain}
}

func (c *conn) scram(ctx context.Context, mech string, first []byte, plus bool) (string, error) {
	h := scram.SHA256
	if mech == mechSCRAM1 || mech == mechSCRAM1Plus {
		h = scram.SHA1
	}
	var name string
	var user storage.User
	var refusal *saslFail
	looked, missing := false, false
	srv, err := h.NewServer(func(username string) (scram.StoredCredentials, error) {
		looked = true
		u, n, err := c.lookup(ctx, username)
		name, user = n, u
		if errors.As(err, &refusal) {
			return scram.StoredCredentials{}, err
		}
		if err != nil && u.SHA256.Salt == nil {
			return scram.StoredCredentials{}, err
		}
		isSHA1 := mech == mechSCRAM1 || mech == mechSCRAM1Plus
		cr := u.SHA256
		if isSHA1 {
			cr = u.SHA1
		}
		if err == nil && cr.Iters == 0 {
			// The account has no keys for this hash (it was imported
			// with the other's only): the exchange runs its course
			// with a decoy, as for a wrong password, so that nobody
			// learns that, but is not counted against the account.
			d := c.srv.decoy(u.Name)
			cr, missing = d.SHA256, true
			if isSHA1 {
				cr = d.SHA1
			}
		}
		return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(cr.Salt), Iters: cr.Iters}, StoredKey: cr.StoredKey, ServerKey: cr.ServerKey}, nil
	})
	if err != nil {
		return "", err
	}
	var conv *scram.ServerConversation
	if c.cbind {
		cb, err := scram.NewTLSExporterBinding(c.f.TLS())
		if err != nil {
			return "", c.failed("temporary-auth-failure", "")
		}
		if plus {
			conv = srv.NewConversationWithChannelBindingRequired(cb)
		} else {
			conv = srv.NewConversationWithChannelBinding(cb)
		}
	} else {
		conv = srv.NewConversation()
	}
	msg := string(first)
	for round := 0; ; round++ {
		resp, err := conv.Step(msg)
		if err != nil {
			if refusal != nil {
				return "", refusal
			}
			if missing {
				return name, c.noKeys(name, mech)
			}
			if round == 0 && !looked {
				// Refused before any account was consulted: the
				// channel-binding type or flag (RFC 5802 6), not a
				// password guess.
				return "", c.refused("not-authorized")
			}
			return name, c.failed("not-authorized", "")
		}
		if conv.Done() && missing {
			return name, c.noKeys(name, mech)
		}
		if conv.Done() {
			if !conv.Valid() {
				return name, c.failed("not-authorized", "")
			}
			if a := conv.AuthzID(); a != "" && !c.authzOK(a, name) {
				return name, c.failed("invalid-authzid", "")
			}
			if user.Disabled {
				return name, c.failed("account-disabled", "")
			}
			c.successData = resp
			c.cred, c.cred1 = user.SHA256.StoredKey, user.SHA1.StoredKey
			return name, nil
		}
		ns := c.saslNS()
		ch := stanza.New("challenge", ns).AppendText(b64.EncodeToString([]byte(resp)))
		if err := c.send(ch); err != nil {
			return name, err
		}
		el, err := c.f.Next()
		if err != nil {
			return name, err
		}
		if el.NS == ns && el.Name == "abort" {
			// The client gave up: nothing was said about the password.
			return name, c.refused("aborted")
		}
		if el.NS != ns || el.Name != "response" {
			return name, &stream.Error{Condition: stream.NotAuthorized, Text: "expected a SASL response"}
		}
		data, ok := decodeB64(el.Content())
		if !ok {
			return name, c.failed("incorrect-encoding", "")
		}
		msg = string(data)
	}
}

// noKeys is the failure of a SCRAM exchange for an account without keys
// for its hash: not counted, since the password may well be right, and
// logged with what to do.
func (c *conn) noKeys(name, mech string) error {
	c.srv.cfg.Log.Info("login refused: the account has no "+mech+" keys yet; it was imported from another server with keys for the other hash only. Its client can log in with the other SCRAM mechanism, or once with PLAIN, which adds the missing keys",
		"account", name, "addr", c.ip, "mechanism", mech)
	return c.refused("not-authorized")
}

// fillCredentials derives the keys an imported account lacks from the
// password a PLAIN login just proved (storage.FillCredentials), so that
// every SCRAM mechanism works for it from now on. It returns the
// account's SCRAM-SHA-256 StoredKey as stored afterwards, which bind
// compares (stillValid).
func (c *conn) fillCredentials(ctx context.Context, name, pw string) []byte {
	f, ok := c.srv.cfg.Accounts.(CredentialFiller)
	if !ok {
		return nil
	}
	c1, c256, err := storage.NewCredentials(pw)
	if err == nil {
		var added bool
		if added, err = f.FillCredentials(ctx, name, c1, c256); added {
			c.srv.cfg.Log.Info("login keys completed: the account, imported with keys for one SCRAM hash only, now has keys for SCRAM-SHA-1 and SCRAM-SHA-256", "account", name)
		}
	}
	if err != nil {
		c.srv.cfg.Log.Warn("login keys not completed: the account keeps working with the keys it has", "account", name, "err", err)
	}
	u, err := c.srv.cfg.Accounts.User(ctx, name)
	if err != nil {
		return nil
	}
	return u.SHA256.StoredKey
}

// decoy returns credentials for a name that has no account: stable for
// the name (a second attempt sees the same salt) and matching no password.
func (s *Server) decoy(name string) storage.User {
	cred := func(label string) storage.Credentials {
		m := hmac.New(sha256.New, s.secret[:])
		m.Write([]byte(label + "\x00" + name))
		sum := m.Sum(nil)
		return storage.Credentials{Salt: sum[:16], Iters: storage.Iterations, StoredKey: sum, ServerKey: sum}
	}
	return storage.User{Name: name, SHA1: cred("sha1"), SHA256: cred("sha256")}
}
