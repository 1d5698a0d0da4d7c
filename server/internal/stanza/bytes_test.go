package stanza

import (
	"bytes"
	"testing"
)

// BenchmarkBytes serialises an ordinary chat message, as the archive
// does for every message it keeps.
func BenchmarkBytes(b *testing.B) {
	el := New("message", NSClient, "type", "chat", "id", "5f3c1a9e-7b2d-4c1e-9a0f-2e6d8b4c3a71",
		"from", "alice@home.test/phone-8d2f", "to", "bob@home.test", "xml:lang", "")
	el.Attrs = append(el.Attrs, Attr{Space: NSXML, Name: "lang", Value: "en"})
	el.Append(New("body", NSClient).AppendText("Are we still on for dinner tonight? I can bring dessert & wine."),
		New("origin-id", "urn:xmpp:sid:0", "id", "5f3c1a9e-7b2d-4c1e-9a0f-2e6d8b4c3a71"),
		New("active", "http://jabber.org/protocol/chatstates"),
		New("request", "urn:xmpp:receipts"))
	b.ReportAllocs()
	for b.Loop() {
		el.Bytes()
	}
}

// TestEscapeEveryByte: the escapes' tables give, for every byte, what
// the escapes' switches say.
func TestEscapeEveryByte(t *testing.T) {
	text := map[byte]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '\r': "&#xD;"}
	attr := map[byte]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '"': "&quot;", '\'': "&apos;", '\n': "&#xA;", '\r': "&#xD;", '\t': "&#x9;"}
	for c := range 256 {
		s := "a" + string([]byte{byte(c)}) + "z"
		for _, e := range []struct {
			name   string
			escape func(*bytes.Buffer, string)
			want   map[byte]string
		}{{"EscapeText", EscapeText, text}, {"EscapeAttr", EscapeAttr, attr}} {
			want := s
			if r, ok := e.want[byte(c)]; ok {
				want = "a" + r + "z"
			}
			var b bytes.Buffer
			e.escape(&b, s)
			if b.String() != want {
				t.Errorf("%s(%q) = %q, want %q", e.name, s, b.String(), want)
			}
		}
	}
}
