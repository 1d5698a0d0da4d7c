package mam

import "hearth/server/internal/stanza"

// Every archived message goes to its recipient with a stanza-id added
// (XEP-0359): a copy of the element with one more child. Built piece by
// piece that was eight allocations per message; stamped holds the copy,
// its attribute and child arrays and the stanza-id in one.

// The arrays stamped holds: enough for the usual message (from, to, type,
// id, xml:lang; a body and a few hints, markers or receipts). A message
// with more gets arrays of its own. With them stampedStanza is 760 bytes,
// which with the allocator's 8-byte header for large objects fills its
// 768-byte size class: one child more would cost 128 bytes.
const (
	stampAttrs = 5
	stampKids  = 7
)

// stamped is a message with a stanza-id child.
type stamped struct {
	el, sid  stanza.Element
	sidAttrs [2]stanza.Attr
	attrs    [stampAttrs]stanza.Attr
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
// As with ShallowClone, the copy shares the children but not the arrays
// that hold them or the attributes: a later in-place change (SetAttr,
// RemoveChildren) on either element never shows in the other. The
// slices are full (length == capacity): an append, on the copy or on a
// struct copy of it, takes a new array rather than write past them.
func (s *stamped) stamp(el *stanza.Element, by, id string) *stanza.Element {
	s.sidAttrs = [2]stanza.Attr{{Name: "by", Value: by}, {Name: "id", Value: id}}
	s.sid = stanza.Element{Name: "stanza-id", NS: NSSID, Attrs: s.sidAttrs[:]}
	s.el = *el
	switch n := len(el.Attrs); {
	case n == 0:
		s.el.Attrs = nil
	case n <= len(s.attrs):
		copy(s.attrs[:], el.Attrs)
		s.el.Attrs = s.attrs[:n:n]
	default:
		s.el.Attrs = make([]stanza.Attr, n)
		copy(s.el.Attrs, el.Attrs)
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
