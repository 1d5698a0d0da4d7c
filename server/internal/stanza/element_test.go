package stanza

import (
	"bytes"
	"testing"
)

func TestSetAttrReplacesEveryMatch(t *testing.T) {
	e := &Element{Name: "message", NS: NSClient, Attrs: []Attr{{Name: "from", Value: "a"}, {Name: "to", Value: "b"}, {Name: "from", Value: "c"}}}
	e.SetAttr("from", "x")
	if got := e.String(); got != `<message xmlns="jabber:client" from="x" to="b"/>` {
		t.Fatalf("got %s", got)
	}
	e.SetAttr("from", "")
	if got := e.String(); got != `<message xmlns="jabber:client" to="b"/>` {
		t.Fatalf("got %s", got)
	}
}

func TestForeignAttributePrefixes(t *testing.T) {
	e := &Element{Name: "x", NS: "urn:x"}
	for i := 0; i < 12; i++ {
		ns := "urn:a"
		if i%2 == 1 {
			ns = "urn:b"
		}
		e.Attrs = append(e.Attrs, Attr{Space: ns, Name: string(rune('a' + i)), Value: "1"})
	}
	want := `<x xmlns="urn:x" xmlns:ns0="urn:a" ns0:a="1" xmlns:ns1="urn:b" ns1:b="1" ns0:c="1" ns1:d="1" ns0:e="1" ns1:f="1" ns0:g="1" ns1:h="1" ns0:i="1" ns1:j="1" ns0:k="1" ns1:l="1"/>`
	if got := e.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestStreamElementPrefix: an element of the stream namespace written in
// a stream takes the stream: prefix its header declares; as a root of its
// own (a WebSocket frame), it declares the namespace.
func TestStreamElementPrefix(t *testing.T) {
	f := New("features", NSStream).Append(New("bind", NSBind))
	var b bytes.Buffer
	f.Encode(&b, NSClient)
	if want := `<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`; b.String() != want {
		t.Errorf("in a stream: %s, want %s", b.String(), want)
	}
	b.Reset()
	f.WriteTo(&b, "")
	if want := `<features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></features>`; b.String() != want {
		t.Errorf("as a root: %s, want %s", b.String(), want)
	}
}
