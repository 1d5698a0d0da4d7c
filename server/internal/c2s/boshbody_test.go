package c2s

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// TestParseBody: a request's <body/>, its attributes read once, what it
// carries in jabber:client whether it says so or not; and what is no
// <body/> at all.
func TestParseBody(t *testing.T) {
	bd, err := parseBody([]byte(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='42' sid='s1' to='hearth.test' xml:lang='de' ver='1.6' wait='60' hold='1' xmpp:version='1.0' xmpp:restart='true' type='terminate'>
		<message xmlns='jabber:client' to='a@b'><body>hi</body></message>
		<presence/><iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq></body>`), stream.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if bd.rid != 42 || bd.sid != "s1" || bd.to != "hearth.test" || bd.lang != "de" || bd.ver != "1.6" || bd.wait != 60 || bd.hold != 1 ||
		bd.version != "1.0" || !bd.restart || bd.typ != "terminate" || len(bd.children) != 3 {
		t.Fatalf("%+v", bd)
	}
	for i, want := range []string{
		`<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`,
		`<presence xmlns="jabber:client"/>`,
		`<iq xmlns="jabber:client" type="get" id="1"><query xmlns="jabber:iq:roster"/></iq>`,
	} {
		var b bytes.Buffer
		bd.children[i].WriteTo(&b, "")
		if b.String() != want {
			t.Errorf("child %d: %s, want %s", i, b.String(), want)
		}
	}
	for _, tc := range []struct{ name, in, want string }{
		{"no rid", `<body xmlns='http://jabber.org/protocol/httpbind'/>`, "rid"},
		{"rid zero", `<body xmlns='http://jabber.org/protocol/httpbind' rid='0'/>`, "rid"},
		{"rid too big", `<body xmlns='http://jabber.org/protocol/httpbind' rid='9007199254740992'/>`, "rid"},
		{"other name", `<bodies xmlns='http://jabber.org/protocol/httpbind' rid='1'/>`, "one <body"},
		{"other namespace", `<body xmlns='jabber:client' rid='1'/>`, "one <body"},
		{"text", `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>hello</body>`, "not text"},
		{"cut", `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><message>`, "whole"},
		{"two", `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'/><body xmlns='http://jabber.org/protocol/httpbind' rid='2'/>`, "nothing after"},
		{"empty", ``, "whole"},
		{"entity", `<!DOCTYPE body [<!ENTITY x "y">]><body xmlns='http://jabber.org/protocol/httpbind' rid='1'/>`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBody([]byte(tc.in), stream.Limits{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// The limits of what it carries hold for the body: one stanza's
	// worth before login.
	big := `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'><message><body>` + strings.Repeat("x", 12<<10) + `</body></message></body>`
	var se *stream.Error
	if _, err := parseBody([]byte(big), stream.PreAuth); !errors.As(err, &se) || se.Condition != stream.PolicyViolation {
		t.Fatalf("too big: %v", err)
	}
	deep := `<body xmlns='http://jabber.org/protocol/httpbind' rid='1'>` + strings.Repeat("<a>", 6) + strings.Repeat("</a>", 6) + `</body>`
	if _, err := parseBody([]byte(deep), stream.PreAuth); !errors.As(err, &se) {
		t.Fatalf("too deep: %v", err)
	}
}

// TestBodySID: the sid is found without parsing the body, or not at all.
func TestBodySID(t *testing.T) {
	for in, want := range map[string]string{
		`<body rid='1' sid='abc'/>`:                     "abc",
		`<?xml version='1.0'?><body sid="a'b" rid='1'>`: "a'b",
		`<b:body xmlns:b='x' sid = 'q' >`:               "q",
		`<body xmlns:x='y' x:sid='no' rid='1'/>`:        "",
		`<body rid='1'/>`:                               "",
		`<body rid='1'><message sid='inside'/></body>`:  "",
		`<message sid='x'/>`:                            "",
		`<body sid='unterminated`:                       "",
		`<body rid=1 sid='x'>`:                          "",
		``:                                              "",
		`<body xmlns='http://jabber.org/protocol/httpbind' sid='s' rid='2'>`: "s",
	} {
		if got := bodySID([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// FuzzBody: no request makes the parser or the sid scanner fail other
// than with an error; what a body carries reads back the same once
// written in an answer; and a sid the scanner finds is the parser's.
func FuzzBody(f *testing.F) {
	for _, s := range []string{
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='hearth.test' wait='60' hold='1' ver='1.6' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='2' sid='s1'><message xmlns='jabber:client' to='a@b'><body>hi</body></message></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='3' sid='s1'><presence/><iq type='get'/></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='4' sid='s1' to='hearth.test' xml:lang='en' xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='5' sid='s1' type='terminate'><presence type='unavailable'/></body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='6' sid='a&amp;b'/>`,
		`<b:body xmlns:b='http://jabber.org/protocol/httpbind' rid='7'><b:message/></b:body>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' rid='8'><![CDATA[x]]></body>`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sid := bodySID(in)
		bd, err := parseBody(in, stream.Limits{})
		if err != nil {
			return
		}
		if sid != "" && !strings.ContainsAny(sid, "&\t\r\n") && sid != bd.sid {
			t.Fatalf("%q: the scanner found sid %q, the parser %q", in, sid, bd.sid)
		}
		if bd.rid < 1 || bd.rid > maxRID {
			t.Fatalf("%q: rid %d", in, bd.rid)
		}
		var b bytes.Buffer
		appendBody(&b, bd.children, "rid", "1")
		again, err := parseBody(b.Bytes(), stream.Limits{})
		if err != nil {
			t.Fatalf("%q carries what does not read back from %s: %v", in, b.String(), err)
		}
		if len(again.children) != len(bd.children) {
			t.Fatalf("%q: %d elements, then %d", in, len(bd.children), len(again.children))
		}
		for i := range bd.children {
			if x, y := text(bd.children[i]), text(again.children[i]); x != y {
				t.Fatalf("%q: %s, then %s", in, x, y)
			}
		}
	})
}

func text(el *stanza.Element) string {
	var b bytes.Buffer
	el.WriteTo(&b, "")
	return b.String()
}
