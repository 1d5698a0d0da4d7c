package mam

import "hearth/server/internal/stanza"

// Every archived message goes to its recipient with a stanza-id added
// (XEP-0359): a copy of the element with one more child. Built piece by
// piece that was eight allocations per message; stamped holds the copy,
// its child array and the stanza-id in one.

// stampKids is the children stamped holds: enough for the usual message
// (a body and a few hints, markers or receipts, and the stanza-id); a
// message with more gets an array of its own. With them stampedStanza is
// 568 bytes, which with the allocator's 8-byte header for large objects
// fills its 576-byte size class (TestStampSize).
const stampKids = 13

// stamped is a message with a stanza-id child.
type stamped struct {
	el, sid  stanza.Element
	sidAttrs [2]stanza.Attr
	kids     [stampKids]*stanza.Element
}

// stampedStanza is the recipient's copy of a message, its view included.
type stampedStanza struct {
	st stanza.Stanza
	stamped
}

// withStanzaID returns a copy of st whose element has a stanza-id by by
// with the id; st is unchanged.
func withStanzaID(st *stanza.Stanza, by, id string) *stanza.Stanza {
	c := &stampedStanza{st: *st}
	c.st.El = c.stamp(st.El, by, id)
	return &c.st
}

// stamp makes s a copy of el with a stanza-id appended and returns it.
// The copy has an array of children of its own and shares el's
// attributes and children: an element handed to the router is immutable
// (package stanza), so neither changes them in place, and both slices
// are full (length == capacity), so an append on the copy, or on a struct
// copy of it, takes a new array rather than write past them.
func (s *stamped) stamp(el *stanza.Element, by, id string) *stanza.Element {
	s.sidAttrs = [2]stanza.Attr{{Name: "by", Value: by}, {Name: "id", Value: id}}
	s.sid = stanza.Element{Name: "stanza-id", NS: NSSID, Attrs: s.sidAttrs[:]}
	s.el = *el
	if n := len(el.Attrs); n > 0 {
		s.el.Attrs = el.Attrs[:n:n]
	}
	var kids []*stanza.Element
	if n := len(el.Children) + 1; n <= len(s.kids) {
		kids = s.kids[:n:n]
	} else {
		kids = make([]*stanza.Element, n)
	}
	copy(kids, el.Children)
	kids[len(kids)-1] = &s.sid
	s.el.Children = kids
	return &s.el
}
