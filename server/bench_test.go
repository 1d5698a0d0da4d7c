package server_test

import (
	"fmt"
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

// BenchmarkMessageRoundTrip measures the whole hot path on real sockets:
// alice's TLS stream -> decoder -> router -> bob's queue -> writer -> TLS.
func BenchmarkMessageRoundTrip(b *testing.B) {
	srv := xmpptest.Start(b)
	srv.AddUser(b, "alice", "silver-kettle-pw")
	srv.AddUser(b, "bob", "copper-lantern-pw")
	alice := srv.Login(b, "alice", "silver-kettle-pw", "a")
	bob := srv.Login(b, "bob", "copper-lantern-pw", "b")
	bob.Send(`<presence/>`)
	bob.Expect(`<presence from='bob@hearth.test/b' to='bob@hearth.test/b'/>`)
	msg := `<message to='bob@hearth.test/b' type='chat'><body>` + strings.Repeat("x", 64) + `</body></message>`
	const batch = 100
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
}

// BenchmarkLogin measures STARTTLS + SCRAM-SHA-256 + bind on loopback.
func BenchmarkLogin(b *testing.B) {
	srv := xmpptest.Start(b)
	srv.AddUser(b, "alice", "silver-kettle-pw")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := srv.Dial("alice", "silver-kettle-pw", fmt.Sprintf("r%d", i))
		if err != nil {
			b.Fatal(err)
		}
		c.Abort()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
