package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// These tests run mDNS only between network namespaces of their own, joined
// by a veth pair with private addresses: never on this machine's real
// interfaces. The test process sets them up with ip(8) and re-executes its
// own binary inside them (ip netns exec) as TestHelperProcess in a role;
// it never enters a namespace itself, since goroutines move between
// threads.

// The helper's environment.
const (
	envRole     = "HEARTH_MDNS_ROLE" // "announce" or "browse"
	envIface    = "HEARTH_MDNS_IFACE"
	envInstance = "HEARTH_MDNS_INSTANCE"
	envHost     = "HEARTH_MDNS_HOST"
	envDomain   = "HEARTH_MDNS_DOMAIN"
	envPort     = "HEARTH_MDNS_PORT"
	envTLSPort  = "HEARTH_MDNS_TLS_PORT"
	envParentNS = "HEARTH_MDNS_PARENT_NETNS" // the test's own, where mDNS must not go
)

// helperLife bounds a browser helper that nobody stops.
const helperLife = 10 * time.Second

// event is one line a browser helper prints.
type event struct {
	Event    string   `json:"event"` // ready, found, host, goodbye
	Service  string   `json:"service,omitempty"`
	Instance string   `json:"instance,omitempty"`
	Host     string   `json:"host,omitempty"`
	Port     int      `json:"port,omitempty"`
	TXT      []string `json:"txt,omitempty"`
	IPv4     []string `json:"ipv4,omitempty"`
	IPv6     []string `json:"ipv6,omitempty"`
	Err      string   `json:"err,omitempty"`
	// After is the time from the browser's first query to this event.
	After time.Duration `json:"after,omitempty"`
	// At is when the browser printed it.
	At time.Time `json:"at"`
}

func TestAnnounceBetweenNamespaces(t *testing.T) {
	pair := newVethPair(t, "s", "d")
	want := Announcement{
		Instance: "Hearth on family.local",
		Host:     "family",
		Port:     25222,
		TLSPort:  25223,
		Domain:   "family.local",
	}
	wantTXT := []string{"txtvers=1", "domain=family.local"}
	wantAddr := pair.addr[0]

	browser := pair.start(t, 1, "browse", envHost+"="+want.Host)
	if ev := browser.next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("browser: first event %+v, want ready", ev)
	}

	began := time.Now()
	announcer := pair.start(t, 0, "announce",
		envInstance+"="+want.Instance, envHost+"="+want.Host, envDomain+"="+want.Domain,
		envPort+"="+strconv.Itoa(want.Port), envTLSPort+"="+strconv.Itoa(want.TLSPort))

	found := map[string]event{}
	var host *event
	deadline := began.Add(5 * time.Second)
	for len(found) < 2 || host == nil {
		ev := browser.next(t, deadline)
		switch ev.Event {
		case "found":
			if _, ok := found[ev.Service]; !ok {
				t.Logf("%s found after %v: %+v", ev.Service, time.Since(began), ev)
			}
			found[ev.Service] = ev
		case "host":
			t.Logf("%s resolved after %v: %+v", want.Host, time.Since(began), ev)
			host = &ev
		default:
			t.Fatalf("browser: unexpected %+v", ev)
		}
	}
	for svc, port := range map[string]int{ServiceC2S: want.Port, ServiceC2STLS: want.TLSPort} {
		ev, ok := found[svc]
		switch {
		case !ok:
			t.Errorf("%s not found", svc)
		case unescape(ev.Instance) != want.Instance || ev.Port != port || ev.Host != "family.local.":
			t.Errorf("%s: instance %q, port %d, host %q; want %q, %d, family.local.", svc, unescape(ev.Instance), ev.Port, ev.Host, want.Instance, port)
		case !slices.Equal(ev.TXT, wantTXT):
			t.Errorf("%s: TXT %q, want %q", svc, ev.TXT, wantTXT)
		case !slices.Equal(ev.IPv4, []string{wantAddr}):
			t.Errorf("%s: IPv4 %q, want [%s]", svc, ev.IPv4, wantAddr)
		}
	}
	if host.Err != "" || !slices.Equal(host.IPv4, []string{wantAddr}) {
		t.Errorf("%s.local: %+v, want IPv4 [%s]", want.Host, *host, wantAddr)
	}

	// A device that starts browsing later is answered at once.
	late := pair.start(t, 1, "browse", envHost+"="+want.Host)
	if ev := late.next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("late browser: first event %+v, want ready", ev)
	}
	ev := late.next(t, time.Now().Add(time.Second))
	if ev.Event != "found" {
		t.Fatalf("late browser: %+v, want found", ev)
	}
	t.Logf("late browser found %s %v after its query", ev.Service, ev.After)

	// SIGTERM: the announcer says goodbye for both services and exits 0.
	stopped := time.Now()
	if code := announcer.stop(t); code != 0 {
		t.Errorf("announcer: exit code %d after SIGTERM\n%s", code, announcer.stderr())
	}
	t.Logf("announcer exited %v after SIGTERM; its log:\n%s", time.Since(stopped), announcer.stderr())
	for _, line := range []string{"announced on the LAN", "LAN announcement withdrawn"} {
		if !strings.Contains(announcer.stderr(), line) {
			t.Errorf("announcer did not log %q:\n%s", line, announcer.stderr())
		}
	}
	goodbyes := map[string]time.Time{}
	for len(goodbyes) < 2 {
		ev := browser.next(t, stopped.Add(3*time.Second))
		if ev.Event != "goodbye" {
			continue // a late answer to a periodic query
		}
		if unescape(ev.Instance) != want.Instance {
			t.Errorf("goodbye for %q, want %q", ev.Instance, want.Instance)
		}
		goodbyes[ev.Service] = ev.At
	}
	// Measured by the browser: the announcer may take longer to exit
	// (the race detector waits a second at exit).
	t.Logf("goodbyes seen %v and %v after SIGTERM", goodbyes[ServiceC2S].Sub(stopped), goodbyes[ServiceC2STLS].Sub(stopped))
}

