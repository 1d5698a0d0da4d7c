package bench

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// The load client does not build element trees: it splits the incoming
// stream into top-level elements (RFC 6120 4.1: the children of
// <stream:stream>) and looks at just the attributes and texts it needs.
// Splitting uses bufio.Reader.ReadSlice, so a stanza costs a few memchr
// calls and no allocation once the element buffer has grown.

var (
	errStreamEnd = errors.New("stream closed by server")
	errTooLarge  = errors.New("element exceeds size limit")
)

type tokenKind int

const (
	tokElement    tokenKind = iota // a complete top-level element
	tokStreamOpen                  // the <stream:stream ...> open tag
)

// scanner splits an XML stream into top-level elements.
type scanner struct {
	r   *bufio.Reader
	buf []byte
	max int
}

func newScanner(r *bufio.Reader, max int) *scanner {
	return &scanner{r: r, buf: make([]byte, 0, 512), max: max}
}

// next returns the next top-level element or stream header. The bytes are
// valid until the following call. Whitespace between elements (keepalives),
// the XML declaration and comments at the top level are skipped. The end of
// the stream is reported as errStreamEnd.
func (s *scanner) next() (tokenKind, []byte, error) {
	s.buf = s.buf[:0]
	depth := 0
	for {
		if depth == 0 {
			if err := s.skipUntil('<'); err != nil {
				return 0, nil, err
			}
			s.buf = append(s.buf[:0], '<')
		} else if err := s.appendUntil('<'); err != nil {
			return 0, nil, err
		}
		ts := len(s.buf) - 1
		c, err := s.r.Peek(1)
		if err != nil {
			return 0, nil, unexpected(err)
		}
		switch c[0] {
		case '/':
			if err := s.appendUntil('>'); err != nil {
				return 0, nil, err
			}
			if depth == 0 {
				return 0, nil, errStreamEnd
			}
			depth--
			if depth == 0 {
				return tokElement, s.buf, nil
			}
		case '?':
			for {
				if err := s.appendUntil('>'); err != nil {
					return 0, nil, err
				}
				if bytes.HasSuffix(s.buf[ts:], []byte("?>")) {
					break
				}
			}
			s.buf = s.buf[:ts]
		case '!':
			for {
				if err := s.appendUntil('>'); err != nil {
					return 0, nil, err
				}
				if markupDone(s.buf[ts:]) {
					break
				}
			}
			if depth == 0 || !bytes.HasPrefix(s.buf[ts:], []byte("<![CDATA[")) {
				s.buf = s.buf[:ts] // comments and DTDs are dropped
			}
		default:
			for {
				if err := s.appendUntil('>'); err != nil {
					return 0, nil, err
				}
				if !inQuote(s.buf[ts:]) {
					break
				}
			}
			tag := s.buf[ts:]
			selfClosing := tag[len(tag)-2] == '/'
			if depth == 0 && !selfClosing && bytes.Equal(localName(tagName(tag)), []byte("stream")) {
				return tokStreamOpen, s.buf, nil
			}
			if selfClosing {
				if depth == 0 {
					return tokElement, s.buf, nil
				}
			} else {
				depth++
			}
		}
	}
}

// markupDone reports whether b, which starts with "<!" and ends with '>',
// is a complete comment, CDATA section or declaration.
func markupDone(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("<!--")):
		return len(b) >= 7 && bytes.HasSuffix(b, []byte("-->"))
	case bytes.HasPrefix(b, []byte("<![CDATA[")):
		return len(b) >= 12 && bytes.HasSuffix(b, []byte("]]>"))
	}
	return true
}

// inQuote reports whether a start tag read up to a '>' ends inside a quoted
// attribute value, so that the '>' belongs to the value.
func inQuote(tag []byte) bool {
	var q byte
	for _, c := range tag {
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		}
	}
	return q != 0
}

func (s *scanner) appendUntil(delim byte) error {
	for {
		b, err := s.r.ReadSlice(delim)
		s.buf = append(s.buf, b...)
		if len(s.buf) > s.max {
			return errTooLarge
		}
		if err == nil {
			return nil
		}
		if err != bufio.ErrBufferFull {
			return unexpected(err)
		}
	}
}

