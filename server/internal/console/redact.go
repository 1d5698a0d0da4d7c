package console

import (
	"bytes"
	"strings"
)

// Redacted stands for what the console never shows.
const Redacted = "[redacted]"

// cut stands for the rest of a frame not shown: markup cut off, or bytes
// that are not an element's beginning.
const cut = "[cut]"

// secretContent are the elements whose content is never shown, by local
// name: SASL (RFC 6120 6.4) and SASL2 payloads, passwords (XEP-0077
// registration and password change, XEP-0078, MUC room passwords) and
// legacy auth digests. Form fields are judged by secretField, and a
// password attribute on any element is hidden too.
var secretContent = map[string]bool{
	"auth": true, "response": true, "challenge": true, "success": true,
	"initial-response": true, "additional-data": true,
	"password": true, "digest": true,
}

// secretAttrs are attributes never shown, by element local name: stream
// management's resumption ids (XEP-0198 5), which let whoever has them
// take over the session, and FAST tokens (XEP-0484; inside <success/>,
// hidden whole, but never shown anywhere).
var secretAttrs = map[string][]string{
	"token":   {"token"},
	"enabled": {"id"},
	"resume":  {"previd"},
	"resumed": {"previd"},
}

// Redact returns frame, one top-level element or a piece of one, with
// secrets replaced by [redacted]. It fails closed: a secret element that
// does not end in frame is redacted to the end, and a tag cut off before
// its '>' is not shown. A frame is shown only from an element's start:
// text outside every element, or an end tag without its start (the middle
// of an element whose beginning went by unseen, which may be a password's
// rest), ends what is shown with [cut]; the stream's own end tag is the
// one end tag that stands alone.
func Redact(frame []byte) string {
	var b strings.Builder
	b.Grow(len(frame))
	depth := 0 // elements open in frame
	hide := 0  // depth inside a secret element; 0: showing
	hideName := ""
	for i := 0; i < len(frame); {
		if frame[i] != '<' {
			j := bytes.IndexByte(frame[i:], '<')
			if j < 0 {
				j = len(frame) - i
			}
			text := frame[i : i+j]
			if depth == 0 && len(bytes.Trim(text, " \t\r\n")) > 0 {
				b.WriteString(cut)
				break
			}
			if hide == 0 {
				b.Write(text)
			}
			i += j
			continue
		}
		rest := frame[i:]
		var end int
		switch {
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end = sectionEnd(rest, "]]>")
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = sectionEnd(rest, "-->")
		case bytes.HasPrefix(rest, []byte("<?")):
			end = sectionEnd(rest, "?>")
		default:
			end = tagEnd(rest)
		}
		if end < 0 {
			// Cut off inside markup: show nothing of it.
			if hide == 0 {
				b.WriteString(cut)
			}
			break
		}
		tok := rest[:end]
		i += end
		if len(tok) < 2 || tok[1] == '!' || tok[1] == '?' {
			if hide == 0 {
				b.Write(tok)
			}
			continue
		}
		closing := tok[1] == '/'
		self := !closing && tok[len(tok)-2] == '/'
		if hide > 0 {
			switch {
			case closing && (hide > 1 || localName(tok[1:]) == hideName):
				hide--
				if hide == 0 {
					depth--
					b.WriteString(Redacted)
					b.Write(tok)
				}
			case !self:
				hide++
			}
			continue
		}
		if closing {
			if depth == 0 && localName(tok[1:]) != "stream" {
				b.WriteString(cut)
				break
			}
			depth = max(depth-1, 0)
			b.Write(tok)
			continue
		}
		name := localName(tok)
		secret := secretContent[name] || name == "field" && secretField(tok)
		attrs := secretAttrs[name]
		if containsFold(tok, "password") {
			// XEP-0249 direct invitations: <x xmlns='jabber:x:conference'
			// password='…'/>, and any other password in an attribute.
			attrs = append(attrs[:len(attrs):len(attrs)], "password")
		}
		if len(attrs) > 0 {
			tok = redactAttrs(tok, attrs)
		}
		b.Write(tok)
		if self {
			continue
		}
		depth++
		if secret {
			hide, hideName = 1, name
		}
	}
	if hide > 0 {
		b.WriteString(Redacted)
	}
	return b.String()
}