// TestHelperRefusesOpenNetwork runs the announcer where one more interface
// than its veth is up: it must refuse before sending anything.
func TestHelperRefusesOpenNetwork(t *testing.T) {
	pair := newVethPair(t, "x", "y")
	ns := pair.ns[0]
	extra := pair.iface[0] + "e"
	mustRun(t, "ip", "-n", ns, "link", "add", extra, "type", "veth", "peer", "name", extra+"p")
	mustRun(t, "ip", "-n", ns, "link", "set", extra, "up")
	p := pair.start(t, 0, "announce", envInstance+"=x", envHost+"=x", envPort+"=1")
	refusal := "refusing to send mDNS: interface " + extra + " is up"
	if code := p.wait(t, 5*time.Second); code == 0 || !strings.Contains(p.stdout(), refusal) {
		t.Errorf("announcer beside an extra interface: exit code %d, want a refusal\nstdout: %s\nstderr: %s", code, p.stdout(), p.stderr())
	}
}

// TestHelperProcess is the body of a helper started in a namespace; it
// does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	ifi, err := net.InterfaceByName(os.Getenv(envIface))
	if err != nil {
		t.Fatal(err)
	}
	if err := isolated(ifi.Name); err != nil {
		t.Fatalf("refusing to send mDNS: %v", err)
	}
	switch role {
	case "announce":
		announce(t, *ifi)
	case "browse":
		browse(t, *ifi, os.Getenv(envHost)+".local.")
	default:
		t.Fatalf("unknown role %q", role)
	}
}

// isolated reports why this process must not send mDNS: unless it runs in
// a network namespace other than the test's (and init's, where that can be
// read), where only lo and veth are up.
func isolated(veth string) error {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return err
	}
	if parent := os.Getenv(envParentNS); parent == "" || parent == self {
		return fmt.Errorf("in the test's own network namespace (%s)", self)
	}
	if init, err := os.Readlink("/proc/1/ns/net"); err == nil && init == self {
		return fmt.Errorf("in the network namespace of pid 1 (%s)", self)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	return onlyUp(ifaces, veth)
}

// onlyUp checks that veth is up and nothing else but the loopback.
func onlyUp(ifaces []net.Interface, veth string) error {
	var up bool
	for _, ifi := range ifaces {
		switch {
		case ifi.Flags&net.FlagUp == 0:
		case ifi.Name == veth:
			up = true
		case ifi.Name == "lo" && ifi.Flags&net.FlagLoopback != 0:
		default:
			return fmt.Errorf("interface %s is up", ifi.Name)
		}
	}
	if !up {
		return fmt.Errorf("interface %s is not up", veth)
	}
	return nil
}

