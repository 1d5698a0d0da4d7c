package server_test

import (
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

// BenchmarkBOSH measures messages per second through BOSH (XEP-0206) on
// loopback HTTPS: alice sends bob chat messages of 64 bytes, both over
// BOSH, bob's client keeping a request waiting at the server as web
// clients do; "batch" sends 100 in one request (a client that queued
// them), "single" one per request. BenchmarkWebSocket's tcp run is the
// baseline on the same machine.
func BenchmarkBOSH(b *testing.B) {
	msg := `<message xmlns='jabber:client' to='bob@hearth.test/b' type='chat'><body>` + strings.Repeat("x", 64) + `</body></message>`
	for _, tc := range []struct {
		name  string
		batch int
	}{{"batch", 100}, {"single", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := xmpptest.Start(b)
			srv.AddUser(b, "alice", secret("alice"))
			srv.AddUser(b, "bob", secret("bob"))
			alice := newBOSHClient(b, srv)
			alice.wait = 11
			alice.login("alice", secret("alice"), "a")
			bob := newBOSHClient(b, srv)
			bob.login("bob", secret("bob"), "b")
			burst := strings.Repeat(msg, tc.batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += tc.batch {
				alice.sendXML(burst)
				for j := 0; j < tc.batch; j++ {
					if el := bob.nextEl(); el.Name != "message" {
						b.Fatalf("bob got %s", el)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
