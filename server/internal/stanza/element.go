// Package stanza holds Hearth's owned XML element tree and the stanza views
// built on it (RFC 6120 8): Message, Presence and IQ with their JIDs parsed
// once, stanza errors (RFC 6120 8.3) and namespace constants.
package stanza

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// NSXML is the namespace bound to the xml: prefix.
const NSXML = "http://www.w3.org/XML/1998/namespace"

// Attr is an attribute. Space is the attribute's namespace URI: empty for
// ordinary attributes, NSXML for xml:lang.
type Attr struct {
	Space, Name, Value string
}

// Element is one XML element. Text runs are children whose Name is empty,
// so mixed content keeps its order. An Element handed to the router is
// immutable: Clone before changing it.
type Element struct {
	Name     string
	NS       string
	Attrs    []Attr
	Children []*Element
	Text     string // only for text nodes (Name == "")
	// Wire is the size in bytes a top-level element had on the wire when
	// it was decoded (0 for elements the server made).
	Wire int
	// Mem is the memory the decoder estimated a top-level element's tree
	// takes (0 for elements the server made); see Footprint.
	Mem int
}

// The memory a node and an attribute take beyond their strings, for
// Footprint: the struct, its place in its parent's slice, the
// allocator's rounding.
const (
	NodeCost = 144
	AttrCost = 64
)

// Footprint estimates the memory e's tree takes: a parsed stanza is many
// times its size on the wire, and what waits in a queue must be bounded by
// memory, not by wire bytes.
func (e *Element) Footprint() int {
	if e.Mem > 0 {
		return e.Mem
	}
	n := NodeCost + len(e.Name) + len(e.Text)
	for _, a := range e.Attrs {
		n += AttrCost + len(a.Name) + len(a.Value)
	}
	for _, c := range e.Children {
		n += c.Footprint()
	}
	return n
}

// New returns an element with the given name, namespace and attributes
// given as name, value pairs.
func New(name, ns string, attrs ...string) *Element {
	e := &Element{Name: name, NS: ns}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			e.Attrs = append(e.Attrs, Attr{Name: attrs[i], Value: attrs[i+1]})
		}
	}
	return e
}

// TextNode returns a text node.
func TextNode(s string) *Element { return &Element{Text: s} }

// IsText reports whether e is a text node.
func (e *Element) IsText() bool { return e.Name == "" }

