package turn_test

import (
	"fmt"
	"testing"
	"time"

	"hearth/server/internal/turn"
	"hearth/server/internal/turn/turntest"
)

// BenchmarkRelay sends datagrams from one client's relay to another's on
// the loopback: each goes client -> server -> relay A -> relay B ->
// server -> client, so it crosses two allocations. It reports what
// reached the far client, for datagrams of an Opus audio packet's size
// (160 bytes of RTP) and of a video packet's (1200).
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{160, 1200} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) { benchRelay(b, size) })
	}
}

func benchRelay(b *testing.B, size int) {
	s, addr, secret := start(b, 10, 10)
	exp := time.Now().Add(time.Hour)
	ca := turn.NewCredentials(secret, "alice@hearth.test", exp)
	cb := turn.NewCredentials(secret, "bob@hearth.test", exp)
	ra, err := turntest.Allocate(b, addr, ca.Username, ca.Password)
	if err != nil {
		b.Fatal(err)
	}
	rb, err := turntest.Allocate(b, addr, cb.Username, cb.Password)
	if err != nil {
		b.Fatal(err)
	}
	turntest.Exchange(b, ra, rb, 1) // permissions both ways
	const window = 16
	msg := make([]byte, size)
	buf := make([]byte, 1500)
	to := rb.Conn.LocalAddr()
	// A window of datagrams in flight: send 16, take what arrives of
	// them (a datagram lost in the loopback's buffers is given up after
	// 100 ms), send the next 16.
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	delivered, lost := 0, 0
	for sent := 0; sent < b.N; {
		w := min(window, b.N-sent)
		for range w {
			if _, err := ra.Conn.WriteTo(msg, to); err != nil {
				b.Fatal(err)
			}
		}
		sent += w
		for range w {
			rb.Conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, _, err := rb.Conn.ReadFrom(buf); err != nil {
				lost++
				break
			}
			delivered++
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(delivered)/el.Seconds(), "delivered/s")
	b.ReportMetric(float64(delivered*size)/el.Seconds()/1e6, "deliveredMB/s")
	b.ReportMetric(100*float64(delivered)/float64(b.N), "%delivered")
	if st := s.Status(); st.PacketsRelayed < int64(delivered) {
		b.Errorf("relayed %d datagrams, counted %d", delivered, st.PacketsRelayed)
	}
}
