package stream

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"hearth/server/internal/stanza"
)

// errClass names an error for comparison: a stream error condition, EOF,
// closed, or the text of anything else.
func errClass(err error) string {
	var se *Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return se.Condition
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, io.EOF):
		return "EOF"
	}
	return err.Error()
}

func errText(err error) string {
	var se *Error
	if errors.As(err, &se) {
		return se.Text
	}
	return ""
}

// stricter lists where Decoder refuses what encoding/xml lets through
// (Namespaces in XML 1.0, XML 1.0 fifth edition); the error texts say which.
var stricter = []string{
	"unbound namespace prefix",               // encoding/xml keeps the prefix as the namespace
	"invalid QName",                          // <:a>, <a:> pass encoding/xml as local names
	"whitespace required between attributes", // <a b='1'c='2'>
	"duplicate namespace declaration",        // encoding/xml lets the last xmlns win
	"reserved namespace",                     // binding the xml or xmlns namespace
	"the xml prefix cannot be rebound",
	"the xmlns prefix cannot be declared",
	"empty namespace for prefix", // xmlns:p='' is Namespaces 1.1 only
	"element with the xmlns prefix",
	"character reference to an illegal character", // &#xD800; becomes U+FFFD in encoding/xml
	"invalid XML name",                            // fifth-edition names differ from encoding/xml's older tables
}

// allowed reports whether the two results may differ, and why.
// limitTexts are the texts of the limits on counts (Limits).
var limitTexts = []string{"too many attributes in one element", "too many namespace declarations", "too many elements in one stanza"}

func allowed(in string, lim Limits, ne *stanza.Element, nerr error, oe *stanza.Element, oerr error) bool {
	nc, oc := errClass(nerr), errClass(oerr)
	switch {
	case nc == PolicyViolation && oc != "ok" && slices.Contains(limitTexts, errText(nerr)):
		// Decoder applies the counting limits as it reads; the reference
		// once a token is whole, so a later error in the same token may
		// come first there.
		return true
	case nc == RestrictedXML && oc != "ok":
		// Decoder refuses <!--, <!DOCTYPE, <? and &name; on sight;
		// encoding/xml reads the whole token first and may fail inside it.
		return true
	case nc == NotWellFormed && oc == RestrictedXML && strings.Contains(in, "&"):
		// encoding/xml reports every malformed reference (&#;, & alone)
		// as an entity error, which the old mapping made restricted-xml,
		// and does so before it checks the rest of the token's characters.
		return true
	case nc == NotWellFormed && (oc == "EOF" || oc == PolicyViolation && errText(oerr) == "stanza too big"):
		// Decoder checks each byte as it reads it; encoding/xml checks a
		// name or a token's characters only once it has read it whole, so
		// input cut short (or too long) inside a bad token fails there
		// with EOF (or the size limit) instead.
		return true
	case nc == NotWellFormed && oc != NotWellFormed:
		for _, s := range stricter {
			if strings.Contains(errText(nerr), s) {
				return true
			}
		}
	case nc == NotWellFormed && strings.Contains(errText(nerr), "duplicate attribute") && strings.ContainsAny(in, "\t\r\n"):
		// Two prefixes bound to namespace names that differ only by
		// whitespace that normalisation makes equal.
		return true
	case oc == NotWellFormed && strings.Contains(errText(oerr), "invalid XML name"):
		// encoding/xml checks names against the older tables of XML 1.0
		// (fourth edition) Appendix B; Decoder uses the fifth edition.
		if nc == "ok" {
			return hasNonASCIIName(ne)
		}
		return !isASCII(in)
	case nc == PolicyViolation && errText(nerr) == "stanza too big" && oc == "ok":
		// encoding/xml's count missed the '<' of an element after
		// whitespace, so it let one byte more through.
		return oe.Wire == lim.MaxStanza
	}
	return false
}

