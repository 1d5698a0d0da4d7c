package stanza

import (
	"hearth/server/internal/jid"
)

// Namespaces used across the server.
const (
	NSClient         = "jabber:client"
	NSServer         = "jabber:server"
	NSComponent      = "jabber:component:accept" // XEP-0114 streams
	NSStream         = "http://etherx.jabber.org/streams"
	NSStanzas        = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams        = "urn:ietf:params:xml:ns:xmpp-streams"
	NSTLS            = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL           = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind           = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession        = "urn:ietf:params:xml:ns:xmpp-session"
	NSRoster         = "jabber:iq:roster"
	NSRosterVer      = "urn:xmpp:features:rosterver"
	NSPreApproval    = "urn:xmpp:features:pre-approval"
	NSDelay          = "urn:xmpp:delay"
	NSDiscoInfo      = "http://jabber.org/protocol/disco#info"
	NSDiscoItems     = "http://jabber.org/protocol/disco#items"
	NSPing           = "urn:xmpp:ping"
	NSVersion        = "jabber:iq:version"
	NSTime           = "urn:xmpp:time"
	NSLast           = "jabber:iq:last"
	NSVCard          = "vcard-temp"
	NSPrivate        = "jabber:iq:private"
	NSBlocking       = "urn:xmpp:blocking"
	NSBlockingErrors = "urn:xmpp:blocking:errors"
	NSRegister       = "jabber:iq:register"
	NSDataForms      = "jabber:x:data"
	NSServerInfo     = "http://jabber.org/network/serverinfo"
	NSOffline        = "msgoffline"
)

// Kind is the stanza kind.
type Kind uint8

// Stanza kinds.
const (
	KindNone Kind = iota
	KindMessage
	KindPresence
	KindIQ
)

func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindPresence:
		return "presence"
	case KindIQ:
		return "iq"
	}
	return "none"
}

// Stanza is a parsed view over a top-level element: its kind, addresses,
// type and id, read once. The element is shared and must not be changed.
type Stanza struct {
	El       *Element
	Kind     Kind
	From, To jid.JID
	Type, ID string
}

// IsStanzaNS reports whether ns is a stanza namespace of a stream.
func IsStanzaNS(ns string) bool { return ns == NSClient || ns == NSServer }

// KindOf returns the kind of a top-level element.
func KindOf(el *Element) Kind {
	if !IsStanzaNS(el.NS) {
		return KindNone
	}
	switch el.Name {
	case "message":
		return KindMessage
	case "presence":
		return KindPresence
	case "iq":
		return KindIQ
	}
	return KindNone
}

// Parse builds the view of a top-level element. It fails with jid-malformed
// for a bad to or from address, and with bad-request for an element that is
// not a stanza.
func Parse(el *Element) (*Stanza, *Error) {
	s := &Stanza{El: el, Kind: KindOf(el)}
	if s.Kind == KindNone {
		return nil, ErrBadRequest("not a stanza")
	}
	for _, a := range el.Attrs {
		if a.Space != "" {
			continue
		}
		switch a.Name {
		case "to":
			j, err := jid.Parse(a.Value)
			if err != nil {
				return nil, NewError(Modify, JIDMalformed, "invalid 'to' address")
			}
			s.To = j
		case "from":
			j, err := jid.Parse(a.Value)
			if err != nil {
				return nil, NewError(Modify, JIDMalformed, "invalid 'from' address")
			}
			s.From = j
		case "type":
			s.Type = a.Value
		case "id":
			s.ID = a.Value
		}
	}
	return s, nil
}

// WithAddrs returns a copy of s whose element carries the given from and to
// (an empty JID removes the attribute). Children are shared.
func (s *Stanza) WithAddrs(from, to jid.JID) *Stanza {
	el := s.El.ShallowClone()
	el.SetAttr("from", addr(from))
	el.SetAttr("to", addr(to))
	c := *s
	c.El, c.From, c.To = el, from, to
	return &c
}

func addr(j jid.JID) string {
	if j.IsZero() {
		return ""
	}
	return j.String()
}

// IsError reports whether the stanza is of type error.
func (s *Stanza) IsError() bool { return s.Type == "error" }

// Body returns the message body, if any.
func (s *Stanza) Body() string { return s.El.ChildText("body", "") }

// Payload returns the first child element of an IQ.
func (s *Stanza) Payload() *Element { return s.El.FirstElement() }

// Result builds an IQ result for an IQ request, with an optional payload.
func (s *Stanza) Result(payload *Element) *Element {
	r := New("iq", NSClient, "type", "result", "id", s.ID)
	r.SetAttr("to", addr(s.From))
	r.SetAttr("from", addr(s.To))
	if payload != nil {
		r.Append(payload)
	}
	return r
}

// ErrorReply builds the error response to s (RFC 6120 8.3.1): to and from
// swapped, type error, the original children kept for context while s
// was small (maxEchoed on the wire). A large one is not sent back: a
// client refused because what it sent is too much, or goes where it
// cannot be taken, would get it all again, and could be cut off for not
// reading its replies fast enough.
func (s *Stanza) ErrorReply(e *Error) *Element {
	r := &Element{Name: s.El.Name, NS: NSClient}
	r.SetAttr("id", s.ID)
	r.SetAttr("to", addr(s.From))
	r.SetAttr("from", addr(s.To))
	r.SetAttr("type", "error")
	// A stanza the server made has no wire size: its footprint in
	// memory, a few times the wire's, stands in.
	if s.El.Wire > maxEchoed || s.El.Wire == 0 && s.El.Footprint() > 4*maxEchoed {
		// Nothing of the original.
	} else if s.Kind != KindIQ {
		for _, c := range s.El.Children {
			if c.Name != "error" {
				r.Children = append(r.Children, c)
			}
		}
	} else if p := s.Payload(); p != nil && s.Type != "result" {
		r.Children = append(r.Children, p)
	}
	r.Children = append(r.Children, e.Element())
	return r
}

// maxEchoed is the largest stanza (bytes on the wire) whose children an
// error reply repeats.
const maxEchoed = 8 << 10
