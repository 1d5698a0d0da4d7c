package upload

import (
	"mime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"hearth/server/internal/stanza"
)

// NS is XEP-0363's namespace.
const NS = "urn:xmpp:http:upload:0"

// maxName is the longest file name kept, in bytes.
const maxName = 200

// request is a slot request (XEP-0363 4).
type request struct {
	Filename    string // as sent (cleaned for the download's name with cleanName)
	Size        int64
	ContentType string // "" when the client gave none
}

// parseRequest reads <request filename size content-type/>; its errors
// are the bad-request a client gets.
func parseRequest(el *stanza.Element) (request, *stanza.Error) {
	if el == nil || el.Name != "request" || el.NS != NS {
		return request{}, stanza.ErrBadRequest("send a <request/> in " + NS)
	}
	var r request
	r.Filename = el.Attr("filename")
	if strings.TrimSpace(r.Filename) == "" {
		return request{}, stanza.ErrBadRequest("the request names no file (attribute filename)")
	}
	size, err := strconv.ParseInt(el.Attr("size"), 10, 64)
	if err != nil || size < 0 {
		return request{}, stanza.ErrBadRequest("the request's size is not a number of bytes")
	}
	r.Size = size
	if ct := strings.TrimSpace(el.Attr("content-type")); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || !strings.Contains(mt, "/") {
			return request{}, stanza.ErrBadRequest("the request's content-type is not a media type such as image/jpeg")
		}
		r.ContentType = mime.FormatMediaType(mt, params)
		if r.ContentType == "" {
			return request{}, stanza.ErrBadRequest("the request's content-type is not a media type such as image/jpeg")
		}
	}
	return r, nil
}

// cleanName makes a client's file name fit to be a download's name and
// the last segment of its URL: the base name only, no control characters,
// no slashes or backslashes, no leading dots, at most maxName bytes of
// valid UTF-8; "file" when nothing is left. It never becomes a path on
// disk.
func cleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '%':
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
		if b.Len() > maxName {
			break
		}
	}
	out := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	for len(out) > maxName {
		_, n := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-n]
	}
	out = strings.TrimSpace(out)
	if out == "" {
		return "file"
	}
	return out
}
