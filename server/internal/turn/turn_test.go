package turn_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/turn"
	"hearth/server/internal/turn/turntest"
)

// start runs a TURN server on the loopback with a relay range of its own.
func start(t testing.TB, perUser, total int) (*turn.Server, string, []byte) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a test secret of thirty-two bytes")
	s, err := turn.Start(turn.Config{Realm: "hearth.test", Secret: secret, RelayIP: net.IPv4(127, 0, 0, 1),
		RelayMin: 40000, RelayMax: 40999, PerUser: perUser, Total: total}, turn.Listeners{UDP: udp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, udp.LocalAddr().String(), secret
}

func TestRelay(t *testing.T) {
	s, addr, secret := start(t, 2, 3)
	exp := time.Now().Add(time.Hour)
	alice := turn.NewCredentials(secret, "alice@hearth.test", exp)
	bob := turn.NewCredentials(secret, "bob@hearth.test", exp)

	a, err := turntest.Allocate(t, addr, alice.Username, alice.Password)
	if err != nil {
		t.Fatalf("alice's allocation: %v", err)
	}
	b, err := turntest.Allocate(t, addr, bob.Username, bob.Password)
	if err != nil {
		t.Fatalf("bob's allocation: %v", err)
	}
	turntest.Exchange(t, a, b, 10)
	// Counted once each relay socket's read or write returns: the last
	// datagram may be delivered before its count.
	st := s.Status()
	if st.Allocations != 2 || st.PacketsRelayed < 38 || st.BytesRelayed < 38*6 {
		t.Errorf("status after 20 datagrams each way through two relays: %+v", st)
	}

	t.Run("refused", func(t *testing.T) {
		before := s.Status().RefusedAuth
		expired := turn.NewCredentials(secret, "alice@hearth.test", time.Now().Add(-time.Minute))
		forged := alice
		forged.Password = turn.NewCredentials([]byte("another secret, not the server's"), "alice@hearth.test", exp).Password
		for name, c := range map[string]turn.Credentials{"expired": expired, "forged": forged,
			"not Hearth's": {Username: "alice", Password: "silver-kettle-pw"}} {
			if _, err := turntest.Allocate(t, addr, c.Username, c.Password); err == nil {
				t.Errorf("%s credentials: allocated", name)
			}
		}
		if got := s.Status().RefusedAuth - before; got < 3 {
			t.Errorf("refused authentications counted: %d, want 3", got)
		}
	})
	t.Run("quota", func(t *testing.T) {
		if _, err := turntest.Allocate(t, addr, alice.Username, alice.Password); err != nil {
			t.Fatalf("alice's second allocation: %v", err)
		}
		// alice has 2 (her quota): a third is refused with 486.
		_, err := turntest.Allocate(t, addr, alice.Username, alice.Password)
		if err == nil || !strings.Contains(err.Error(), "486") {
			t.Fatalf("alice's third allocation: %v, want 486 Allocation Quota Reached", err)
		}
		// 3 in all: carol is refused too, by the global cap.
		carol := turn.NewCredentials(secret, "carol@hearth.test", exp)
		if _, err := turntest.Allocate(t, addr, carol.Username, carol.Password); err == nil || !strings.Contains(err.Error(), "486") {
			t.Fatalf("an allocation over the cap: %v, want 486", err)
		}
		if s.Status().RefusedQuota != 2 {
			t.Errorf("quota refusals: %d, want 2", s.Status().RefusedQuota)
		}
		// The server keeps serving: bob's relay still works.
		b.Close()
		b2, err := turntest.Allocate(t, addr, bob.Username, bob.Password)
		if err != nil {
			t.Fatalf("bob again after his relay ended: %v", err)
		}
		turntest.Exchange(t, a, b2, 2)
	})
}

// TestGarbage: datagrams and streams that are not STUN, or STUN cut
// short, get nothing and break nothing: the next client is served.
func TestGarbage(t *testing.T) {
	s, addr, secret := start(t, 2, 3)
	c, err := net.Dial("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, g := range [][]byte{
		{},
		[]byte("hello"),
		{0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42},                                    // a Binding request's header, cut short
		append([]byte{0x00, 0x03, 0xff, 0xff, 0x21, 0x12, 0xa4, 0x42}, make([]byte, 12)...), // an Allocate claiming 64 KiB
		append([]byte{0x40, 0x00, 0x00, 0x10}, make([]byte, 4)...),                          // ChannelData for no channel
		make([]byte, 1500),
	} {
		if _, err := c.Write(g); err != nil {
			t.Fatal(err)
		}
	}
	ok := turn.NewCredentials(secret, "alice@hearth.test", time.Now().Add(time.Hour))
	if _, err := turntest.Allocate(t, addr, ok.Username, ok.Password); err != nil {
		t.Fatalf("after garbage: %v", err)
	}
	if s.Status().Allocations != 1 {
		t.Errorf("allocations: %d", s.Status().Allocations)
	}
}

// TestCloseEndsStreams: stopping the server ends the TCP streams of
// connected clients too, not only its listener.
func TestCloseEndsStreams(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := turn.Start(turn.Config{Realm: "hearth.test", Secret: []byte("a test secret of thirty-two bytes"), RelayIP: net.IPv4(127, 0, 0, 1),
		RelayMin: 40000, RelayMax: 40999}, turn.Listeners{TCP: ln})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A Binding request, answered: the stream is being served.
	c.Write([]byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	if _, err := c.Read(buf); err != nil {
		t.Fatalf("binding: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("the stream goes on after the server's end: read %d bytes", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stream was not closed when the server stopped")
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	a, err := turn.LoadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := turn.LoadSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || string(a) != string(b) {
		t.Fatalf("secret not kept: %x then %x", a, b)
	}
}

func TestCredentials(t *testing.T) {
	c := turn.NewCredentials([]byte("k"), "alice@hearth.test", time.Unix(1700000000, 0))
	// base64(HMAC-SHA1("k", name)), computed with openssl:
	// printf '1700000000:alice@hearth.test' | openssl dgst -sha1 -hmac k -binary | base64
	if c.Username != "1700000000:alice@hearth.test" || c.Password != wantPassword {
		t.Fatalf("credentials %+v", c)
	}
	exp, user, ok := turn.ParseUsername(c.Username)
	if !ok || user != "alice@hearth.test" || exp.Unix() != 1700000000 {
		t.Fatalf("parsed %v %q %v", exp, user, ok)
	}
}

func FuzzParseUsername(f *testing.F) {
	for _, s := range []string{"1700000000:alice@hearth.test", "", ":", "12:", ":a", "-1:a", "+1:a", "99999999999999999999:a", "1:a:b", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp, user, ok := turn.ParseUsername(s)
		if !ok {
			return
		}
		if user == "" || exp.Unix() < 0 {
			t.Fatalf("%q: %v %q", s, exp, user)
		}
		if c := turn.NewCredentials([]byte("k"), user, exp); c.Username != s && !strings.HasPrefix(s, "0") {
			t.Fatalf("%q read as %v %q, which make %q", s, exp, user, c.Username)
		}
	})
}

const wantPassword = "EOl2VBenRL/ttacoxiEq1xBhLBo="
