package linklocal

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"

	"hearth/internal/netns"
	"hearth/server/internal/stanza"
)

// TestBonjourInterop talks to a real XEP-0174 implementation: libpurple's
// Bonjour protocol (testdata/bonjourpeer.c) with avahi in one network
// namespace, the Service in another (a helper process announcing
// alice@hearth with zeroconf, the test's stand-in for the discovery side).
// bob@familydevice opens a stream and says hello; the Service answers on
// that stream; bob closes it; the Service dials bob and bob answers on
// the Service's stream.
func TestBonjourInterop(t *testing.T) {
	for _, tool := range []string{"avahi-daemon", "dbus-daemon", "gcc", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			netns.Unavailable(t, fmt.Sprintf("needs %s (apt-get install avahi-daemon dbus gcc pkg-config libpurple-dev)", tool))
		}
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "purple").Output()
	if err != nil {
		netns.Unavailable(t, "needs libpurple-dev (pkg-config purple failed)")
	}
	dir := t.TempDir()
	peerBin := filepath.Join(dir, "bonjourpeer")
	args := append([]string{"-o", peerBin, "testdata/bonjourpeer.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("building the libpurple peer: %v\n%s", err, out)
	}
	pair := netns.NewPair(t, "h", "b")

	env := netns.StartAvahi(t, pair, 1, dir, "familydevice")

	hearth := pair.StartHelper(t, 0, "hearth")
	hearth.WaitStderr(t, "announced alice@hearth", 10*time.Second)
	purple := pair.Start(t, 1, env, peerBin, filepath.Join(dir, "purple"), "bob@familydevice", "alice@hearth")
	show := func() string { return "\nlibpurple:\n" + purple.Stderr() + "\nhearth:\n" + hearth.Stderr() }
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Log(show())
		}
	}()

	steps := []struct {
		p    *netns.Proc
		want string
	}{
		{purple, "signed on as bob@familydevice"},
		{purple, "buddy signed on: alice@hearth"},
		{hearth, `received from=bob@familydevice to=alice@hearth body="hello hearth"`},
		{purple, "received from alice@hearth: hello bob"},
		{hearth, `reason="the peer closed the stream"`},
		{hearth, "direction=outbound"},
		{purple, "received from alice@hearth: dialed by hearth"},
		{hearth, `received from=bob@familydevice to=alice@hearth body=thanks`},
	}
	for _, s := range steps {
		s.p.WaitStderr(t, s.want, 20*time.Second)
	}
	if code := purple.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("the libpurple peer exited with %d", code)
	}
	if strings.Contains(hearth.Stderr(), "refused") {
		t.Errorf("the Service refused a stream of libpurple's%s", show())
	}
}

// TestHelperProcess is the body of a helper started in a namespace; it
// does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	role, ifi, err := netns.Helper()
	switch {
	case role == "":
		return
	case err != nil:
		t.Fatal(err)
	case role != "hearth":
		t.Fatalf("unknown role %q", role)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	dir := &browsed{ifi: ifi, peers: map[string]announcement{}}
	go dir.browse(ctx)

	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var s *Service
	replies := make(chan string, 4)
	// With a certificate, as the integrator will set one: libpurple opens
	// without a version, so it is offered nothing and the stream stays plain.
	s = New(Config{Directory: dir, Log: log, TLS: selfSigned(t, "alice"), Handler: func(peer, local string, st *stanza.Stanza) {
		log.Info("received", "from", peer, "to", local, "body", st.Body())
		if strings.Contains(st.Body(), "hello hearth") {
			replies <- peer
		}
	}})
	defer s.Close()
	if err := s.Start(ln); err != nil {
		t.Fatal(err)
	}

	var addrs []string
	ias, _ := ifi.Addrs()
	for _, a := range ias {
		if ip, ok := a.(*net.IPNet); ok {
			addrs = append(addrs, ip.IP.String())
		}
	}
	txt := []string{"txtvers=1", "1st=Alice", "last=Hearth", "status=avail", "port.p2pj=" + strconv.Itoa(port)}
	srv, err := zeroconf.RegisterProxy("alice@hearth", "_presence._tcp", "local.", port, "hearthbox", addrs, txt, []net.Interface{ifi})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	log.Info("announced alice@hearth", "port", port, "addrs", addrs)

	select {
	case peer := <-replies:
		if err := s.Send(ctx, "alice@hearth", peer, message("hello bob")); err != nil {
			t.Fatal(err)
		}
		// bob closes the conversation, and with it the stream; the next
		// message needs a stream of ours.
		for len(s.Streams()) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.Send(ctx, "alice@hearth", peer, message("dialed by hearth")); err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("nothing from the libpurple peer")
	}
	<-ctx.Done()
}

// browsed is a Directory over zeroconf: the discovery side's stand-in.
type browsed struct {
	ifi   net.Interface
	mu    sync.Mutex
	peers map[string]announcement
}

// browse asks again every second (zeroconf delivers an entry once, with
// whichever addresses it has then) and keeps every address seen.
func (b *browsed) browse(ctx context.Context) {
	for ctx.Err() == nil {
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{b.ifi}))
		if err != nil {
			return
		}
		entries := make(chan *zeroconf.ServiceEntry, 16)
		bctx, cancel := context.WithTimeout(ctx, time.Second)
		go r.Browse(bctx, "_presence._tcp", "local.", entries)
		for e := range entries {
			b.add(e)
		}
		cancel()
	}
}

func (b *browsed) add(e *zeroconf.ServiceEntry) {
	name := strings.ReplaceAll(e.Instance, `\`, "")
	port := uint16(e.Port)
	for _, kv := range e.Text {
		if v, ok := strings.CutPrefix(kv, "port.p2pj="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				port = uint16(n)
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.peers[name]
	a.port = port
	for _, ip := range append(e.AddrIPv4, e.AddrIPv6...) {
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		if addr.Is6() && addr.IsLinkLocalUnicast() {
			addr = addr.WithZone(b.ifi.Name)
		}
		if !containsAddr(a.addrs, addr) {
			a.addrs = append(a.addrs, addr)
		}
	}
	b.peers[name] = a
}

func containsAddr(addrs []netip.Addr, a netip.Addr) bool {
	for _, x := range addrs {
		if x == a {
			return true
		}
	}
	return false
}

func (b *browsed) Peer(name string) ([]netip.Addr, uint16, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.peers[name]
	return a.addrs, a.port, ok && len(a.addrs) > 0
}

func (b *browsed) Local(name string) bool { return name == "alice@hearth" }