func hasNonASCIIName(e *stanza.Element) bool {
	if e == nil || e.Name == "" {
		return false
	}
	if !isASCII(e.Name) {
		return true
	}
	for _, a := range e.Attrs {
		if !isASCII(a.Name) {
			return true
		}
	}
	for _, c := range e.Children {
		if hasNonASCIIName(c) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sameTree compares a decoded element with the reference's. Attribute
// values may differ only by normalisation (XML 1.0 3.3.3), which
// encoding/xml does not do: a literal tab or newline there is a space here.
func sameTree(n, o *stanza.Element) error {
	// Namespace names are attribute values too, normalised alike.
	if n.Name != o.Name || !normalisedEqual(n.NS, o.NS) || n.Text != o.Text {
		return fmt.Errorf("node {%s}%s %q != {%s}%s %q", n.NS, n.Name, n.Text, o.NS, o.Name, o.Text)
	}
	if len(n.Attrs) != len(o.Attrs) {
		return fmt.Errorf("<%s> attrs %v != %v", n.Name, n.Attrs, o.Attrs)
	}
	for i, a := range n.Attrs {
		b := o.Attrs[i]
		if !normalisedEqual(a.Space, b.Space) || a.Name != b.Name || !normalisedEqual(a.Value, b.Value) {
			return fmt.Errorf("<%s> attr %+v != %+v", n.Name, a, b)
		}
	}
	// encoding/xml made an empty text node of an empty CDATA section.
	var oc []*stanza.Element
	for _, c := range o.Children {
		if c.Name != "" || c.Text != "" {
			oc = append(oc, c)
		}
	}
	if len(n.Children) != len(oc) {
		return fmt.Errorf("<%s> %d children != %d", n.Name, len(n.Children), len(oc))
	}
	for i := range n.Children {
		if err := sameTree(n.Children[i], oc[i]); err != nil {
			return err
		}
	}
	return nil
}

func normalisedEqual(n, o string) bool {
	if len(n) != len(o) {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] != o[i] && !(n[i] == ' ' && (o[i] == '\t' || o[i] == '\n')) {
			return false
		}
	}
	return true
}

// FuzzDifferential decodes the same bytes with Decoder and with the
// encoding/xml decoder it replaced: both must give the same elements, or
// both fail, differing only as allowed documents.
func FuzzDifferential(f *testing.F) {
	for _, s := range []string{
		`<message to='a@b'><body>x</body></message>`,
		`<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq>`,
		`<presence><show>away</show><x xmlns='urn:y' y:z='1' xmlns:y='urn:z'/></presence>`,
		`<!-- c -->`, `<?pi?>`, `<a>&amp;&#65;&#x263A;&lt;&gt;&quot;&apos;</a>`, `</stream:stream>`, `<a xml:lang='en'>t</a>`,
		"<a b='x\ty\r\nz&#9;&#10;'>\r\n</a>", `<a><![CDATA[]]></a>`, `<a><![CDATA[x]]>y<![CDATA[<z>]]></a>`,
		`<p:a xmlns:p='urn:p'><p:b p:c='1' c='2'/></p:a>`, `<a xmlns='urn:a'><b xmlns=''/></a>`,
		` <a/> <b/>  `, `<a>]]></a>`, "<a>\x7f\u0085\U0001F600</a>", `<a>&#xD800;</a>`, `<a>&#0;</a>`,
		`<é ü='1'/>`, hdr + `<a/>`, "<?xml version='1.0'?>\n" + hdr[21:] + `<a/>`, `<?xml version='1.0' encoding='latin1'?>`,
		`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>`, `<stream xmlns='http://etherx.jabber.org/streams'><a/></stream>`, `<a b='1'c='2'/>`, `<a xmlns:p=''/>`, `<a></b>`, `<a/ >`, `</a>`, `<![CDATA[ ]]><a/>`,
		`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'><message><body>x</body><error xmlns='jabber:server'/><y xmlns='jabber:client'/></message>`,
	} {
		f.Add(s)
	}
	lim := Limits{MaxStanza: 4096, MaxDepth: 8, MaxElements: 200}
	f.Fuzz(func(t *testing.T, s string) {
		watchdog := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("hang on %q", s)) })
		defer watchdog.Stop()
		differential(t, hdr+s, s, lim)
		// The same bytes as the start of a stream: the header too.
		differential(t, s, s, lim)
	})
}

func differential(t *testing.T, in, s string, lim Limits) {
	nd := NewDecoder(strings.NewReader(in), lim)
	od := newRefDecoder(strings.NewReader(in), lim)
	nh, nerr := nd.Header()
	oh, oerr := od.Header()
	if nerr != nil || oerr != nil {
		nc, oc := errClass(nerr), errClass(oerr)
		switch {
		case nc == oc:
		case nc == UnsupportedEncoding && strings.Contains(oc, "CharsetReader is nil"):
			// encoding/xml's own error for an encoding it cannot read.
		case nc == NotWellFormed && strings.Contains(oc, "unsupported version"):
		case nc == NotWellFormed && strings.Contains(errText(nerr), "duplicate"):
			// The old Header did not check for repeated attributes.
		case !allowed(s, lim, nil, nerr, nil, oerr):
			t.Fatalf("header: new %v\nreference %v", nerr, oerr)
		}
		return
	}
	if nh.To != oh.To || nh.From != oh.From || nh.ID != oh.ID || nh.Version != oh.Version || nh.Lang != oh.Lang || nh.NS != oh.NS || len(nh.Attrs) != len(oh.Attrs) {
		t.Fatalf("header: new %+v\nreference %+v", nh, oh)
	}
	for i, a := range nh.Attrs {
		b := oh.Attrs[i]
		if a.Name != b.Name || !normalisedEqual(a.Value, b.Value) {
			t.Fatalf("header attr: new %+v\nreference %+v", a, b)
		}
	}
	for i := 0; i < 100; i++ {
		ne, nerr := nd.Next()
		oe, oerr := od.Next()
		if nerr == nil && oerr == nil {
			if err := sameTree(ne, oe); err != nil {
				t.Fatalf("stanza %d: %v\nnew %s\nold %s", i, err, ne, oe)
			}
			if ne.Wire != oe.Wire && ne.Wire != oe.Wire+1 {
				t.Fatalf("stanza %d: wire %d, reference %d", i, ne.Wire, oe.Wire)
			}
			continue
		}
		if errClass(nerr) == errClass(oerr) {
			return
		}
		if !allowed(s, lim, ne, nerr, oe, oerr) {
			t.Fatalf("stanza %d: new %v (%v)\nreference %v (%v)", i, nerr, ne, oerr, oe)
		}
		return
	}
}

// BenchmarkDecodeMessageReference is BenchmarkDecodeMessage on the
// encoding/xml decoder, for comparison.
func BenchmarkDecodeMessageReference(b *testing.B) {
	msg := `<message to='bob@example.com/phone' id='abc123' type='chat'><body>Hello, how are you doing today?</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`
	in := hdr + strings.Repeat(msg, 1000)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		d := newRefDecoder(strings.NewReader(in), Limits{})
		if _, err := d.Header(); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 1000; i++ {
			if _, err := d.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
