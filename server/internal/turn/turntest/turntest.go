// Package turntest is a real TURN client for tests: pion/turn's, over
// UDP on the loopback.
package turntest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"
)

// Relay is an allocation on a TURN server.
type Relay struct {
	Client *pionturn.Client
	Conn   net.PacketConn // the relayed transport address's side
}

// Allocate logs in to the TURN server at addr (UDP) with the credentials
// and allocates a relay; the error is the server's refusal.
func Allocate(t testing.TB, addr, username, password string) (*Relay, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return allocate(t, conn, addr, username, password)
}

// AllocateTLS is Allocate over TURN over TLS (RFC 8656 3.1), the server's
// certificate checked with cfg: the relay is UDP's all the same.
func AllocateTLS(t testing.TB, addr string, cfg *tls.Config, username, password string) (*Relay, error) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	return allocate(t, pionturn.NewSTUNConn(c), addr, username, password)
}

func allocate(t testing.TB, conn net.PacketConn, addr, username, password string) (*Relay, error) {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Conn:           conn,
		Username:       username,
		Password:       password,
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		c.Close()
		conn.Close()
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		c.Close()
		conn.Close()
		return nil, err
	}
	r := &Relay{Client: c, Conn: relay}
	t.Cleanup(func() {
		relay.Close()
		c.Close()
		conn.Close()
	})
	return r, nil
}

// Close ends the allocation.
func (r *Relay) Close() {
	r.Conn.Close()
	r.Client.Close()
}

// Exchange sends n datagrams each way between two relays (each one's
// peer is the other's relayed address) and checks that every one arrives
// unchanged. Permissions are made by the first sends (pion's client makes
// a permission before a send to a new peer).
func Exchange(t testing.TB, a, b *Relay, n int) {
	t.Helper()
	// Each side first opens its permission for the other's relay address,
	// so that neither one's first datagram is dropped for want of one.
	if err := a.Client.CreatePermission(b.Conn.LocalAddr()); err != nil {
		t.Fatalf("permission: %v", err)
	}
	if err := b.Client.CreatePermission(a.Conn.LocalAddr()); err != nil {
		t.Fatalf("permission: %v", err)
	}
	send := func(from, to *Relay, tag string) {
		buf := make([]byte, 1500)
		for i := range n {
			msg := fmt.Appendf(nil, "%s %d", tag, i)
			if _, err := from.Conn.WriteTo(msg, to.Conn.LocalAddr()); err != nil {
				t.Fatalf("send %s: %v", msg, err)
			}
			to.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			m, src, err := to.Conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("%s did not arrive through the relays: %v", msg, err)
			}
			if !bytes.Equal(buf[:m], msg) {
				t.Fatalf("sent %q, got %q", msg, buf[:m])
			}
			if src.String() != from.Conn.LocalAddr().String() {
				t.Fatalf("%q came from %s, want %s (the sender's relay)", msg, src, from.Conn.LocalAddr())
			}
		}
	}
	send(a, b, "a->b")
	send(b, a, "b->a")
}
