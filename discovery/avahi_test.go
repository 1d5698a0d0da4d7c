package discovery

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/internal/netns"
)

// TestAvahiSeesAnnouncement checks the announcement against an independent
// mDNS stack: Debian's avahi-daemon in the device's namespace, on a D-Bus
// system bus of the test's own, asked with avahi-resolve and avahi-browse.
func TestAvahiSeesAnnouncement(t *testing.T) {
	pair := netns.NewPair(t, "a", "v")

	announcer := pair.StartHelper(t, 0, "announce",
		envInstance+"=Hearth on family.local", envHost+"=family", envDomain+"=family.local",
		envPort+"=25222", envTLSPort+"=25223")
	announcer.WaitStderr(t, `msg="announced on the LAN"`, 5*time.Second)
	// The unsolicited announcements, which carry the host's address too,
	// end about a second after the probes. An avahi started after them has
	// nothing cached, so its host lookup must be answered.
	time.Sleep(1600 * time.Millisecond)

	peer := startAvahi(t, pair, 1, "device", false)
	avahi := func(args ...string) string { t.Helper(); return peer.run(t, args...) }
	began := time.Now()
	if got, want := avahi("avahi-resolve", "-4", "-n", "family.local"), "family.local\t"+pair.Addr[0]+"\n"; got != want {
		t.Errorf("avahi-resolve: %q, want %q", got, want)
	}
	t.Logf("avahi resolved family.local in %v", time.Since(began))

	// -p: one line per resolved service, fields split by ";", names
	// escaped (a space is \032).
	for svc, port := range map[string]int{ServiceC2S: 25222, ServiceC2STLS: 25223} {
		began := time.Now()
		out := avahi("avahi-browse", "-r", "-t", "-p", svc)
		want := strings.Join([]string{"=", pair.Iface[1], "IPv4", `Hearth\032on\032family\.local`, svc, "local",
			"family.local", pair.Addr[0], strconv.Itoa(port), `"domain=family.local" "txtvers=1"`}, ";")
		if !strings.Contains(out, want+"\n") {
			t.Errorf("avahi-browse %s:\n%s\nwant a line\n%s", svc, out, want)
		}
		t.Logf("avahi-browse -t %s took %v", svc, time.Since(began))
	}

	// Another address on the server's veth: announced again, resolved by
	// name and in the service.
	newAddr := pair.Addr[0][:strings.LastIndexByte(pair.Addr[0], '.')] + ".12"
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "del", pair.Addr[0]+"/24", "dev", pair.Iface[0])
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "add", newAddr+"/24", "dev", pair.Iface[0])
	began = time.Now()
	for {
		out := avahi("avahi-browse", "-r", "-t", "-p", ServiceC2S)
		if strings.Contains(out, ";family.local;"+newAddr+";25222;") &&
			avahi("avahi-resolve", "-4", "-n", "family.local") == "family.local\t"+newAddr+"\n" {
			break
		}
		if time.Since(began) > 10*time.Second {
			t.Fatalf("avahi does not see the new address %s:\n%s\nserver's log:\n%s", newAddr, out, announcer.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("avahi resolved the new address %v after the change", time.Since(began))
	announcer.WaitStderr(t, "network changed: announcing again on the LAN", time.Second)
}

// avahiPeer is Debian's avahi-daemon running in one namespace of a pair,
// on a D-Bus system bus of the test's own.
type avahiPeer struct {
	ns  string
	env []string // with DBUS_SYSTEM_BUS_ADDRESS
	bus string   // the bus's address
	log func() string
}

// startAvahi starts dbus-daemon and avahi-daemon for namespace i of pair,
// under host name host; publish lets it publish (for avahi-publish and
// entry groups), else it only browses and resolves. It skips (fails in CI)
// without avahi.
func startAvahi(t *testing.T, pair *netns.Pair, i int, host string, publish bool) *avahiPeer {
	t.Helper()
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "avahi-resolve", "avahi-publish", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			netns.Unavailable(t, fmt.Sprintf("needs %s (apt-get install avahi-daemon avahi-utils dbus)", tool))
		}
	}
	dir := t.TempDir()
	bus := filepath.Join(dir, "bus")
	netns.WriteFile(t, filepath.Join(dir, "bus.conf"), `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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
	publishing := "disable-publishing=yes\n"
	if publish {
		publishing = "publish-workstation=no\npublish-hinfo=no\n"
	}
	netns.WriteFile(t, filepath.Join(dir, "avahi.conf"), "[server]\nhost-name="+host+"\ndomain-name=local\nallow-interfaces="+pair.Iface[i]+
		"\nenable-dbus=yes\n[wide-area]\nenable-wide-area=no\n[publish]\n"+publishing)
	daemon(t, "", nil, "dbus-daemon", "--config-file="+filepath.Join(dir, "bus.conf"), "--nofork", "--nopidfile")
	for {
		if _, err := os.Stat(bus); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := &avahiPeer{ns: pair.NS[i], bus: "unix:path=" + bus}
	p.env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+p.bus)
	// avahi keeps its pid file in /run/avahi-daemon: a tmpfs on /run, in
	// the mount namespace ip netns exec makes, keeps it off the machine's.
	out := netns.Daemon(t, "Server startup complete", p.env, "ip", "netns", "exec", pair.NS[i], "sh", "-c",
		`mount -t tmpfs tmpfs /run && exec avahi-daemon -f "$0" --no-drop-root --no-chroot --no-rlimits --no-proc-title`,
		filepath.Join(dir, "avahi.conf"))
	p.log = out.String
	return p
}

// run runs an avahi tool in the peer's namespace and returns its output.
func (p *avahiPeer) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.ns}, args...)...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s\navahi-daemon: %s", strings.Join(args, " "), err, out, p.log())
	}
	return string(out)
}

// start runs a long-lived avahi tool (avahi-publish, avahi-browse without
// -t) in the peer's namespace; the returned output grows as it prints.
// stop interrupts it.
func (p *avahiPeer) start(t *testing.T, args ...string) (out *netns.SyncBuffer, stop func()) {
	t.Helper()
	out = new(netns.SyncBuffer)
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.ns}, args...)...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	return out, stop
}

// daemon starts a long-running command that the test's end stops, and
// waits until its output shows ready ("" for not at all). It returns the
// output so far.
func daemon(t *testing.T, ready string, env []string, name string, args ...string) string {
	t.Helper()
	return netns.Daemon(t, ready, env, name, args...).String()
}
