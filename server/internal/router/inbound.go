package router

import (
	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// What comes from outside the server's own making (clients, other
// servers, peers on the LAN) is checked here: the stanza syntax rules,
// and delays that claim to be ours.

// StripOwnDelay takes out of a message from outside (a client, another
// server, a peer on the LAN) the <delay/> elements that claim to come
// from this server's domain: only the server itself says when it stored
// a message (XEP-0203). el must be the caller's own copy (ShallowClone):
// its child slice changes.
func (r *Router) StripOwnDelay(el *stanza.Element) { r.stripOwnDelay(el) }

func (r *Router) stripOwnDelay(el *stanza.Element) {
	// el is the session's own shallow copy: its child slice may change.
	out := el.Children[:0]
	for _, c := range el.Children {
		if !(c.Name == "delay" && c.NS == stanza.NSDelay && r.isDomain(c.Attr("from"))) {
			out = append(out, c)
		}
	}
	el.Children = out
}

// isDomain reports whether s names the server's domain, however it is
// written (EXAMPLE.org, example.org.).
func (r *Router) isDomain(s string) bool {
	if s == r.Domain {
		return true
	}
	j, err := jid.Parse(s)
	return err == nil && j == jid.JID{Domain: r.Domain}
}

// validate applies the stanza syntax rules of RFC 6120 8.2 and 8.2.3.
func validate(st *stanza.Stanza) *stanza.Error {
	switch st.Kind {
	case stanza.KindIQ:
		if st.ID == "" {
			return stanza.ErrBadRequest("an IQ needs an id")
		}
		switch st.Type {
		case "get", "set":
			n := 0
			for _, c := range st.El.Children {
				if c.Name != "" {
					n++
				}
			}
			if n != 1 {
				return stanza.ErrBadRequest("an IQ get or set has exactly one payload")
			}
		case "result", "error":
		default:
			return stanza.ErrBadRequest("unknown IQ type")
		}
	case stanza.KindPresence:
		switch st.Type {
		case "", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
		default:
			return stanza.ErrBadRequest("unknown presence type")
		}
	}
	return nil
}
