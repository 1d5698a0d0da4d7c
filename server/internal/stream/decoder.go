// Package stream implements XML stream framing (RFC 6120 4): the stream
// header, a restricted-XML decoder (RFC 6120 11) with byte and depth limits,
// stream errors and the header writer.
package stream

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"hearth/server/internal/stanza"
)

// Limits bound what one peer may send.
type Limits struct {
	// MaxStanza is the largest top-level element in bytes (default 256 KiB).
	MaxStanza int
	// MaxDepth is the deepest nesting inside a stanza (default 32).
	MaxDepth int
	// MaxElements bounds the elements in one stanza (default 4096): the
	// parsed tree is many times its wire size, so the byte limit alone
	// does not bound memory.
	MaxElements int
}

// Defaults for Limits.
const (
	DefaultMaxStanza   = 256 << 10
	DefaultMaxDepth    = 32
	DefaultMaxElements = 4096
)

func (l Limits) withDefaults() Limits {
	if l.MaxStanza <= 0 {
		l.MaxStanza = DefaultMaxStanza
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	return l
}

// Header is the opening <stream:stream> of a stream (RFC 6120 4.7).
type Header struct {
	To, From, ID, Version, Lang string
	NS                          string // content namespace: jabber:client or jabber:server
	Attrs                       []xml.Attr
}

// ErrClosed is returned by Next when the peer closed the stream with
// </stream:stream>.
var ErrClosed = errors.New("stream closed by peer")

var errTooBig = errors.New("stanza too big")

// countReader is the byte source under the XML decoder: it counts bytes
// since the last reset and fails once the stanza limit is passed, so a huge
// token is refused before encoding/xml buffers it whole.
type countReader struct {
	r     *bufio.Reader
	n     int
	limit int
}

func (c *countReader) ReadByte() (byte, error) {
	if c.n >= c.limit {
		return 0, errTooBig
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, errTooBig
	}
	if len(p) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Decoder reads one stream.
type Decoder struct {
	lim      Limits
	elements int
	cr       countReader
	x        *xml.Decoder
	opened   bool
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.withDefaults()}
	d.Reset(r)
	return d
}

// Reset starts a new stream over r (after STARTTLS), or over the same
// buffered source when r is nil (stream restart after SASL, RFC 6120 6.4.6).
func (d *Decoder) Reset(r io.Reader) {
	if r != nil {
		br, ok := r.(*bufio.Reader)
		if !ok {
			// Small: TLS has a record buffer of its own underneath, and
			// this one is held by every idle connection.
			br = bufio.NewReaderSize(r, 1024)
		}
		d.cr.r = br
	}
	d.cr.limit = d.lim.MaxStanza
	d.cr.n = 0
	d.x = xml.NewDecoder(&d.cr)
	d.x.Strict = true
	d.opened = false
}

// Buffered reports how many bytes are read from the source but not yet
// decoded; STARTTLS must not start with bytes pending (RFC 6120 5.4.3.3).
func (d *Decoder) Buffered() int { return d.cr.r.Buffered() }

// Header reads up to and including the stream header.
func (d *Decoder) Header() (Header, error) {
	d.cr.n = 0
	for {
		tok, err := d.token()
		if err != nil {
			return Header{}, err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return Header{}, ErrRestrictedXML
			}
		case xml.CharData:
			if !isSpace(t) {
				return Header{}, ErrNotWellFormed
			}
		case xml.StartElement:
			if t.Name.Local != "stream" {
				return Header{}, &Error{Condition: InvalidNamespace, Text: "expected stream:stream"}
			}
			if t.Name.Space != stanza.NSStream {
				return Header{}, &Error{Condition: InvalidNamespace}
			}
			h := Header{Attrs: t.Attr}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					h.NS = a.Value
				case a.Name.Space == "":
					switch a.Name.Local {
					case "to":
						h.To = a.Value
					case "from":
						h.From = a.Value
					case "id":
						h.ID = a.Value
					case "version":
						h.Version = a.Value
					}
				case a.Name.Space == stanza.NSXML && a.Name.Local == "lang":
					h.Lang = a.Value
				}
			}
			d.opened = true
			d.cr.n = 0
			return h, nil
		default:
			return Header{}, ErrRestrictedXML
		}
	}
}

