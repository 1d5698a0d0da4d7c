package xmpptest_test

import (
	"testing"

	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

func TestMatchLike(t *testing.T) {
	got := `<message from='alice@prosody.test/home' to='bob@ejabberd.test/work' type='chat' id='m1' xml:lang='en'>` +
		`<body> hello </body><active xmlns='http://jabber.org/protocol/chatstates'/><delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/></message>`
	tests := []struct {
		want string
		ok   bool
	}{
		{`<message/>`, true},
		{`<message type='chat' from='alice@prosody.test/home'/>`, true},
		{`<message from='*' id='m1'><body>hello</body></message>`, true},
		{`<message><body>hello</body><delay xmlns='urn:xmpp:delay' stamp='*'/></message>`, true},
		{`<message><delay xmlns='urn:xmpp:delay'/><body>hello</body></message>`, false}, // out of order
		{`<message><body>bye</body></message>`, false},
		{`<message type='error'/>`, false},
		{`<message nope='*'/>`, false},
		{`<presence/>`, false},
		{`<message><subject/></message>`, false},
	}
	g, err := stream.Unmarshal([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		w, err := stream.Unmarshal([]byte(tc.want))
		if err != nil {
			t.Fatal(err)
		}
		if ok := xmpptest.MatchLike(w, g); ok != tc.ok {
			t.Errorf("MatchLike(%s) = %v, want %v", tc.want, ok, tc.ok)
		}
	}
}
