package c2s

import (
	"bytes"
	"errors"
	"strconv"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// What XEP-0124's <body/> wrapper holds: its attributes, read once, and
// the elements it carries, read with a stream's limits; and the bodies
// the server answers with.

// Namespaces of XEP-0124 and XEP-0206.
const (
	NSBOSH  = "http://jabber.org/protocol/httpbind"
	NSXBOSH = "urn:xmpp:xbosh"
)

// bodySlack is what a <body/> may take beyond the stanza limit: its own
// tags and attributes.
const bodySlack = 1024

// maxRID is the largest request id XEP-0124 7.1 allows (2^53 - 1, so
// that a JavaScript client counts it exactly).
const maxRID = 1<<53 - 1

// body is one request's <body/>.
type body struct {
	rid      int64 // 0: missing or not a number
	sid      string
	typ      string // "terminate", or ""
	to       string
	lang     string
	ver      string
	version  string // xmpp:version
	restart  bool   // xmpp:restart='true'
	wait     int    // -1: not given
	hold     int    // -1: not given
	children []*stanza.Element
}

// errBadBody is a body that is no XEP-0124 <body/>.
type errBadBody struct{ text string }

func (e *errBadBody) Error() string { return e.text }

// bodyLimits are the limits of a <body/> that carries elements read
// under lim: the body is one more level, its attributes are many.
func bodyLimits(lim stream.Limits) stream.Limits {
	lim = lim.WithDefaults()
	return stream.Limits{
		MaxStanza:   lim.MaxStanza + bodySlack,
		MaxDepth:    lim.MaxDepth + 1,
		MaxElements: lim.MaxElements + 1,
		MaxAttrs:    max(lim.MaxAttrs, 32),
		MaxScope:    lim.MaxScope + 4,
	}
}

// bodyPrefix makes the decoder read a body as an element of a stream in
// jabber:client whose header the client never sent.
var bodyPrefix = []byte(`<stream:stream xmlns="jabber:client" xmlns:stream="` + stanza.NSStream + `">`)

// parseBody reads one <body/> under lim (the limits of what it carries):
// a *stream.Error for XML that breaks them or is not well-formed, an
// *errBadBody for one that is no <body/>.
func parseBody(b []byte, lim stream.Limits) (*body, error) {
	src := &msgSource{b: bodyPrefix}
	dec := stream.NewDecoder(src, bodyLimits(lim))
	if _, err := dec.Header(); err != nil {
		panic("c2s: the BOSH body's own header does not parse: " + err.Error())
	}
	src.b = b
	el, err := dec.Next()
	switch {
	case errors.Is(err, errEndOfMessage):
		return nil, &stream.Error{Condition: stream.NotWellFormed, Text: "the request holds no whole <body/>"}
	case errors.Is(err, stream.ErrClosed):
		return nil, &stream.Error{Condition: stream.NotWellFormed, Text: "the request holds no <body/>"}
	case err != nil:
		return nil, err
	case !stream.IsSpace(dec.Unread()) || !stream.IsSpace(src.b):
		return nil, &stream.Error{Condition: stream.NotWellFormed, Text: "a request holds one <body/> and nothing after it"}
	case el.Name != "body" || el.NS != NSBOSH:
		return nil, &errBadBody{"a request is one <body xmlns='" + NSBOSH + "'/> (XEP-0124 4)"}
	}
	bd := &body{wait: -1, hold: -1}
	for _, a := range el.Attrs {
		switch {
		case a.Space == "":
			switch a.Name {
			case "rid":
				if n, err := strconv.ParseInt(a.Value, 10, 64); err == nil && n > 0 && n <= maxRID {
					bd.rid = n
				}
			case "sid":
				bd.sid = a.Value
			case "type":
				bd.typ = a.Value
			case "to":
				bd.to = a.Value
			case "ver":
				bd.ver = a.Value
			case "wait":
				bd.wait = smallInt(a.Value)
			case "hold":
				bd.hold = smallInt(a.Value)
			}
		case a.Space == stanza.NSXML && a.Name == "lang":
			bd.lang = a.Value
		case a.Space == NSXBOSH && a.Name == "version":
			bd.version = a.Value
		case a.Space == NSXBOSH && a.Name == "restart":
			bd.restart = a.Value == "true" || a.Value == "1"
		}
	}
	if bd.rid == 0 {
		return nil, &errBadBody{"every request has a rid, a whole number from 1 to 2^53-1 (XEP-0124 7.1)"}
	}
	for _, c := range el.Children {
		if c.IsText() {
			if !stream.IsSpace([]byte(c.Text)) {
				return nil, &errBadBody{"a <body/> holds elements, not text"}
			}
			continue
		}
		// XEP-0206 5: the stanzas are in jabber:client; one that does
		// not say so took the body's namespace by default.
		client(c)
		bd.children = append(bd.children, c)
	}
	return bd, nil
}

// client moves what took the body's namespace by default to jabber:client.
func client(el *stanza.Element) {
	if el.NS == NSBOSH {
		el.NS = stanza.NSClient
	}
	for _, c := range el.Children {
		if !c.IsText() {
			client(c)
		}
	}
}

// smallInt reads a non-negative count of up to six digits (wait, hold);
// -1 for anything else.
func smallInt(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 999999 {
		return -1
	}
	return n
}

// bodySID finds the sid attribute of a request's <body/> start tag
// without parsing the rest, so that the body can be parsed with its
// session's limits (small ones before login); "" when there is none or
// the tag does not read as one.
func bodySID(b []byte) string {
	for {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			return ""
		}
		b = b[i+1:]
		if len(b) == 0 || b[0] != '?' {
			break
		}
		// The XML declaration.
		end := bytes.Index(b, []byte("?>"))
		if end < 0 {
			return ""
		}
		b = b[end+2:]
	}
	// The tag's name, possibly prefixed.
	n := 0
	for n < len(b) && !isSpaceByte(b[n]) && b[n] != '>' && b[n] != '/' {
		n++
	}
	name := b[:n]
	if j := bytes.IndexByte(name, ':'); j >= 0 {
		name = name[j+1:]
	}
	if string(name) != "body" {
		return ""
	}
	b = b[n:]
	for {
		for len(b) > 0 && isSpaceByte(b[0]) {
			b = b[1:]
		}
		if len(b) == 0 || b[0] == '>' || b[0] == '/' {
			return ""
		}
		eq := bytes.IndexByte(b, '=')
		if eq < 0 {
			return ""
		}
		attr := bytes.TrimRight(b[:eq], " \t\r\n")
		b = bytes.TrimLeft(b[eq+1:], " \t\r\n")
		if len(b) == 0 || (b[0] != '"' && b[0] != '\'') {
			return ""
		}
		end := bytes.IndexByte(b[1:], b[0])
		if end < 0 {
			return ""
		}
		if string(attr) == "sid" {
			return string(b[1 : 1+end])
		}
		b = b[end+2:]
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// appendBody writes a response <body/> with the attributes given as
// name, value pairs (empty values left out) and els inside; the stream's
// own elements take the stream: prefix, stanzas declare jabber:client
// (XEP-0206 5).
func appendBody(b *bytes.Buffer, els []*stanza.Element, attrs ...string) {
	b.WriteString(`<body xmlns="` + NSBOSH + `" xmlns:stream="` + stanza.NSStream + `"`)
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] == "" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(attrs[i])
		b.WriteString(`="`)
		stanza.EscapeAttr(b, attrs[i+1])
		b.WriteByte('"')
	}
	if len(els) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, el := range els {
		el.WriteTo(b, NSBOSH)
	}
	b.WriteString("</body>")
}

// terminateBody is a <body type='terminate'/> with a condition of XEP-0124
// 17 (or none: a plain end), and els before the end.
func terminateBody(cond string, els ...*stanza.Element) []byte {
	var b bytes.Buffer
	appendBody(&b, els, "type", "terminate", "condition", cond)
	return b.Bytes()
}
