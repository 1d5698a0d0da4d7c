package stream

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func decodeOne(t *testing.T, in string) (string, error) {
	t.Helper()
	d := NewDecoder(strings.NewReader(hdr+in), Limits{MaxStanza: 1024, MaxDepth: 16, MaxElements: 100})
	if _, err := d.Header(); err != nil {
		t.Fatal(err)
	}
	el, err := d.Next()
	if err != nil {
		return "", err
	}
	return el.String(), nil
}

func TestScannerGood(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"attribute normalisation", "<a b='x\ty\r\nz\rw\nv'/>", `<a xmlns="jabber:client" b="x y z w v"/>`},
		{"escaped whitespace kept", "<a b='&#9;&#10;&#13;'/>", `<a xmlns="jabber:client" b="&#x9;&#xA;&#xD;"/>`},
		{"line ends in text", "<a>x\r\ny\rz</a>", `<a xmlns="jabber:client">x
y
z</a>`},
		{"cdata", `<a>x<![CDATA[<b>&amp;]]>y</a>`, `<a xmlns="jabber:client">x&lt;b&gt;&amp;amp;y</a>`},
		{"empty cdata", `<a><![CDATA[]]></a>`, `<a xmlns="jabber:client"/>`},
		{"char refs", `<a>&#65;&#x42;&#x1F600;&lt;&gt;&amp;&quot;&apos;</a>`, `<a xmlns="jabber:client">AB😀&lt;&gt;&amp;"'</a>`},
		{"prefixed", `<p:a xmlns:p='urn:p' p:x='1' x='2'><p:b/><c/></p:a>`, `<a xmlns="urn:p" xmlns:ns0="urn:p" ns0:x="1" x="2"><b/><c xmlns="jabber:client"/></a>`},
		{"scoped", `<a xmlns:p='urn:1'><b xmlns:p='urn:2'><p:c/></b><p:c/></a>`, `<a xmlns="jabber:client"><b><c xmlns="urn:2"/></b><c xmlns="urn:1"/></a>`},
		{"undeclared default", `<a xmlns='urn:a'><b xmlns=''/></a>`, `<a xmlns="urn:a"><b xmlns=""/></a>`},
		{"xml prefix", `<a xml:lang='de'/>`, `<a xmlns="jabber:client" xml:lang="de"/>`},
		{"unicode names", `<é ü='1'/>`, `<é xmlns="jabber:client" ü="1"/>`},
		{"space in end tag", `<a></a >`, `<a xmlns="jabber:client"/>`},
		{"gt in text", `<a>]>]]&gt;</a>`, `<a xmlns="jabber:client">]&gt;]]&gt;</a>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeOne(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestScannerBad(t *testing.T) {
	tests := []struct{ name, in, cond string }{
		{"unbound element prefix", `<y:message/>`, NotWellFormed},
		{"unbound attribute prefix", `<message y:a='1'/>`, NotWellFormed},
		{"empty prefix binding", `<a xmlns:p=''/>`, NotWellFormed},
		{"rebinding xml", `<a xmlns:xml='urn:x'/>`, NotWellFormed},
		{"binding xmlns", `<a xmlns:xmlns='urn:x'/>`, NotWellFormed},
		{"xml namespace elsewhere", `<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>`, NotWellFormed},
		{"xmlns prefix on element", `<xmlns:a/>`, NotWellFormed},
		{"bad qname", `<:a/>`, NotWellFormed},
		{"bad qname end", `<a:/>`, NotWellFormed},
		{"two colons", `<a:b:c/>`, NotWellFormed},
		{"duplicate xmlns", `<a xmlns='urn:a' xmlns='urn:b'/>`, NotWellFormed},
		{"duplicate after expansion", `<a xmlns:p='urn:x' xmlns:q='urn:x' p:b='1' q:b='2'/>`, NotWellFormed},
		{"no space between attributes", `<a b='1'c='2'/>`, NotWellFormed},
		{"surrogate reference", `<a>&#xD800;</a>`, NotWellFormed},
		{"nul reference", `<a>&#0;</a>`, NotWellFormed},
		{"control reference", `<a>&#x1;</a>`, NotWellFormed},
		{"huge reference", `<a>&#x110000;</a>`, NotWellFormed},
		{"empty reference", `<a>&#;</a>`, NotWellFormed},
		{"fffe", "<a>\uFFFE</a>", NotWellFormed},
		{"cdata end in text", `<a>]]></a>`, NotWellFormed},
		{"lt in attribute", `<a b='<'/>`, NotWellFormed},
		{"unquoted", `<a b=1/>`, NotWellFormed},
		{"bad utf8 in attribute", "<a b='\xff'/>", NotWellFormed},
		{"overlong utf8", "<a>\xc0\x80</a>", NotWellFormed},
		{"encoded surrogate", "<a>\xed\xa0\x80</a>", NotWellFormed},
		{"bad name start", `<1a/>`, NotWellFormed},
		{"entity in attribute", `<a b='&x;'/>`, RestrictedXML},
		{"pi inside", `<a><?x?></a>`, RestrictedXML},
		{"doctype inside", `<a><!DOCTYPE a></a>`, RestrictedXML},
		{"wrong end prefix", `<p:a xmlns:p='urn:p'></a>`, NotWellFormed},
		{"stray end", `</a>`, NotWellFormed},
		{"text at top after space", ` x<a/>`, NotWellFormed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeOne(t, tt.in)
			var se *Error
			if !errors.As(err, &se) || se.Condition != tt.cond {
				t.Fatalf("err = %v, want stream error %s", err, tt.cond)
			}
		})
	}
}

