package linklocal

import (
	"context"
	"net"
	"testing"

	"hearth/server/internal/stanza"
)

// BenchmarkServiceToService sends messages from one Service to another
// over a loopback stream and waits for each to arrive.
func BenchmarkServiceToService(b *testing.B) {
	for _, secure := range []bool{false, true} {
		name := "plain"
		if secure {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			got := make(chan struct{}, 1024)
			da, db := newDirectory("alice@hearth"), newDirectory("bob@otherbox")
			cfgA := Config{Directory: da}
			cfgB := Config{Directory: db, Handler: func(string, string, *stanza.Stanza) { got <- struct{}{} }}
			if secure {
				cfgA.TLS, cfgB.TLS = selfSigned(b, "alice"), selfSigned(b, "bob")
			}
			a, bb := New(cfgA), New(cfgB)
			defer a.Close()
			defer bb.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			bb.Start(ln)
			da.announce("bob@otherbox", uint16(ln.Addr().(*net.TCPAddr).Port), "127.0.0.1")
			db.announce("alice@hearth", 5298, "127.0.0.1")
			msg := message("a message of an ordinary length, about as long as people write")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := a.Send(ctx, "alice@hearth", "bob@otherbox", msg); err != nil {
					b.Fatal(err)
				}
				<-got
			}
		})
	}
}
