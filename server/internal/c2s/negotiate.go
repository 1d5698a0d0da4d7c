package c2s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// conn is one client stream during negotiation.
type conn struct {
	srv         *Server
	f           framing
	ip          string
	authed      string // localpart once SASL succeeded
	cred        []byte // the SCRAM-SHA-256 StoredKey it succeeded with
	cred1       []byte // and the SCRAM-SHA-1 one (for an account imported with those only)
	ticket      *ticket
	deadline    time.Time
	opened      bool // the first stream header came
	cbind       bool // channel binding offered
	lang        string
	successData string
	bindResult  *stanza.Element // written by serveSession once the session is routable
	resumed     *Stream         // the session a <resume/> took over (XEP-0198), instead of a bind
	sasl2       *sasl2Request   // the SASL2 attempt under way (XEP-0388), or nil
	fastUsed    *fastLogin      // the FAST token this stream logged in with, if any
	bind2       *bind2State     // Bind 2's success, queued once the session binds
	guest       Guest           // what the Registrar keeps of this stream before login
}

// fail sends a stream error and the end of the stream, then closes.
func (c *conn) fail(e *stream.Error) {
	c.srv.cfg.Log.Info("stream error sent", "condition", e.Condition, "text", e.Text, "addr", c.f.RemoteAddr(), "account", c.authed)
	_ = c.f.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.f.End(e)
	c.f.Close()
}

func newID() string { return stanza.RandomID(12) }

// openStream reads the client's opening and answers with ours and the
// features of this stage. The first opening on a connection must come
// within HeaderTimeout: a connection that says nothing gives up its place
// early.
func (c *conn) openStream(features []*stanza.Element) error {
	if !c.opened && !c.deadline.IsZero() {
		_ = c.f.SetDeadline(earlier(c.deadline, time.Now().Add(HeaderTimeout)))
	}
	h, err := c.f.ReadOpen()
	if !c.opened && !c.deadline.IsZero() {
		c.opened = true
		_ = c.f.SetDeadline(c.deadline)
	}
	if err != nil {
		return err
	}
	switch {
	case h.NS != stanza.NSClient:
		return &stream.Error{Condition: stream.InvalidNamespace}
	case h.Version == "" || h.Version[0] < '1':
		return &stream.Error{Condition: stream.UnsupportedVersion, Text: "XMPP 1.0 is required"}
	}
	to, err := jid.Parse(h.To)
	if err != nil || to != (jid.JID{Domain: c.srv.cfg.Domain}) {
		return &stream.Error{Condition: stream.HostUnknown, Text: "this server serves " + c.srv.cfg.Domain}
	}
	c.lang = h.Lang
	return c.f.WriteOpen(stream.Header{NS: stanza.NSClient, From: c.srv.cfg.Domain, ID: newID(), Version: "1.0", Lang: "en"}, features)
}

// send writes one element during negotiation.
func (c *conn) send(el *stanza.Element) error {
	_, err := c.f.Write([]*stanza.Element{el})
	return err
}

// features returns the modules' features of a stage after the given ones.
func (c *conn) features(stage Stage, own ...*stanza.Element) []*stanza.Element {
	for _, f := range c.srv.cfg.Features {
		if f.Stage == stage {
			own = append(own, f.Element)
		}
	}
	return own
}

// negotiate runs RFC 6120 5-7 until a resource is bound.
func (c *conn) negotiate(ctx context.Context) (*router.Session, error) {
	for {
		switch {
		case c.f.TLS() == nil:
			// STARTTLS is mandatory to negotiate (RFC 6120 5.3.1).
			tlsf := stanza.New("starttls", stanza.NSTLS).Append(stanza.New("required", stanza.NSTLS))
			if err := c.openStream([]*stanza.Element{tlsf}); err != nil {
				return nil, err
			}
			el, err := c.f.Next()
			if err != nil {
				return nil, err
			}
			if el.Name != "starttls" || el.NS != stanza.NSTLS {
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "STARTTLS is required"}
			}
			if c.f.Pending() {
				// RFC 6120 5.4.3.3: nothing may follow <starttls/>.
				return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "data after starttls"}
			}
			if err := c.send(stanza.New("proceed", stanza.NSTLS)); err != nil {
				return nil, err
			}
			if err := startTLS(c.f, c.srv.cfg.TLS(), c.deadline); err != nil {
				return nil, err
			}
		case c.authed == "":
			feats := []*stanza.Element{c.mechanisms()}
			if cb := c.channelBinding(); cb != nil {
				feats = append(feats, cb)
			}
			feats = append(feats, c.sasl2Feature())
			if err := c.openStream(c.features(BeforeAuth, feats...)); err != nil {
				return nil, err
			}
			if err := c.authenticate(ctx); err != nil {
				return nil, err
			}
			// Logged in: the full limits, and reachable by the admin's
			// kick until it is bound.
			c.srv.addUnbound(c.authed, c.f)
			if c.ticket != nil {
				c.ticket.authenticated()
			}
			c.f.SetLimits(*c.srv.limits.Load())
			if c.sasl2 != nil {
				// XEP-0388: no restart; the session is bound inline
				// (Bind 2) or next.
				return c.afterSASL2(ctx)
			}
			c.f.Restart()
		default:
			feats := c.features(AfterAuth,
				stanza.New("bind", stanza.NSBind),
				stanza.New("session", stanza.NSSession).Append(stanza.New("optional", stanza.NSSession)),
				stanza.New("sm", NSSM),
			)
			if err := c.openStream(feats); err != nil {
				return nil, err
			}
			return c.bind(ctx)
		}
	}
}