func TestScannerWire(t *testing.T) {
	one := `<message><body>hi</body></message>`
	d := NewDecoder(strings.NewReader(hdr+one+"  \n"+one+"<presence/>"), Limits{})
	if _, err := d.Header(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{len(one), len(one), len(`<presence/>`)} {
		el, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if el.Wire != want {
			t.Fatalf("%s: wire %d, want %d", el.Name, el.Wire, want)
		}
	}
}

// TestScannerLimitExact: an element of exactly MaxStanza bytes passes, one
// byte more does not, and the limit fails before the rest is read.
func TestScannerLimitExact(t *testing.T) {
	for _, extra := range []int{0, 1} {
		el := `<a>` + strings.Repeat("x", 100-7+extra) + `</a>`
		short := `<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`
		d := NewDecoder(strings.NewReader(short+" "+el), Limits{MaxStanza: 100})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		_, err := d.Next()
		var se *Error
		if extra == 0 && err != nil || extra == 1 && (!errors.As(err, &se) || se.Condition != PolicyViolation) {
			t.Fatalf("%d bytes: %v", len(el), err)
		}
	}
}

// TestScannerNoReadAhead: Next returns as soon as an element ends, without
// waiting for more input (the peer waits for our answer).
func TestScannerNoReadAhead(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(hdr))
		pw.Write([]byte(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`))
		pw.Write([]byte(`<a>x</a>`))
		pw.Write([]byte(`<b>y</b>`))
	}()
	d := NewDecoder(pr, Limits{})
	if _, err := d.Header(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"starttls", "a", "b"} {
		el, err := d.Next()
		if err != nil || el.Name != name {
			t.Fatal(el, err)
		}
		if d.Buffered() != 0 {
			t.Fatalf("after %s: %d buffered", name, d.Buffered())
		}
	}
	pw.Close()
}

func TestScannerBuffered(t *testing.T) {
	in := hdr + `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><x/>`
	br := bufio.NewReader(strings.NewReader(in))
	d := NewDecoder(br, Limits{})
	if _, err := d.Header(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if got := d.Buffered(); got != len(`<x/>`) {
		t.Fatalf("buffered %d", got)
	}
	// The bytes are still the caller's reader's.
	if rest, _ := io.ReadAll(br); string(rest) != `<x/>` {
		t.Fatalf("rest %q", rest)
	}
}

func TestScannerHeader(t *testing.T) {
	tests := []struct{ name, in, cond string }{
		{"wrong name", `<stream:x xmlns:stream='http://etherx.jabber.org/streams'>`, InvalidNamespace},
		{"wrong namespace", `<stream:stream xmlns:stream='urn:x'>`, InvalidNamespace},
		{"unbound prefix", `<stream:stream>`, InvalidNamespace},
		{"pi", `<?foo?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, RestrictedXML},
		{"comment", `<!-- x --><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, RestrictedXML},
		{"encoding", `<?xml version='1.0' encoding='latin1'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, UnsupportedEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDecoder(strings.NewReader(tt.in), Limits{}).Header()
			var se *Error
			if !errors.As(err, &se) || se.Condition != tt.cond {
				t.Fatalf("err = %v, want %s", err, tt.cond)
			}
		})
	}
	d := NewDecoder(strings.NewReader("<?xml version='1.0'?>\n \n<stream xmlns='http://etherx.jabber.org/streams' xmlns:x='urn:x' x:a='1'/>"), Limits{})
	h, err := d.Header()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Attrs) != 3 || h.Attrs[1].Name.Space != "xmlns" || h.Attrs[2].Name.Space != "urn:x" {
		t.Fatalf("attrs %+v", h.Attrs)
	}
	if _, err := d.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("self-closed header: %v", err)
	}
}

// TestScannerIdleMemory reports the heap an idle decoder holds after a
// stanza; run with -v to see it.
func TestScannerIdleMemory(t *testing.T) {
	const n = 1000
	msg := `<message to='bob@example.com/phone' id='abc123' type='chat'><body>Hello, how are you doing today?</body></message>`
	measure := func(newDec func(io.Reader) func() error) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		keep := make([]func() error, n)
		for i := range keep {
			next := newDec(strings.NewReader(hdr + msg))
			if err := next(); err != nil {
				t.Fatal(err)
			}
			keep[i] = next
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return (after.HeapAlloc - before.HeapAlloc) / n
	}
	newer := measure(func(r io.Reader) func() error {
		d := NewDecoder(r, Limits{})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		return func() error { _, err := d.Next(); return err }
	})
	older := measure(func(r io.Reader) func() error {
		d := newRefDecoder(r, Limits{})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		return func() error { _, err := d.Next(); return err }
	})
	t.Logf("idle decoder after one stanza: %d B (encoding/xml decoder: %d B)", newer, older)
}
