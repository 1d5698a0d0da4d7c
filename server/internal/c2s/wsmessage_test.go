package c2s

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// TestMessageDecoder: a message holds one whole element, in its own
// namespace or in jabber:client when it declares none; anything else
// ends the stream with the right condition.
func TestMessageDecoder(t *testing.T) {
	for _, tc := range []struct{ msg, want, cond string }{
		{msg: `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='hearth.test' version='1.0'/>`, want: `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="hearth.test" version="1.0"/>`},
		{msg: `<message xmlns='jabber:client' to='a@b'><body>hi</body></message>`, want: `<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`},
		{msg: `<message to='a@b'/>`, want: `<message xmlns="jabber:client" to="a@b"/>`},
		{msg: "\n<presence xmlns='jabber:client'/>  ", want: `<presence xmlns="jabber:client"/>`},
		{msg: `<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>`, cond: stream.NotWellFormed},
		{msg: `<message xmlns='jabber:client'><body>`, cond: stream.NotWellFormed},
		{msg: `</stream:stream>`, cond: stream.NotWellFormed},
		{msg: `<message xmlns='jabber:client'>text</message> tail`, cond: stream.NotWellFormed},
		{msg: `<!DOCTYPE x><message/>`, cond: stream.RestrictedXML},
		{msg: `<?xml-stylesheet href='x'?><message/>`, cond: stream.RestrictedXML},
		{msg: `<message>` + strings.Repeat("<b>", 40) + `</message>`, cond: stream.PolicyViolation},
	} {
		el, err := newMsgDecoder(stream.PreAuth).decode([]byte(tc.msg))
		var se *stream.Error
		switch {
		case tc.cond != "" && (!errors.As(err, &se) || se.Condition != tc.cond):
			t.Errorf("%q: %v, %v; want %s", tc.msg, el, err, tc.cond)
		case tc.cond == "" && (err != nil || el.String() != tc.want):
			t.Errorf("%q: %v, %v; want %s", tc.msg, el, err, tc.want)
		}
	}
	// One decoder reads message after message.
	d := newMsgDecoder(stream.Limits{})
	for i := 0; i < 3; i++ {
		if el, err := d.decode([]byte(`<iq xmlns='jabber:client' type='get' id='x'/>`)); err != nil || el.Name != "iq" {
			t.Fatalf("message %d: %v %v", i, el, err)
		}
	}
}

// TestEncodeRoot: each element written declares its namespace; the
// stream's own take the stream: prefix.
func TestEncodeRoot(t *testing.T) {
	for _, tc := range []struct {
		el   *stanza.Element
		want string
	}{
		{stanza.New("message", stanza.NSClient, "to", "a@b").Append(stanza.New("body", stanza.NSClient).AppendText("x<y")), `<message xmlns="jabber:client" to="a@b"><body>x&lt;y</body></message>`},
		{stanza.New("features", stanza.NSStream).Append(stanza.New("bind", stanza.NSBind)), `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`},
		{(&stream.Error{Condition: stream.Conflict, Text: "replaced"}).Element(), `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">replaced</text></stream:error>`},
		{stanza.New("close", NSFraming), `<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`},
	} {
		var b bytes.Buffer
		encodeRoot(&b, tc.el)
		if b.String() != tc.want {
			t.Errorf("got  %s\nwant %s", b.String(), tc.want)
		}
	}
}

// FuzzMessageDecoder: no message makes the decoder panic; an element it
// accepts, written as a message, reads back, and from then on the same
// (an element in no namespace is read back in jabber:client, as on TCP).
func FuzzMessageDecoder(f *testing.F) {
	for _, s := range []string{
		`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='hearth.test' version='1.0'/>`,
		`<message xmlns='jabber:client' to='a@b'><body>hi</body></message>`,
		`<message to='a@b'/>`,
		`<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>`,
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`,
		`<iq xmlns='jabber:client' xml:lang='en' xmlns:x='urn:x' x:a='1'/>`,
		`<message><![CDATA[x]]></message>`,
		"",
		" ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		el, err := newMsgDecoder(stream.Limits{}).decode(msg)
		if err != nil {
			return
		}
		var b bytes.Buffer
		encodeRoot(&b, el)
		again, err := newMsgDecoder(stream.Limits{}).decode(b.Bytes())
		if err != nil {
			t.Fatalf("%q read as %s, which does not read back: %v", msg, b.String(), err)
		}
		var b2 bytes.Buffer
		encodeRoot(&b2, again)
		third, err := newMsgDecoder(stream.Limits{}).decode(b2.Bytes())
		if err != nil {
			t.Fatalf("%q: %s does not read back: %v", msg, b2.String(), err)
		}
		var b3 bytes.Buffer
		encodeRoot(&b3, third)
		if b2.String() != b3.String() {
			t.Fatalf("%q: %s then %s", msg, b2.String(), b3.String())
		}
	})
}
