package c2s

import (
	"context"
	"strconv"
	"strings"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Namespaces of the modern login (XEP-0388 SASL2, XEP-0386 Bind 2,
// XEP-0484 FAST).
const (
	NSSASL2 = "urn:xmpp:sasl:2"
	NSBind2 = "urn:xmpp:bind:0"
	NSFAST  = "urn:xmpp:fast:0"
)

// Bounds of what a SASL2 request may carry.
const (
	maxAgentID = 128 // the user-agent id: a UUID, with room to spare
	maxTag     = 64  // Bind 2's tag, in bytes: part of the resource
)

// sasl2Request is an <authenticate/> (XEP-0388 2.3), read once.
type sasl2Request struct {
	mech    string
	initial string // the initial response, base64; "" for none
	// The device (XEP-0388 2.3.1): its id binds FAST tokens and gives
	// Bind 2 a stable resource.
	agentID, software, device string
	bind                      *bind2Request
	requestToken              string // XEP-0484 4.2: the mechanism a token is asked for
	fast                      *fastRequest
	// resume is XEP-0198's <resume/> inline: a session to take over
	// instead of binding one (see afterSASL2).
	resume *stanza.Element
}

// bind2Request is Bind 2's <bind/> (XEP-0386 2.2).
type bind2Request struct {
	tag    string
	inline []*stanza.Element // the features to enable, by namespace
}

// fastRequest is FAST's <fast/> on a login with a token (XEP-0484 4.4).
type fastRequest struct {
	count      int64 // -1: none sent
	invalidate bool
}

// parseAuthenticate reads an <authenticate/>. A request it cannot take
// gets a failure that is not counted against the login guard: no account
// was looked at.
func parseAuthenticate(el *stanza.Element) (*sasl2Request, *saslFail) {
	bad := func(text string) (*sasl2Request, *saslFail) {
		return nil, &saslFail{cond: "malformed-request", text: text}
	}
	r := &sasl2Request{mech: el.Attr("mechanism")}
	if r.mech == "" {
		return nil, &saslFail{cond: "invalid-mechanism", text: "name a mechanism"}
	}
	seen := map[string]bool{}
	for _, c := range el.Elements() {
		switch c.NS {
		case NSSASL2, NSBind2, NSFAST, NSSM:
			// What is read here comes once; other extensions are not
			// looked at.
			key := c.NS + " " + c.Name
			if seen[key] {
				return bad("<" + c.Name + "/> may come once")
			}
			seen[key] = true
		}
		switch {
		case c.NS == NSSASL2 && c.Name == "initial-response":
			r.initial = c.Content()
		case c.NS == NSSASL2 && c.Name == "user-agent":
			r.agentID = c.Attr("id")
			if r.agentID == "" || len(r.agentID) > maxAgentID {
				return bad("the user-agent id must be 1 to 128 characters (a UUID)")
			}
			r.software = strings.TrimSpace(c.ChildText("software", NSSASL2))
			r.device = strings.TrimSpace(c.ChildText("device", NSSASL2))
		case c.NS == NSBind2 && c.Name == "bind":
			b := &bind2Request{}
			for _, x := range c.Elements() {
				if x.NS == NSBind2 {
					if x.Name == "tag" {
						b.tag = strings.TrimSpace(x.Content())
					}
					continue
				}
				b.inline = append(b.inline, x)
			}
			r.bind = b
		case c.NS == NSFAST && c.Name == "request-token":
			r.requestToken = c.Attr("mechanism")
		case c.NS == NSFAST && c.Name == "fast":
			f := &fastRequest{count: -1}
			if v := c.Attr("count"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 {
					return bad("the FAST count must be a whole number")
				}
				f.count = n
			}
			switch c.Attr("invalidate") {
			case "true", "1":
				f.invalidate = true
			case "", "false", "0":
			default:
				return bad("invalidate is true or false")
			}
			r.fast = f
		case c.NS == NSSM && c.Name == "resume":
			r.resume = c
		}
		// Anything else (<supported/>, an extension we do not know) is
		// informational, or for a feature not offered: ignored.
	}
	return r, nil
}

// sasl2Feature is the <authentication/> stream feature: the mechanisms
// of the RFC 6120 profile and what may come inline.
func (c *conn) sasl2Feature() *stanza.Element {
	a := stanza.New("authentication", NSSASL2)
	for _, m := range c.mechanisms().Elements() {
		a.Append(stanza.New("mechanism", NSSASL2).AppendText(m.Content()))
	}
	inline := stanza.New("inline", NSSASL2)
	bind := stanza.New("inline", NSBind2)
	for _, in := range c.srv.cfg.Inlines {
		bind.Append(stanza.New("feature", NSBind2, "var", in.NS))
	}
	bind.Append(stanza.New("feature", NSBind2, "var", NSSM))
	inline.Append(stanza.New("bind", NSBind2).Append(bind))
	inline.Append(stanza.New("sm", NSSM))
	if c.srv.cfg.Tokens != nil {
		fast := stanza.New("fast", NSFAST)
		for _, m := range c.fastMechanisms() {
			fast.Append(stanza.New("mechanism", NSFAST).AppendText(m))
		}
		inline.Append(fast)
	}
	return a.Append(inline)
}

// saslNS is the namespace of the SASL exchange under way.
func (c *conn) saslNS() string {
	if c.sasl2 != nil {
		return NSSASL2
	}
	return stanza.NSSASL
}

// sasl2Failure is a SASL2 failure (XEP-0388 2.6.2): the condition of
// RFC 6120 6.5 in its namespace, and the text in SASL2's.
func sasl2Failure(cond saslFailure, text string) *stanza.Element {
	f := stanza.New("failure", NSSASL2).Append(stanza.New(string(cond), stanza.NSSASL))
	if text != "" {
		f.Append(stanza.New("text", NSSASL2, "xml:lang", "en").AppendText(text))
	}
	return f
}

// afterSASL2 answers a SASL2 login that succeeded: with Bind 2, a session
// whose <success/> goes out when it binds (serveSession, bindInline);
// without, the <success/>, the features of a logged-in stream (no
// restart, XEP-0388 2.6.1) and resource binding as RFC 6120 has it.
func (c *conn) afterSASL2(ctx context.Context) (*router.Session, error) {
	req := c.sasl2
	ok := stanza.New("success", NSSASL2)
	if c.successData != "" {
		ok.Append(stanza.New("additional-data", NSSASL2).AppendText(b64.EncodeToString([]byte(c.successData))))
	}
	token := c.fastResult(ctx)
	authz := stanza.New("authorization-identifier", NSSASL2)
	ok.Append(authz)
	if req.resume != nil {
		// XEP-0198 inline: <resumed/> in the success, and the stream
		// carries the old session on; or <failed/> in it, and binding
		// goes on below.
		// The resumption may still fail after this success is made (the
		// client's h is too high, the session closed meanwhile): it is a
		// copy, and ok stays as it was for binding.
		st, failed, err := c.resumeWith(ctx, req.resume, func(st *Stream, resumed *stanza.Element) *stanza.Element {
			success := ok.Clone()
			success.Child("authorization-identifier", NSSASL2).AppendText(st.sess.JID.String())
			if token != nil {
				success.Append(token)
			}
			return success.Append(resumed)
		})
		if err != nil || st != nil {
			c.resumed = st
			return nil, err
		}
		ok.Append(failed)
	}
	if req.bind == nil {
		authz.AppendText(jid.JID{Local: c.authed, Domain: c.srv.cfg.Domain}.String())
		if token != nil {
			ok.Append(token)
		}
		feats := stanza.New("features", stanza.NSStream).Append(c.features(AfterAuth,
			stanza.New("bind", stanza.NSBind),
			stanza.New("session", stanza.NSSession).Append(stanza.New("optional", stanza.NSSession)),
		)...)
		if _, err := c.f.Write([]*stanza.Element{ok, feats}); err != nil {
			return nil, err
		}
		return c.bind(ctx)
	}
	full, err := c.bind2Resource(req)
	if err != nil {
		// The account's name always makes a JID with our resources.
		return nil, &stream.Error{Condition: stream.InternalServerError}
	}
	if e := c.roomFor(full); e != nil {
		_ = c.send(sasl2Failure("aborted", e.Text))
		return nil, &stream.Error{Condition: stream.PolicyViolation, Text: e.Text}
	}
	authz.AppendText(full.String())
	bound := stanza.New("bound", NSBind2)
	ok.Append(bound)
	if token != nil {
		ok.Append(token)
	}
	c.bind2 = &bind2State{success: ok, bound: bound, inline: req.bind.inline}
	return &router.Session{JID: full, Addr: c.f.RemoteAddr(), Since: time.Now(), Secure: c.f.TLS() != nil}, nil
}
