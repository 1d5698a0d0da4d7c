// Package netns gives tests hosts of their own to run mDNS between:
// network namespaces joined by a veth pair with private addresses, never
// this machine's real interfaces. A test makes a Pair and starts
// processes in its namespaces; a process that sends mDNS itself is the
// test binary run again as a helper (see StartHelper), which checks first
// that it is isolated. The test process never enters a namespace itself,
// since goroutines move between threads.
//
// Only tests import it.
package netns

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The environment of a helper.
const (
	EnvRole     = "HEARTH_NETNS_ROLE"   // what the helper does; empty in a normal run
	EnvIface    = "HEARTH_NETNS_IFACE"  // its veth
	envParentNS = "HEARTH_NETNS_PARENT" // the test's own namespace, where mDNS must not go
)

// Pair is two namespaces joined by a veth pair: NS[i] holds Iface[i]
// with Addr[i] in a private /24.
type Pair struct {
	NS, Iface, Addr [2]string
}

// NewPair makes the namespaces, named after the test's pid and the tags,
// and deletes them when the test ends. It skips without root or ip(8),
// and fails instead in CI.
func NewPair(t *testing.T, tagA, tagB string) *Pair {
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
		Unavailable(t, why)
	}
	pid := os.Getpid()
	subnet := fmt.Sprintf("10.231.%d", pid%250+1)
	p := &Pair{}
	for i, tag := range []string{tagA, tagB} {
		p.NS[i] = fmt.Sprintf("hearth-mdns-%d-%s", pid, tag)
		p.Iface[i] = fmt.Sprintf("hm%d%s", pid, tag)
		p.Addr[i] = fmt.Sprintf("%s.%d", subnet, i+1)
		MustRun(t, "ip", "netns", "add", p.NS[i])
		t.Cleanup(func() { MustRun(t, "ip", "netns", "del", p.NS[i]) })
	}
	// Made inside the namespaces: the pair never appears in ours.
	MustRun(t, "ip", "link", "add", p.Iface[0], "netns", p.NS[0], "type", "veth", "peer", "name", p.Iface[1], "netns", p.NS[1])
	for i := range 2 {
		// No duplicate address detection: the link-local IPv6 address is
		// usable at once.
		if out, err := exec.Command("ip", "netns", "exec", p.NS[i], "sysctl", "-qw", "net.ipv6.conf."+p.Iface[i]+".accept_dad=0").CombinedOutput(); err != nil {
			t.Logf("no IPv6 DAD setting: %v: %s", err, out)
		}
		MustRun(t, "ip", "-n", p.NS[i], "link", "set", "lo", "up")
		MustRun(t, "ip", "-n", p.NS[i], "addr", "add", p.Addr[i]+"/24", "dev", p.Iface[i])
		MustRun(t, "ip", "-n", p.NS[i], "link", "set", p.Iface[i], "up")
	}
	return p
}

// Unavailable skips a test that lacks something from the machine, or
// fails it in CI, where everything must be there.
func Unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// MustRun runs a command and fails the test if it fails.
func MustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// Event is one line a process prints as JSON (a browser's findings).
type Event struct {
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

// Proc is a process running in a namespace.
type Proc struct {
	cmd    *exec.Cmd
	out    eventWriter
	errb   SyncBuffer
	events chan Event // closed when the process has exited
	done   chan struct{}
}

// Start runs a command in namespace i with extra environment; the test's
// end kills it if it still runs.
func (p *Pair) Start(t *testing.T, i int, env []string, name string, args ...string) *Proc {
	t.Helper()
	h := &Proc{events: make(chan Event, 64), done: make(chan struct{})}
	h.out.ch = h.events
	h.cmd = exec.Command("ip", append([]string{"netns", "exec", p.NS[i], name}, args...)...)
	h.cmd.Env = append(os.Environ(), env...)
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

// StartHelper runs the test binary in namespace i as TestHelperProcess in
// role, with extra environment: the helper reads its role and interface
// with Helper.
func (p *Pair) StartHelper(t *testing.T, i int, role string, env ...string) *Proc {
	t.Helper()
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	env = append([]string{EnvRole + "=" + role, EnvIface + "=" + p.Iface[i], envParentNS + "=" + self}, env...)
	return p.Start(t, i, env, os.Args[0], "-test.run=^TestHelperProcess$", "-test.timeout=30s")
}

// Next returns the process's next event, failing the test when there is
// none before deadline.
func (h *Proc) Next(t *testing.T, deadline time.Time) Event {
	t.Helper()
	select {
	case ev, ok := <-h.events:
		if !ok {
			t.Fatalf("process ended: %v\nstdout: %s\nstderr: %s", h.cmd.ProcessState, h.Stdout(), h.Stderr())
		}
		return ev
	case <-time.After(time.Until(deadline)):
		t.Fatalf("nothing more before the deadline\nstdout: %s\nstderr: %s", h.Stdout(), h.Stderr())
	}
	return Event{}
}

// Stop sends SIGTERM and returns the exit code.
func (h *Proc) Stop(t *testing.T) int {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return h.Wait(t, 5*time.Second)
}

// Wait waits for the process to end and returns its exit code.
func (h *Proc) Wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-h.done:
		return h.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("still running after %v\n%s", d, h.Stderr())
	}
	return -1
}

