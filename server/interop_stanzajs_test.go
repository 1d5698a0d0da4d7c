package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestStanzaJS: StanzaJS (a real web client library, pinned in
// server/xmpptest/interop/stanzajs) logs in over BOSH (XEP-0206) and over
// WebSocket (RFC 7395) on the HTTPS listener, the test CA trusted through
// NODE_EXTRA_CA_CERTS, sends a message to a TCP client and gets its
// answer, then ends its session.
func TestStanzaJS(t *testing.T) {
	node, dir := nodePeer(t, "stanzajs", "stanza")
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	_, port, err := net.SplitHostPort(srv.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ transport, url string }{
		{"bosh", "https://" + srv.Domain + ":" + port + "/http-bind"},
		{"websocket", "wss://" + srv.Domain + ":" + port + "/xmpp-websocket"},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out, done := startNode(t, ctx, node, dir, srv.CertFile, "client.mjs", tc.transport, tc.url, srv.Domain, "alice", secret("alice"), "bob@hearth.test/laptop")
			var err error
			ended := false
			defer func() {
				if !ended {
					// Failed before the client ended: show what it said.
					cancel()
					<-done
					t.Logf("client.mjs %s:\n%s", tc.transport, out.String())
				}
			}()
			m := bob.ExpectLike(`<message from='*' to='bob@hearth.test/laptop' type='chat' id='sj1'><body>hello from StanzaJS over `+tc.transport+`</body></message>`, 30*time.Second)
			if !strings.HasPrefix(m.Attr("from"), "alice@hearth.test/stanzajs") {
				t.Fatalf("from %s", m.Attr("from"))
			}
			bob.Send(`<message to='` + m.Attr("from") + `' type='chat' id='go1'><body>hello back over TCP to ` + tc.transport + `</body></message>`)
			err = <-done
			ended = true
			t.Logf("client.mjs %s:\n%s", tc.transport, out.String())
			if err != nil {
				t.Fatalf("StanzaJS: %v", err)
			}
		})
	}
}
