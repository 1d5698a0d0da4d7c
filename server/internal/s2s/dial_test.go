package s2s

import (
	"context"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hostsDNS is fakeDNS with addresses per host name.
type hostsDNS struct {
	fakeDNS
	hosts map[string][]string
}

func (h hostsDNS) LookupHost(_ context.Context, host string) ([]string, error) {
	if a, ok := h.hosts[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// listen opens a listener on loopback that accepts until the test ends,
// and returns its port.
func listen(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// TestDialFallsThrough: a candidate where nothing listens, or whose name
// has no address, is passed over for the next.
func TestDialFallsThrough(t *testing.T) {
	open := listen(t)
	dns := hostsDNS{fakeDNS{"_xmpp-server._tcp.example.org": {
		{Target: "gone.example.org.", Port: 5269, Priority: 1},
		{Target: "down.example.org.", Port: closedPort(t), Priority: 2},
		{Target: "up.example.org.", Port: open, Priority: 3},
	}}, map[string][]string{"down.example.org": {"127.0.0.1"}, "up.example.org": {"127.0.0.1"}}}
	d := &Dialer{Resolver: dns}
	conn, c, err := d.Dial(context.Background(), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if c != (Candidate{"up.example.org", open, false}) {
		t.Errorf("reached %v, want up.example.org", c)
	}
}

// TestDialFails: when no candidate answers, the error names each and why,
// in words.
func TestDialFails(t *testing.T) {
	dns := hostsDNS{fakeDNS{"_xmpps-server._tcp.example.org": {
		{Target: "down.example.org.", Port: closedPort(t), Priority: 1},
	}, "_xmpp-server._tcp.example.org": {
		{Target: "gone.example.org.", Port: 5269, Priority: 2},
	}}, map[string][]string{"down.example.org": {"127.0.0.1"}}}
	_, _, err := (&Dialer{Resolver: dns}).Dial(context.Background(), "example.org")
	if err == nil {
		t.Fatal("connected to nothing")
	}
	for _, want := range []string{"could not connect to the server of example.org: ", "down.example.org port ", "(direct TLS): nothing listens there (connection refused)",
		"gone.example.org port 5269 (STARTTLS): its address could not be found (no such name in DNS)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestDialHappyEyeballs: an address that does not answer holds things up
// only for Delay: the next one is tried meanwhile and wins, and the slow
// attempt is given up.
func TestDialHappyEyeballs(t *testing.T) {
	open := listen(t)
	dns := hostsDNS{fakeDNS{"_xmpp-server._tcp.example.org": {{Target: "example.org.", Port: open}}},
		map[string][]string{"example.org": {"127.0.0.1", "::1"}}}
	gaveUp := make(chan struct{})
	d := &Dialer{Resolver: dns, Delay: 50 * time.Millisecond, dial: func(ctx context.Context, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "[::1]") { // as if the IPv6 route went nowhere
			<-ctx.Done()
			close(gaveUp)
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
	began := time.Now()
	conn, _, err := d.Dial(context.Background(), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("connected after %v", took)
	}
	if got := conn.RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.1" {
		t.Errorf("connected to %s", got)
	}
	select {
	case <-gaveUp:
	case <-time.After(5 * time.Second):
		t.Error("the slow attempt was not given up")
	}
}

func TestOrder(t *testing.T) {
	got := order([]string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "192.0.2.3", "2001:db8::2"})
	want := []string{"2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
