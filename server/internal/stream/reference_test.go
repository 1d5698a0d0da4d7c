package stream

// The encoding/xml stream decoder that Decoder replaced, kept as the
// reference for FuzzDifferential. It is not used outside tests.

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"hearth/server/internal/stanza"
)

// refCountReader is the byte source under the XML decoder: it counts bytes
// since the last reset and fails once the stanza limit is passed, so a huge
// token is refused before encoding/xml buffers it whole.
type refCountReader struct {
	r     *bufio.Reader
	n     int
	limit int
}

func (c *refCountReader) ReadByte() (byte, error) {
	if c.n >= c.limit {
		return 0, errTooBig
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *refCountReader) Read(p []byte) (int, error) {
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

// refDecoder reads one stream.
type refDecoder struct {
	lim      Limits
	elements int
	cr       refCountReader
	x        *xml.Decoder
	opened   bool
	server   bool // a jabber:server stream (see Decoder.server)
	scope    int  // namespace declarations in scope
}

// newRefDecoder returns a decoder reading from r.
func newRefDecoder(r io.Reader, lim Limits) *refDecoder {
	d := &refDecoder{lim: lim.WithDefaults()}
	d.Reset(r)
	return d
}

// Reset starts a new stream over r (after STARTTLS), or over the same
// buffered source when r is nil (stream restart after SASL, RFC 6120 6.4.6).
func (d *refDecoder) Reset(r io.Reader) {
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
	d.server = false
	d.scope = 0
}

// Buffered reports how many bytes are read from the source but not yet
// decoded; STARTTLS must not start with bytes pending (RFC 6120 5.4.3.3).
func (d *refDecoder) Buffered() int { return d.cr.r.Buffered() }

// Header reads up to and including the stream header.
func (d *refDecoder) Header() (Header, error) {
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
			if !IsSpace(t) {
				return Header{}, ErrNotWellFormed
			}
		case xml.StartElement:
			if t.Name.Local != "stream" {
				return Header{}, &Error{Condition: InvalidNamespace, Text: "expected stream:stream"}
			}
			if t.Name.Space != stanza.NSStream {
				return Header{}, &Error{Condition: InvalidNamespace}
			}
			if err := d.limitAttrs(t.Attr); err != nil {
				return Header{}, err
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
			d.server = h.NS == stanza.NSServer
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
func (d *refDecoder) Next() (*stanza.Element, error) {
	d.cr.n = 0
	for {
		tok, err := d.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if !IsSpace(t) {
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

func (d *refDecoder) element(start xml.StartElement, depth int) (*stanza.Element, error) {
	if depth > d.lim.MaxDepth {
		return nil, &Error{Condition: PolicyViolation, Text: "nesting too deep"}
	}
	el := &stanza.Element{Name: start.Name.Local, NS: start.Name.Space}
	if d.server && el.NS == stanza.NSServer {
		el.NS = stanza.NSClient
	}
	if err := d.limitAttrs(start.Attr); err != nil {
		return nil, err
	}
	defer func(scope int) { d.scope = scope }(d.scope - decls(start.Attr))
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
			n := len(el.Children)
			if n > 0 && el.Children[n-1].Name == "" {
				if el.Children[n-1].Text == "" && s != "" {
					d.elements++ // the text node counts once it holds text
				}
				el.Children[n-1].Text += s
			} else {
				if s != "" {
					d.elements++
				}
				el.Children = append(el.Children, stanza.TextNode(s))
			}
			if d.elements > d.lim.MaxElements {
				return nil, &Error{Condition: PolicyViolation, Text: "too many elements in one stanza"}
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

// limitAttrs applies MaxAttrs and MaxScope to a start tag's attributes,
// declarations included, and brings its declarations into scope (the
// caller takes them out at the end of the element).
func (d *refDecoder) limitAttrs(attrs []xml.Attr) error {
	if len(attrs) > d.lim.MaxAttrs {
		return &Error{Condition: PolicyViolation, Text: "too many attributes in one element"}
	}
	d.scope += decls(attrs)
	if d.scope > d.lim.MaxScope {
		return &Error{Condition: PolicyViolation, Text: "too many namespace declarations"}
	}
	return nil
}

// decls counts the namespace declarations among attributes.
func decls(attrs []xml.Attr) int {
	n := 0
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			n++
		}
	}
	return n
}

// token reads one token and maps decoder failures to stream errors.
func (d *refDecoder) token() (xml.Token, error) {
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