// Next returns the next top-level element. Whitespace between elements
// (keepalives) is skipped. It returns ErrClosed at </stream:stream>, a
// *Error for a violation, or the underlying read error.
func (d *Decoder) Next() (*stanza.Element, error) {
	d.cr.n = 0
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !isSpace(t) {
				return nil, ErrNotWellFormed
			}
			d.cr.n = 0
		case xml.StartElement:
			d.elements = 0
			el, err := d.element(t, 1)
			if el != nil {
				el.Wire = d.cr.n
			}
			d.cr.n = 0
			return el, err
		case xml.EndElement:
			return nil, ErrClosed
		default:
			return nil, ErrRestrictedXML
		}
	}
}

func (d *Decoder) element(start xml.StartElement, depth int) (*stanza.Element, error) {
	if depth > d.lim.MaxDepth {
		return nil, &Error{Condition: PolicyViolation, Text: "nesting too deep"}
	}
	el := &stanza.Element{Name: start.Name.Local, NS: start.Name.Space}
	d.elements++
	if d.elements > d.lim.MaxElements {
		return nil, &Error{Condition: PolicyViolation, Text: "too many elements in one stanza"}
	}
	for _, a := range start.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		// XML 1.0 3.1 (Unique Att Spec): encoding/xml lets repeats through,
		// and a second from or type must never ride past the stamping.
		for _, b := range el.Attrs {
			if b.Name == a.Name.Local && b.Space == a.Name.Space {
				return nil, &Error{Condition: NotWellFormed, Text: "duplicate attribute " + a.Name.Local}
			}
		}
		el.Attrs = append(el.Attrs, stanza.Attr{Space: a.Name.Space, Name: a.Name.Local, Value: a.Value})
	}
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			s := string(t)
			if n := len(el.Children); n > 0 && el.Children[n-1].Name == "" {
				el.Children[n-1].Text += s
			} else {
				el.Children = append(el.Children, stanza.TextNode(s))
			}
		case xml.StartElement:
			c, err := d.element(t, depth+1)
			if err != nil {
				return nil, err
			}
			el.Children = append(el.Children, c)
		case xml.EndElement:
			return el, nil
		default:
			return nil, ErrRestrictedXML
		}
	}
}

// token reads one token and maps decoder failures to stream errors.
func (d *Decoder) token() (xml.Token, error) {
	tok, err := d.x.Token()
	if err == nil {
		switch tok.(type) {
		case xml.Comment, xml.Directive:
			return nil, ErrRestrictedXML
		case xml.ProcInst:
			if d.opened {
				return nil, ErrRestrictedXML
			}
		}
		return tok, nil
	}
	switch {
	case errors.Is(err, errTooBig):
		return nil, &Error{Condition: PolicyViolation, Text: "stanza too big"}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, io.EOF
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "unexpected EOF") {
			return nil, io.EOF
		}
		if strings.Contains(se.Msg, "entity") {
			return nil, ErrRestrictedXML
		}
		return nil, &Error{Condition: NotWellFormed, Text: se.Msg}
	}
	var ue xml.UnmarshalError
	if errors.As(err, &ue) {
		return nil, &Error{Condition: NotWellFormed, Text: string(ue)}
	}
	// Anything else is an I/O error from the connection.
	return nil, err
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// Unmarshal decodes one stored element (written by Element.Bytes) in the
// jabber:client namespace.
func Unmarshal(b []byte) (*stanza.Element, error) {
	r := io.MultiReader(strings.NewReader(`<stream:stream xmlns="jabber:client" xmlns:stream="`+stanza.NSStream+`">`), bytes.NewReader(b))
	d := NewDecoder(r, Limits{MaxStanza: len(b) + 1024, MaxDepth: 64})
	if _, err := d.Header(); err != nil {
		return nil, err
	}
	return d.Next()
}