// Attr returns the value of an attribute without namespace, or "".
func (e *Element) Attr(name string) string {
	for i := range e.Attrs {
		if e.Attrs[i].Name == name && e.Attrs[i].Space == "" {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// Lang returns xml:lang.
func (e *Element) Lang() string {
	for i := range e.Attrs {
		if e.Attrs[i].Name == "lang" && e.Attrs[i].Space == NSXML {
			return e.Attrs[i].Value
		}
	}
	return ""
}

// SetAttr sets or, with an empty value, removes an attribute.
func (e *Element) SetAttr(name, value string) *Element {
	set := false
	out := e.Attrs[:0]
	for _, a := range e.Attrs {
		if a.Name == name && a.Space == "" {
			if set || value == "" {
				continue // every other match goes
			}
			a.Value, set = value, true
		}
		out = append(out, a)
	}
	e.Attrs = out
	if !set && value != "" {
		e.Attrs = append(e.Attrs, Attr{Name: name, Value: value})
	}
	return e
}

// Append adds children and returns e.
func (e *Element) Append(children ...*Element) *Element {
	e.Children = append(e.Children, children...)
	return e
}

// AppendText adds a text child and returns e.
func (e *Element) AppendText(s string) *Element {
	if s != "" {
		e.Children = append(e.Children, TextNode(s))
	}
	return e
}

// Child returns the first child element with the name and namespace; an
// empty ns matches any namespace.
func (e *Element) Child(name, ns string) *Element {
	for _, c := range e.Children {
		if c.Name == name && (ns == "" || c.NS == ns) {
			return c
		}
	}
	return nil
}

// ChildNS returns the first child element in the namespace.
func (e *Element) ChildNS(ns string) *Element {
	for _, c := range e.Children {
		if c.Name != "" && c.NS == ns {
			return c
		}
	}
	return nil
}

// Elements returns the child elements, skipping text.
func (e *Element) Elements() []*Element {
	out := make([]*Element, 0, len(e.Children))
	for _, c := range e.Children {
		if c.Name != "" {
			out = append(out, c)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, c := range e.Children {
		if c.Name != "" {
			return c
		}
	}
	return nil
}

// Content returns the concatenated text of e's direct text children.
func (e *Element) Content() string {
	if e.Name == "" {
		return e.Text
	}
	n := 0
	var one string
	for _, c := range e.Children {
		if c.Name == "" {
			n++
			one = c.Text
		}
	}
	if n <= 1 {
		return one
	}
	var b strings.Builder
	for _, c := range e.Children {
		if c.Name == "" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// ChildText returns the text of the first matching child, or "".
func (e *Element) ChildText(name, ns string) string {
	if c := e.Child(name, ns); c != nil {
		return c.Content()
	}
	return ""
}

// RemoveChildren removes the child elements with the name and namespace.
func (e *Element) RemoveChildren(name, ns string) {
	out := e.Children[:0]
	for _, c := range e.Children {
		if c.Name == name && (ns == "" || c.NS == ns) {
			continue
		}
		out = append(out, c)
	}
	for i := len(out); i < len(e.Children); i++ {
		e.Children[i] = nil
	}
	e.Children = out
}

// Clone returns a deep copy.
func (e *Element) Clone() *Element {
	c := &Element{Name: e.Name, NS: e.NS, Text: e.Text}
	if len(e.Attrs) > 0 {
		c.Attrs = append([]Attr(nil), e.Attrs...)
	}
	if len(e.Children) > 0 {
		c.Children = make([]*Element, len(e.Children))
		for i, ch := range e.Children {
			c.Children[i] = ch.Clone()
		}
	}
	return c
}

// ShallowClone copies e and its attribute slice but shares the children: it
// is for changing top-level attributes (to, from, type) of an immutable
// stanza cheaply.
func (e *Element) ShallowClone() *Element {
	c := *e
	c.Attrs = append([]Attr(nil), e.Attrs...)
	c.Children = append([]*Element(nil), e.Children...)
	return &c
}

// String serialises e as a standalone element.
func (e *Element) String() string {
	var b bytes.Buffer
	e.WriteTo(&b, "")
	return b.String()
}

// Bytes serialises e as a standalone element, in a slice of its size.
func (e *Element) Bytes() []byte {
	b := byteBuffers.Get().(*bytes.Buffer)
	e.WriteTo(b, "")
	out := bytes.Clone(b.Bytes())
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		byteBuffers.Put(b)
	}
	return out
}

// byteBuffers are Bytes's buffers: a growing buffer per call left garbage
// of twice the element's size, for every archived message.
var byteBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer: a buffer grown larger than this (by a large element)
// goes to the collector rather than back to the pool.
const maxPooledBuffer = 64 << 10

// WriteTo appends e to b. parentNS is the default namespace in scope: an
// xmlns attribute is written only where e's namespace differs. Stanza
// elements are written in jabber:client; see Encode for other streams.
func (e *Element) WriteTo(b *bytes.Buffer, parentNS string) { e.write(b, parentNS, NSClient) }

// Encode appends e as a top-level element of a stream whose content
// namespace is content (jabber:client or jabber:server, RFC 6120 4.8.2).
//
// A tree does not depend on the stream it came from or goes to: the
// elements of stanzas (message, presence, iq, and their children in the
// content namespace such as body, show and error) are kept in NSClient,
// and the stream decoder maps jabber:server to it. Encode writes them in
// content, so the same tree goes out on a client or a server stream.
func (e *Element) Encode(b *bytes.Buffer, content string) { e.write(b, content, content) }

func (e *Element) write(b *bytes.Buffer, parentNS, content string) {
	if e.Name == "" {
		EscapeText(b, e.Text)
		return
	}
	ns := e.NS
	if ns == NSClient {
		ns = content
	}
	name := e.Name
	if ns == NSStream && parentNS != "" {
		// The stream's own elements inside a stream (<stream:features/>
		// after a SASL2 login) take the prefix its header declares; as a
		// root of their own (a WebSocket frame) they declare the
		// namespace.
		name, ns = "stream:"+name, parentNS
	}
	b.WriteByte('<')
	b.WriteString(name)
	if ns != parentNS {
		b.WriteString(` xmlns="`)
		EscapeAttr(b, ns)
		b.WriteByte('"')
	}
	var prefixes []string // namespaces of foreign attributes, by prefix number
	for _, a := range e.Attrs {
		b.WriteByte(' ')
		switch a.Space {
		case "":
		case NSXML:
			b.WriteString("xml:")
		default:
			// A foreign-namespace attribute gets one prefix per namespace.
			n := slices.Index(prefixes, a.Space)
			if n < 0 {
				n = len(prefixes)
				prefixes = append(prefixes, a.Space)
				b.WriteString("xmlns:ns")
				b.WriteString(strconv.Itoa(n))
				b.WriteString(`="`)
				EscapeAttr(b, a.Space)
				b.WriteString(`" `)
			}
			b.WriteString("ns")
			b.WriteString(strconv.Itoa(n))
			b.WriteByte(':')
		}
		b.WriteString(a.Name)
		b.WriteString(`="`)
		EscapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if len(e.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, c := range e.Children {
		c.write(b, ns, content)
	}
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
}

// textSpecial and attrSpecial are the bytes EscapeText and EscapeAttr
// replace: a table lookup per byte, not a switch, in the loops every
// serialised stanza runs through (the switch only for the rare byte that
// is one of them).
var textSpecial, attrSpecial = special("<>&\r"), special("<>&\r\"'\n\t")

func special(set string) (t [256]bool) {
	for i := range len(set) {
		t[set[i]] = true
	}
	return t
}

// EscapeText writes s escaped for character data.
func EscapeText(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		if !textSpecial[s[i]] {
			continue
		}
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// EscapeAttr writes s escaped for a double-quoted attribute value.
func EscapeAttr(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		if !attrSpecial[s[i]] {
			continue
		}
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		case '\t':
			esc = "&#x9;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}