func announce(t *testing.T, ifi net.Interface) {
	port, _ := strconv.Atoi(os.Getenv(envPort))
	tlsPort, _ := strconv.Atoi(os.Getenv(envTLSPort))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := Announce(ctx, Announcement{
		Instance: os.Getenv(envInstance),
		Host:     os.Getenv(envHost),
		Port:     port,
		TLSPort:  tlsPort,
		Domain:   os.Getenv(envDomain),
		Ifaces:   []net.Interface{ifi},
	}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
}

// browse prints what a device on the LAN sees: the services through
// zeroconf, host as a plain resolver would ask for it (RFC 6762 6.7), and
// the goodbyes, which zeroconf's browser does not report.
func browse(t *testing.T, ifi net.Interface, host string) {
	ctx, cancel := context.WithTimeout(context.Background(), helperLife)
	defer cancel()
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(ev event) {
		ev.At = time.Now()
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev)
	}

	watch, err := join(group4, []net.Interface{ifi})
	if err != nil {
		t.Fatal(err)
	}
	context.AfterFunc(ctx, func() { watch.Close() })
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { watchGoodbyes(watch, emit) })

	// Listening first, so that "ready" comes before any answer.
	services := []string{ServiceC2S, ServiceC2STLS}
	var resolvers []*zeroconf.Resolver
	for range services {
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{ifi}))
		if err != nil {
			t.Fatal(err)
		}
		resolvers = append(resolvers, r)
	}
	emit(event{Event: "ready"})
	var lookup sync.Once
	began := time.Now()
	for i, svc := range services {
		entries := make(chan *zeroconf.ServiceEntry)
		if err := resolvers[i].Browse(ctx, svc, "local.", entries); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for e := range entries {
				emit(event{Event: "found", Service: svc, Instance: e.Instance, Host: e.HostName,
					Port: e.Port, TXT: e.Text, IPv4: ipStrings(e.AddrIPv4), IPv6: ipStrings(e.AddrIPv6),
					After: time.Since(began)})
				lookup.Do(func() { emit(resolveHost(ifi, host)) })
			}
		})
	}
	<-ctx.Done()
}

// resolveHost asks for host's A record from an ephemeral port, as a plain
// DNS resolver does.
func resolveHost(ifi net.Interface, host string) event {
	ev := event{Event: "host", Host: host}
	err := func() error {
		uc, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			return err
		}
		defer uc.Close()
		c := ipv4.NewPacketConn(uc)
		if err := c.SetMulticastInterface(&ifi); err != nil {
			return err
		}
		q := new(dns.Msg)
		q.SetQuestion(host, dns.TypeA)
		b, err := q.Pack()
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, nil, group4); err != nil {
			return err
		}
		uc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 9000)
		for {
			n, _, err := uc.ReadFrom(buf)
			if err != nil {
				return err
			}
			var r dns.Msg
			if r.Unpack(buf[:n]) != nil || r.Id != q.Id {
				continue
			}
			for _, rr := range append(r.Answer, r.Extra...) {
				switch rr := rr.(type) {
				case *dns.A:
					ev.IPv4 = append(ev.IPv4, rr.A.String())
				case *dns.AAAA:
					ev.IPv6 = append(ev.IPv6, rr.AAAA.String())
				}
			}
			return nil
		}
	}()
	if err != nil {
		ev.Err = err.Error()
	}
	return ev
}

// watchGoodbyes reports PTR records of our services with TTL 0 (RFC 6762
// 10.1) until c is closed.
func watchGoodbyes(c mconn, emit func(event)) {
	buf := make([]byte, 9000)
	for {
		n, _, _, err := c.read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		var m dns.Msg
		if err != nil || m.Unpack(buf[:n]) != nil || !m.Response {
			continue
		}
		for _, rr := range m.Answer {
			ptr, ok := rr.(*dns.PTR)
			if !ok || ptr.Hdr.Ttl != 0 {
				continue
			}
			for _, svc := range []string{ServiceC2S, ServiceC2STLS} {
				if instance, ok := strings.CutSuffix(ptr.Ptr, "."+svc+".local."); ok && ptr.Hdr.Name == svc+".local." {
					emit(event{Event: "goodbye", Service: svc, Instance: instance})
				}
			}
		}
	}
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}

// unescape turns a label in DNS presentation format back into text.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '\\' || i+1 == len(s):
			b.WriteByte(s[i])
		case i+3 < len(s) && isDigits(s[i+1:i+4]):
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
		default:
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

// vethPair is two namespaces joined by a veth pair: ns[i] holds iface[i]
// with addr[i] in a private /24.
type vethPair struct {
	ns, iface, addr [2]string
}

