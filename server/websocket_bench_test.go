package server_test

import (
	"strings"
	"testing"

	"github.com/coder/websocket"

	"hearth/server/xmpptest"
)

// BenchmarkWebSocket compares the message hot path over WebSocket (each
// stanza a message of its own, RFC 7395) with TCP, in one run: alice
// sends bob bursts of 100 chat messages of 64 bytes on loopback, both on
// the same transport.
func BenchmarkWebSocket(b *testing.B) {
	const batch = 100
	msg := `<message xmlns='jabber:client' to='bob@hearth.test/b' type='chat'><body>` + strings.Repeat("x", 64) + `</body></message>`
	b.Run("tcp", func(b *testing.B) {
		srv := xmpptest.Start(b)
		srv.AddUser(b, "alice", secret("alice"))
		srv.AddUser(b, "bob", secret("bob"))
		alice := srv.Login(b, "alice", secret("alice"), "a")
		bob := srv.Login(b, "bob", secret("bob"), "b")
		burst := strings.Repeat(msg, batch)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			alice.Send(burst)
			for j := 0; j < batch; j++ {
				bob.Next()
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("websocket", func(b *testing.B) {
		srv := xmpptest.Start(b)
		srv.AddUser(b, "alice", secret("alice"))
		srv.AddUser(b, "bob", secret("bob"))
		alice, _, err := dialWS(b, srv, "xmpp")
		if err != nil {
			b.Fatal(err)
		}
		alice.login(srv.Domain, "alice", secret("alice"), "a")
		bob, _, err := dialWS(b, srv, "xmpp")
		if err != nil {
			b.Fatal(err)
		}
		bob.login(srv.Domain, "bob", secret("bob"), "b")
		m := []byte(msg)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			for j := 0; j < batch; j++ {
				if err := alice.c.Write(alice.ctx, websocket.MessageText, m); err != nil {
					b.Fatal(err)
				}
			}
			for j := 0; j < batch; j++ {
				if _, _, err := bob.c.Read(bob.ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}
