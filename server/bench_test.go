package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server"
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

// BenchmarkLoginFAST measures what a device that has a FAST token does to
// come back: STARTTLS + SASL2 with HT-SHA-256-NONE + Bind 2, on loopback
// (compare BenchmarkLogin).
func BenchmarkLoginFAST(b *testing.B) {
	srv := xmpptest.Start(b)
	srv.AddUser(b, "alice", "silver-kettle-pw")
	const agent = "0b8f6c2e-4a1d-4e7b-9c3f-2d5a6e8b1f40"
	c, res := srv.LoginSASL2(b, "alice", "silver-kettle-pw", xmpptest.SASL2{AgentID: agent, RequestToken: "HT-SHA-256-NONE"})
	c.Abort()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, r, err := xmpptest.LoginSASL2To(srv.Endpoint(), "alice", "", xmpptest.SASL2{AgentID: agent, Bind: true, Tag: "bench", Token: res.Token, Count: int64(i + 1)})
		if err != nil || r.Failure != nil {
			b.Fatal(err, r.Failure)
		}
		c.Abort()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkFederation measures messages per second across one link
// between two Hearth servers on loopback (P=10: ten senders on a.test,
// ten receivers on b.test), with the rate limit per link lifted (rate) or
// as shipped (default).
func BenchmarkFederation(b *testing.B) {
	for _, bc := range []struct {
		name string
		rate int
	}{{"rate=unlimited", 1 << 40}, {"rate=default", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			p := federate(b, true, func(c *server.Config) { c.Federation.Rate = bc.rate })
			const pairs = 10
			senders := make([]*xmpptest.Client, pairs)
			receivers := make([]*xmpptest.Client, pairs)
			for i := range pairs {
				p.a.AddUser(b, fmt.Sprintf("s%d", i), "silver-kettle-pw")
				p.b.AddUser(b, fmt.Sprintf("r%d", i), "copper-lantern-pw")
				senders[i] = p.a.Login(b, fmt.Sprintf("s%d", i), "silver-kettle-pw", "a")
				receivers[i] = p.b.Login(b, fmt.Sprintf("r%d", i), "copper-lantern-pw", "b")
			}
			// The link is up before the clock starts.
			senders[0].Send(`<message to='r0@b.test/b' type='chat'><body>hi</body></message>`)
			receivers[0].Next()
			// Each pair sends a burst and waits for it to arrive, as in
			// BenchmarkMessageRoundTrip: the link carries ten at once.
			const batch = 50
			body := strings.Repeat("x", 64)
			per := max(b.N/pairs/batch, 1)
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := range pairs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					burst := strings.Repeat(fmt.Sprintf(`<message to='r%d@b.test/b' type='chat'><body>%s</body></message>`, i, body), batch)
					for range per {
						senders[i].Send(burst)
						for range batch {
							receivers[i].NextWithin(30 * time.Second)
						}
					}
				}()
			}
			wg.Wait()
			total := pairs * per * batch
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkFederationFirstMessage measures the delay of the first message
// to another server: resolving it, connecting, TLS, authentication (by
// certificate, or dialback with its call back), then delivery.
func BenchmarkFederationFirstMessage(b *testing.B) {
	for _, trust := range []bool{true, false} {
		name := map[bool]string{true: "auth=certificate", false: "auth=dialback"}[trust]
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := federate(b, trust)
				alice := p.a.Login(b, "alice", "silver-kettle-pw", "phone")
				bob := p.b.Login(b, "bob", "copper-lantern-pw", "pc")
				b.StartTimer()
				start := time.Now()
				alice.Send(`<message to='bob@b.test/pc' type='chat'><body>first</body></message>`)
				bob.Next()
				total += time.Since(start)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-message")
		})
	}
}