// Signal sends sig to the process (a helper's own commands: update,
// withdraw).
func (h *Proc) Signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Done is closed when the process has ended.
func (h *Proc) Done() <-chan struct{} { return h.done }

// Stdout is what the process printed on standard output so far.
func (h *Proc) Stdout() string { return h.out.String() }

// Stderr is what it printed on standard error so far.
func (h *Proc) Stderr() string { return h.errb.String() }

// WaitStderr waits until the process's standard error holds s.
func (h *Proc) WaitStderr(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(h.Stderr(), s) {
		select {
		case <-h.done:
			t.Fatalf("ended before saying %q:\n%s%s", s, h.Stdout(), h.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not say %q within %v:\n%s", s, d, h.Stderr())
		}
	}
}

// eventWriter keeps a process's standard output and sends each JSON line
// on as an event; other lines (the test binary's PASS) are only kept.
type eventWriter struct {
	SyncBuffer
	line []byte
	ch   chan<- Event
}

func (w *eventWriter) Write(p []byte) (int, error) {
	w.SyncBuffer.Write(p)
	w.line = append(w.line, p...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		var ev Event
		if json.Unmarshal(w.line[:i], &ev) == nil && ev.Event != "" {
			select {
			case w.ch <- ev:
			default: // more than the test reads: it has failed already
			}
		}
		w.line = w.line[i+1:]
	}
}

// SyncBuffer is a bytes.Buffer that a process's copying goroutine writes
// while the test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Helper returns, in a helper process, its role and the interface it may
// use, once it has checked that it is isolated: in a namespace other than
// the test's (and init's, where that can be read), where only lo and its
// veth are up. In a normal test run the role is empty.
func Helper() (role string, ifi net.Interface, err error) {
	role = os.Getenv(EnvRole)
	if role == "" {
		return "", net.Interface{}, nil
	}
	i, err := net.InterfaceByName(os.Getenv(EnvIface))
	if err != nil {
		return role, net.Interface{}, err
	}
	if err := isolated(i.Name); err != nil {
		return role, *i, fmt.Errorf("refusing to send mDNS: %w", err)
	}
	return role, *i, nil
}

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
	return OnlyUp(ifaces, veth)
}

// OnlyUp checks that veth is up and nothing else but the loopback.
func OnlyUp(ifaces []net.Interface, veth string) error {
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

// Daemon starts a long-running command (a D-Bus bus, avahi, a browser)
// that the test's end stops (interrupt, then kill after 2 s), and waits
// up to 5 s until its output shows ready ("" for not at all). It returns
// the output as it grows.
func Daemon(t testing.TB, ready string, env []string, name string, args ...string) *SyncBuffer {
	t.Helper()
	out := new(SyncBuffer)
	cmd := exec.Command(name, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for ready != "" && !strings.Contains(out.String(), ready) {
		select {
		case <-done:
			t.Fatalf("%s ended: %s", name, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 5s: %s", name, out.String())
		}
	}
	return out
}

// WriteFile writes a test's configuration file, or fails the test.
func WriteFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// StartAvahi runs a private system bus and avahi-daemon (as host, with its
// files in dir) in the pair's namespace i; it returns the environment that
// reaches the bus. Both stop at the test's end.
func StartAvahi(t testing.TB, pair *Pair, i int, dir, host string) []string {
	t.Helper()
	bus := filepath.Join(dir, "bus")
	WriteFile(t, filepath.Join(dir, "bus.conf"), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+bus+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`)
	WriteFile(t, filepath.Join(dir, "avahi.conf"), `[server]
host-name=`+host+`
domain-name=local
allow-interfaces=`+pair.Iface[i]+`
enable-dbus=yes
[wide-area]
enable-wide-area=no
[publish]
publish-a-on-ipv6=yes
publish-aaaa-on-ipv4=yes
`)
	Daemon(t, "", nil, "dbus-daemon", "--config-file="+filepath.Join(dir, "bus.conf"), "--nofork", "--nopidfile")
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the D-Bus daemon made no socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	env := []string{"DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + bus}
	// avahi keeps its pid file in /run: a tmpfs of its own there (ip
	// netns exec runs it in a mount namespace of its own).
	Daemon(t, "Server startup complete", append(os.Environ(), env...), "ip", "netns", "exec", pair.NS[i], "sh", "-c",
		`mount -t tmpfs tmpfs /run && exec avahi-daemon -f "$0" --no-drop-root --no-chroot --no-rlimits --no-proc-title`,
		filepath.Join(dir, "avahi.conf"))
	return env
}
