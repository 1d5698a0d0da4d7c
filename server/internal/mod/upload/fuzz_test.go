package upload

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"hearth/server/internal/stream"
)

// FuzzRequest: any slot request parses or is refused with bad-request,
// never panics; what it takes is a size >= 0 and a media type that
// parses again; the download name is clean.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`<request xmlns='urn:xmpp:http:upload:0' filename='très cool.jpg' size='23456' content-type='image/jpeg'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='a' size='0'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='../../etc/passwd' size='1' content-type='text/plain; charset=utf-8'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='x' size='-1'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='x' size='99999999999999999999'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='x' size='1' content-type='nonsense'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' size='1'/>`,
		`<request xmlns='urn:xmpp:http:upload:1' filename='x' size='1'/>`,
		`<request xmlns='urn:xmpp:http:upload:0' filename='..\..\a&#10;b"%' size='1'/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, xml string) {
		el, err := stream.Unmarshal([]byte(xml))
		if err != nil {
			return
		}
		r, e := parseRequest(el)
		if e != nil {
			if e.Condition != "bad-request" {
				t.Fatalf("error %v", e)
			}
			return
		}
		if r.Size < 0 {
			t.Fatalf("size %d", r.Size)
		}
		if r.ContentType != "" {
			again, e2 := parseRequest(el.Clone().SetAttr("content-type", r.ContentType))
			if e2 != nil || again.ContentType != r.ContentType {
				t.Fatalf("content-type %q does not parse again: %v", r.ContentType, e2)
			}
		}
		checkName(t, cleanName(r.Filename))
	})
}

func checkName(t *testing.T, n string) {
	t.Helper()
	if n == "" || len(n) > maxName || !utf8.ValidString(n) || strings.ContainsAny(n, "/\\\"%\x00\r\n") ||
		strings.HasPrefix(n, ".") || filepath.Base(n) != n {
		t.Fatalf("unclean name %q", n)
	}
}

// FuzzPutURL: any path and query either name a valid slot with a
// signature to check, or are refused; nothing but a valid slot (32 hex
// digits) ever leaves the parser, and a signature that verifies is the
// one the key made.
func FuzzPutURL(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := putClaim{Slot: strings.Repeat("ab", 16), Size: 10, ContentType: "text/plain", Expires: time.Unix(1800000000, 0)}
	good := "/upload/" + c.Slot + "/notes.txt"
	f.Add(good, query(key, c))
	f.Add(good, "expires=1800000000&sig=AAAA")
	f.Add("/upload/../hearth.db", "expires=1&sig=x")
	f.Add("/upload/%2e%2e/x", "")
	f.Add("/upload/"+c.Slot+"/..%2fx", query(key, c))
	f.Add("/upload/"+strings.Repeat("AB", 16)+"/x", query(key, c))
	f.Add(good, query(key, c)+"&sig=again")
	f.Add(good, "expires=-5&sig="+strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, path, rawQuery string) {
		slot, exp, sig, err := parsePut(path, rawQuery)
		if err != nil {
			return
		}
		if !validSlot(slot) || !strings.HasPrefix(path, pathPrefix+slot+"/") {
			t.Fatalf("slot %q from %q", slot, path)
		}
		st := &Store{dir: "/store"}
		if p := st.path(slot); filepath.Dir(filepath.Dir(p)) != "/store/files" {
			t.Fatalf("path %s outside the store", p)
		}
		claim := c
		claim.Slot, claim.Expires = slot, exp
		if verify(key, claim, sig, exp.Add(-time.Second)) == nil {
			if sig != sign(key, claim) {
				t.Fatalf("signature %q verified but is not the key's", sig)
			}
		}
		if _, err := url.ParseQuery(rawQuery); err != nil {
			t.Fatalf("a query that does not parse was taken: %q", rawQuery)
		}
	})
}