func (s *scanner) skipUntil(delim byte) error {
	for {
		_, err := s.r.ReadSlice(delim)
		if err == nil {
			return nil
		}
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// tagName returns the qualified name of the start tag that begins b.
func tagName(b []byte) []byte {
	if len(b) < 2 || b[0] != '<' {
		return nil
	}
	i := 1
	for i < len(b) && !isSpace(b[i]) && b[i] != '>' && b[i] != '/' {
		i++
	}
	return b[1:i]
}

// localName strips a namespace prefix.
func localName(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// attr returns the raw (still escaped) value of the attribute key on the
// start tag that begins b.
func attr(b []byte, key string) ([]byte, bool) {
	name := tagName(b)
	if name == nil {
		return nil, false
	}
	i := 1 + len(name)
	for i < len(b) {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] == '>' || b[i] == '/' {
			return nil, false
		}
		ns := i
		for i < len(b) && b[i] != '=' && !isSpace(b[i]) && b[i] != '>' {
			i++
		}
		n := b[ns:i]
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] != '=' {
			return nil, false
		}
		i++
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || (b[i] != '"' && b[i] != '\'') {
			return nil, false
		}
		q := b[i]
		i++
		vs := i
		for i < len(b) && b[i] != q {
			i++
		}
		if i >= len(b) {
			return nil, false
		}
		if string(n) == key {
			return b[vs:i], true
		}
		i++
	}
	return nil, false
}

// attrString returns the unescaped value of attribute key, or "".
func attrString(b []byte, key string) string {
	v, _ := attr(b, key)
	return string(unescape(v))
}

// eachTag calls fn for every start tag in the element el, the root's
// included, with the tag's bytes and the character data that directly
// follows it, until fn returns false.
func eachTag(el []byte, fn func(tag, text []byte) bool) {
	i := 0
	for {
		j := bytes.IndexByte(el[i:], '<')
		if j < 0 {
			return
		}
		i += j
		if i+1 >= len(el) {
			return
		}
		if c := el[i+1]; c == '/' || c == '?' || c == '!' {
			i++
			continue
		}
		end := tagEnd(el, i)
		if end < 0 {
			return
		}
		tag := el[i : end+1]
		var text []byte
		if el[end-1] != '/' {
			k := bytes.IndexByte(el[end+1:], '<')
			if k < 0 {
				k = len(el) - end - 1
			}
			text = el[end+1 : end+1+k]
		}
		if !fn(tag, text) {
			return
		}
		i = end + 1
	}
}

// tagEnd returns the index of the '>' closing the start tag at el[i], or -1.
func tagEnd(el []byte, i int) int {
	var q byte
	for ; i < len(el); i++ {
		c := el[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '>':
			return i
		}
	}
	return -1
}

// childText returns the unescaped text of the first element named local
// (any prefix, any depth) inside el, and whether there was one.
func childText(el []byte, local string) (string, bool) {
	var out string
	found := false
	eachTag(el, func(tag, text []byte) bool {
		if string(localName(tagName(tag))) == local {
			out, found = string(unescape(text)), true
			return false
		}
		return true
	})
	return out, found
}

// hasChild reports whether el contains an element named local below its root.
func hasChild(el []byte, local string) bool {
	root := true
	found := false
	eachTag(el, func(tag, _ []byte) bool {
		if root {
			root = false
			return true
		}
		if string(localName(tagName(tag))) == local {
			found = true
			return false
		}
		return true
	})
	return found
}

// rootText returns the character data directly inside the root of el, up to
// its first child or end tag.
func rootText(el []byte) []byte {
	end := tagEnd(el, 0)
	if end < 0 || el[end-1] == '/' {
		return nil
	}
	rest := el[end+1:]
	if k := bytes.IndexByte(rest, '<'); k >= 0 {
		rest = rest[:k]
	}
	return unescape(rest)
}

// unescape resolves the five predefined entities and character references.
// It returns b itself when there is nothing to resolve.
func unescape(b []byte) []byte {
	i := bytes.IndexByte(b, '&')
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	for i < len(b) {
		c := b[i]
		if c != '&' {
			out = append(out, c)
			i++
			continue
		}
		semi := bytes.IndexByte(b[i:], ';')
		if semi < 0 {
			out = append(out, b[i:]...)
			break
		}
		ent := b[i+1 : i+semi]
		switch string(ent) {
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "amp":
			out = append(out, '&')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			r, ok := charRef(ent)
			if !ok {
				out = append(out, b[i:i+semi+1]...)
			} else {
				out = utf8.AppendRune(out, r)
			}
		}
		i += semi + 1
	}
	return out
}

func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	base, digits := 10, ent[1:]
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil || n > 0x10FFFF {
		return 0, false
	}
	return rune(n), true
}

// appendEscaped appends s escaped for use in character data or in a
// quoted attribute value.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '"':
			b = append(b, "&quot;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// parseSeq parses "<prefix><decimal>[-<decimal>]" as used in the ids the
// load client gives its stanzas. It returns the two numbers; b is -1 when
// there is no second part.
func parseSeq(v []byte, prefix string) (a, b int64, ok bool) {
	if len(v) <= len(prefix) || string(v[:len(prefix)]) != prefix {
		return 0, 0, false
	}
	v = v[len(prefix):]
	a, v, ok = parseUint(v)
	if !ok {
		return 0, 0, false
	}
	if len(v) == 0 {
		return a, -1, true
	}
	if v[0] != '-' {
		return 0, 0, false
	}
	b, v, ok = parseUint(v[1:])
	if !ok || len(v) != 0 {
		return 0, 0, false
	}
	return a, b, true
}

func parseUint(v []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		if n > (1<<62)/10 {
			return 0, nil, false
		}
		n = n*10 + int64(v[i]-'0')
		i++
	}
	return n, v[i:], i > 0
}
