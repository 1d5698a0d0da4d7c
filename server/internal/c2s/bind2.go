package c2s

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// InlineHandler turns on, for a session binding with Bind 2 (XEP-0386),
// a feature the client asked for inside <bind/>: el is the request
// (<enable xmlns='urn:xmpp:carbons:2'/>, <inactive xmlns='urn:xmpp:csi:0'/>,
// stream management's <enable/>). What it returns, if not nil, goes into
// the <bound/> of the success (stream management's <enabled/> or
// <failed/>).
//
// It runs once the bind is certain, before the session is routable and
// before anything is written to it, under the lock that orders binds
// with the administrator's closing of accounts: it must be quick and
// must not wait on the network or the database. A session it ran for
// ends like any other (SessionEnded).
type InlineHandler func(ctx context.Context, s *Stream, el *stanza.Element) *stanza.Element

// Inline registers a Bind 2 inline feature: advertised as
// <feature var='NS'/> in Bind 2's stream feature, and given the elements
// of namespace NS in a <bind/> request. Modules offer them as they offer
// stream elements (server.New collects BindInlines()).
type Inline struct {
	NS     string
	Handle InlineHandler
}

// bind2State is a Bind 2 login waiting for its session to bind.
type bind2State struct {
	success *stanza.Element // the SASL2 <success/>, queued first
	bound   *stanza.Element // its <bound/>, which the inline results join
	inline  []*stanza.Element
}

// bind2Resource is the resource Bind 2 gives a login (XEP-0386 2.2.1):
// the client's tag, a dot, and a short hash of the account and the
// user-agent id, so that the same device gets the same resource back
// (and replaces its older session, which ends with conflict); without a
// user-agent, a random one. The id itself never shows: only 8 hex
// digits of its hash. A tag that is no valid resource, or longer than
// maxTag, is left out.
func (c *conn) bind2Resource(req *sasl2Request) (jid.JID, error) {
	suffix := newID()[:8]
	if req.agentID != "" {
		sum := sha256.Sum256([]byte("hearth bind2\x00" + c.authed + "\x00" + req.agentID))
		suffix = hex.EncodeToString(sum[:4])
	}
	if tag := req.bind.tag; tag != "" && len(tag) <= maxTag {
		if full, err := jid.New(c.authed, c.srv.cfg.Domain, tag+"."+suffix); err == nil && full.Resource != "" {
			return full, nil
		}
	}
	return jid.New(c.authed, c.srv.cfg.Domain, suffix)
}

// bindInline runs the inline features of a Bind 2 login and queues its
// <success/> ahead of anything else; it is bind's ready function, called
// once the bind is certain.
func (s *Server) bindInline(ctx context.Context, c *conn, st *Stream) {
	b := c.bind2
	if b == nil {
		return
	}
	c.bind2 = nil
	for _, el := range b.inline {
		if h := s.inlines[el.NS]; h != nil {
			if r := h(ctx, st, el); r != nil {
				b.bound.Append(r)
			}
		}
	}
	o := st.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = append([]*stanza.Element{b.success}, o.queue...)
	if o.dones != nil {
		o.dones = append([]func(bool){nil}, o.dones...)
	}
	o.queued += size(b.success)
	o.smStartsAfterLocked(b.success)
}