// newVethPair makes the namespaces, named after the test's pid and the
// tags, and deletes them when the test ends. It skips without root or ip,
// and fails instead in CI.
func newVethPair(t *testing.T, tagA, tagB string) *vethPair {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs ip(8) from iproute2"
	}
	if why == "" {
		// A namespace that cannot be made (a container without the right)
		// counts as missing too.
		probe := fmt.Sprintf("hearth-mdns-%d-probe", os.Getpid())
		if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
			why = fmt.Sprintf("cannot make a network namespace: %v: %s", err, out)
		} else {
			exec.Command("ip", "netns", "del", probe).Run()
		}
	}
	if why != "" {
		unavailable(t, why)
	}
	pid := os.Getpid()
	subnet := fmt.Sprintf("10.231.%d", pid%250+1)
	p := &vethPair{}
	for i, tag := range []string{tagA, tagB} {
		p.ns[i] = fmt.Sprintf("hearth-mdns-%d-%s", pid, tag)
		p.iface[i] = fmt.Sprintf("hm%d%s", pid, tag)
		p.addr[i] = fmt.Sprintf("%s.%d", subnet, i+1)
		mustRun(t, "ip", "netns", "add", p.ns[i])
		t.Cleanup(func() { mustRun(t, "ip", "netns", "del", p.ns[i]) })
	}
	// Made inside the namespaces: the pair never appears in ours.
	mustRun(t, "ip", "link", "add", p.iface[0], "netns", p.ns[0], "type", "veth", "peer", "name", p.iface[1], "netns", p.ns[1])
	for i := range 2 {
		// No duplicate address detection: the link-local IPv6 address is
		// usable at once.
		if out, err := exec.Command("ip", "netns", "exec", p.ns[i], "sysctl", "-qw", "net.ipv6.conf."+p.iface[i]+".accept_dad=0").CombinedOutput(); err != nil {
			t.Logf("no IPv6 DAD setting: %v: %s", err, out)
		}
		mustRun(t, "ip", "-n", p.ns[i], "link", "set", "lo", "up")
		mustRun(t, "ip", "-n", p.ns[i], "addr", "add", p.addr[i]+"/24", "dev", p.iface[i])
		mustRun(t, "ip", "-n", p.ns[i], "link", "set", p.iface[i], "up")
	}
	return p
}

// unavailable skips a test that lacks something from the machine, or fails
// it in CI, where everything must be there.
func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// helper is a running TestHelperProcess.
type helper struct {
	cmd    *exec.Cmd
	out    eventWriter
	errb   syncBuffer
	events chan event // closed when the helper has exited
	done   chan struct{}
}

// start runs TestHelperProcess in namespace i in role, with extra
// environment; the test's end kills it if it still runs.
func (p *vethPair) start(t *testing.T, i int, role string, env ...string) *helper {
	t.Helper()
	h := &helper{events: make(chan event, 64), done: make(chan struct{})}
	h.out.ch = h.events
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	h.cmd = exec.Command("ip", "netns", "exec", p.ns[i], os.Args[0], "-test.run=^TestHelperProcess$", "-test.timeout=30s")
	h.cmd.Env = append(os.Environ(), envRole+"="+role, envIface+"="+p.iface[i], envParentNS+"="+self)
	h.cmd.Env = append(h.cmd.Env, env...)
	h.cmd.Stdout, h.cmd.Stderr = &h.out, &h.errb
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		h.cmd.Wait()
		close(h.events)
		close(h.done)
	}()
	t.Cleanup(func() {
		select {
		case <-h.done:
		default:
			h.cmd.Process.Kill()
			<-h.done
		}
	})
	return h
}

// next returns the helper's next event, failing the test when there is
// none before deadline.
func (h *helper) next(t *testing.T, deadline time.Time) event {
	t.Helper()
	select {
	case ev, ok := <-h.events:
		if !ok {
			t.Fatalf("helper ended: %v\nstdout: %s\nstderr: %s", h.cmd.ProcessState, h.stdout(), h.stderr())
		}
		return ev
	case <-time.After(time.Until(deadline)):
		t.Fatalf("helper: nothing more before the deadline\nstdout: %s\nstderr: %s", h.stdout(), h.stderr())
	}
	return event{}
}

// stop sends SIGTERM and returns the exit code.
func (h *helper) stop(t *testing.T) int {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return h.wait(t, 5*time.Second)
}

func (h *helper) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-h.done:
		return h.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("helper still running after %v\n%s", d, h.stderr())
	}
	return -1
}

func (h *helper) stdout() string { return h.out.String() }
func (h *helper) stderr() string { return h.errb.String() }

// eventWriter keeps a helper's standard output and sends each JSON line on
// as an event; other lines (the test binary's PASS) are only kept.
type eventWriter struct {
	syncBuffer
	line []byte
	ch   chan<- event
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.syncBuffer.Write(p)
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		var ev event
		if json.Unmarshal(w.line[:i], &ev) == nil {
			select {
			case w.ch <- ev:
			default: // more than the test reads: it has failed already
			}
		}
		w.line = w.line[i+1:]
	}
}

// syncBuffer is a bytes.Buffer that exec's copying goroutine writes while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