// sectionEnd returns the length of the section that starts s and ends
// with end, or -1.
func sectionEnd(s []byte, end string) int {
	j := bytes.Index(s, []byte(end))
	if j < 0 {
		return -1
	}
	return j + len(end)
}

// tagEnd returns the length of the tag that starts s, up to its '>'
// outside quotes, or -1.
func tagEnd(s []byte) int {
	var q byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '>':
			return i + 1
		}
	}
	return -1
}

// localName is the local part of a start tag's name.
func localName(tag []byte) string {
	n := 1
	for n < len(tag) && !isSpace(tag[n]) && tag[n] != '>' && tag[n] != '/' {
		n++
	}
	name := tag[1:n]
	if k := bytes.LastIndexByte(name, ':'); k >= 0 {
		name = name[k+1:]
	}
	return string(name)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// attr is one attribute of a tag: the spans of its name and value.
type attr struct{ name, val [2]int }

// attrsOf lists the attributes of a complete start tag; it stops at
// anything that is not name="value" or name='value'.
func attrsOf(tag []byte) []attr {
	var out []attr
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
		i++
	}
	for {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		ns := i
		for i < len(tag) && tag[i] != '=' && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
			i++
		}
		ne := i
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if ne == ns || i >= len(tag) || tag[i] != '=' {
			return out
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			return out
		}
		q := tag[i]
		vs := i + 1
		j := bytes.IndexByte(tag[vs:], q)
		if j < 0 {
			return out
		}
		out = append(out, attr{name: [2]int{ns, ne}, val: [2]int{vs, vs + j}})
		i = vs + j + 1
	}
}

// redactAttrs replaces the values of the named attributes. An attribute
// it cannot read ends the tag: everything from there is dropped, so a
// secret is never shown by a tag too odd to parse.
func redactAttrs(tag []byte, names []string) []byte {
	as := attrsOf(tag)
	var b bytes.Buffer
	last := 0
	for _, a := range as {
		name := string(tag[a.name[0]:a.name[1]])
		if k := strings.LastIndexByte(name, ':'); k >= 0 {
			name = name[k+1:]
		}
		for _, n := range names {
			if strings.EqualFold(name, n) {
				b.Write(tag[last:a.val[0]])
				b.WriteString(Redacted)
				last = a.val[1]
			}
		}
	}
	end := len(as)
	tail := tag[last:]
	if end > 0 {
		lastVal := as[end-1].val[1]
		if lastVal >= last {
			b.Write(tag[last : lastVal+1])
			tail = tag[lastVal+1:]
		}
	} else {
		b.Write(tag[:nameEnd(tag)])
		tail = tag[nameEnd(tag):]
	}
	// What follows the last attribute read must be only the tag's end.
	if t := bytes.TrimLeft(tail, " \t\r\n"); string(t) == ">" || string(t) == "/>" {
		b.Write(tail)
	} else {
		b.WriteString(" [cut]>")
	}
	return b.Bytes()
}

func nameEnd(tag []byte) int {
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
		i++
	}
	return i
}

// secretField reports whether a data form field (XEP-0004) may hold a
// secret: a text-private field, or one whose var names a password, a
// secret or a token (XEP-0077's extensible registration, XEP-0045's room
// password and secret, XEP-0357's push secret). It looks at the whole tag,
// in any case, not only at well-formed attributes, so that an odd tag
// fails closed; a label that mentions a password hides a value too.
func secretField(tag []byte) bool {
	for _, w := range secretWords {
		if containsFold(tag, w) {
			return true
		}
	}
	return false
}

var secretWords = []string{"text-private", "password", "secret", "token"}

// containsFold reports whether s contains word (lowercase ASCII), in any
// case.
func containsFold(s []byte, word string) bool {
	for i := 0; i+len(word) <= len(s); i++ {
		j := 0
		for j < len(word) && lowerASCII(s[i+j]) == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