// bind handles resource binding (RFC 6120 7) and answers a legacy session
// request (RFC 3921 3) that comes first.
func (c *conn) bind(ctx context.Context) (*router.Session, error) {
	for {
		el, err := c.f.Next()
		if err != nil {
			return nil, err
		}
		if el.NS == NSSM {
			switch el.Name {
			case "resume":
				st, err := c.resume(ctx, el)
				if err != nil || st != nil {
					c.resumed = st
					return nil, err
				}
			default:
				// XEP-0198 3: stream management is enabled after binding.
				if err := c.send(smFailed(stanza.UnexpectedRequest, nil)); err != nil {
					return nil, err
				}
			}
			continue
		}
		st, serr := stanza.Parse(el)
		if serr != nil || st.Kind != stanza.KindIQ {
			return nil, &stream.Error{Condition: stream.NotAuthorized, Text: "bind a resource first"}
		}
		p := st.Payload()
		if st.Type != "set" || p == nil {
			if err := c.send(st.ErrorReply(stanza.ErrBadRequest("bind a resource first"))); err != nil {
				return nil, err
			}
			continue
		}
		if p.NS == stanza.NSSession {
			if err := c.send(st.Result(nil)); err != nil {
				return nil, err
			}
			continue
		}
		if p.Name != "bind" || p.NS != stanza.NSBind {
			if err := c.send(st.ErrorReply(stanza.NewError(stanza.Cancel, stanza.NotAllowed, "bind a resource first"))); err != nil {
				return nil, err
			}
			continue
		}
		res := p.ChildText("resource", stanza.NSBind)
		if res == "" {
			res = "hearth-" + newID()[:10]
		}
		full, err := jid.New(c.authed, c.srv.cfg.Domain, res)
		if err != nil || full.Resource == "" {
			if err := c.send(st.ErrorReply(stanza.ErrBadRequest("invalid resource"))); err != nil {
				return nil, err
			}
			continue
		}
		if err := c.stillValid(ctx); err != nil {
			return nil, err
		}
		if e := c.roomFor(full); e != nil {
			if err := c.send(st.ErrorReply(e)); err != nil {
				return nil, err
			}
			continue
		}
		sess := &router.Session{JID: full, Addr: c.f.RemoteAddr(), Since: time.Now(), Secure: c.f.TLS() != nil}
		result := stanza.New("bind", stanza.NSBind).Append(stanza.New("jid", stanza.NSBind).AppendText(full.String()))
		res2 := st.Result(result)
		res2.SetAttr("from", "")
		res2.SetAttr("to", "")
		c.bindResult = res2
		return sess, nil
	}
}

// stillValid checks the account again at bind: it may have been deleted,
// disabled or given a new password since this stream logged in (RFC 6120
// 4.9.3.12: not-authorized).
func (c *conn) stillValid(ctx context.Context) error {
	u, err := c.srv.cfg.Accounts.User(ctx, c.authed)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the account was removed"}
	case err != nil:
		c.srv.cfg.Log.Warn("account not read at bind", "account", c.authed, "err", err)
		return &stream.Error{Condition: stream.InternalServerError}
	case u.Disabled:
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the account is disabled"}
	case !bytes.Equal(u.SHA256.StoredKey, c.cred) &&
		// An account imported with SHA-1 keys only gets its SHA-256
		// ones at a PLAIN login, maybe another device's since this one
		// logged in: the password is the same if the SHA-1 key is.
		!(len(c.cred) == 0 && bytes.Equal(u.SHA1.StoredKey, c.cred1)):
		return &stream.Error{Condition: stream.NotAuthorized, Text: "the password was changed; log in again"}
	}
	return nil
}

// roomFor checks the account's quota of resources (RFC 6120 7.6.2.1: a
// limit on resources is resource-constraint; XEP-0205 names the reason).
// A resource that is bound already does not count: the new session takes
// it over.
func (c *conn) roomFor(full jid.JID) *stanza.Error {
	max := c.srv.cfg.Quota.Resources.Load()
	n := int64(0)
	var held *router.Session // the oldest session waiting to be resumed
	for _, s := range c.srv.router.Sessions(full.Local) {
		if s.JID.Resource == full.Resource {
			continue
		}
		n++
		if s.Held() && (held == nil || s.Since.Before(held.Since)) {
			held = s
		}
	}
	if n < max {
		return nil
	}
	if held != nil {
		// A device that came back without resuming (a new resource)
		// must not be locked out by its own lost sessions: the oldest
		// held one gives way, and what it holds goes to the account's
		// other sessions or offline storage.
		c.srv.cfg.Log.Info("a session waiting to be resumed ended to make room for a new one", "jid", held.JID.String())
		held.Conn.Close("", "")
		return nil
	}
	e := stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
		fmt.Sprintf("this account is connected from %d places already, the most this server allows; close one of them first", n))
	e.Extra = stanza.New("resource-limit-exceeded", "urn:xmpp:errors")
	return e
}
