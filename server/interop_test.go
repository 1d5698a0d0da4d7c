package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/xmpptest"
)

// need returns the path of a real peer program; outside CI a missing peer
// skips the test with a message, in CI (CI=true) it fails.
func need(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("interop peer %s missing in CI: %v", path, err)
		}
		t.Skipf("interop peer %s not installed (make deps installs it)", path)
	}
	return path
}

func runPeer(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", filepath.Base(args[0]), out)
	if err != nil {
		t.Fatalf("%s failed: %v", strings.Join(args[:1], " "), err)
	}
}

// TestSlixmpp: two slixmpp clients (Debian's python3-slixmpp) log in over
// STARTTLS, subscribe to each other, see presence, exchange messages, and
// one gets an offline message after reconnecting.
func TestSlixmpp(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_pair.py", "-v", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
	srv.WaitOffline(t, "bob", 0)
}

// TestSlixmppCarbons: slixmpp's XEP-0280 plugin on two resources of one
// account gets received and sent carbons of a conversation with a third.
func TestSlixmppCarbons(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0280").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0280")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_carbons.py", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

// TestSlixmppMAM: slixmpp's XEP-0313 plugin reads the archive of a
// conversation in several pages, forwards and backwards, and with a
// contact; the stanza-ids messages were delivered with (XEP-0359) are
// their archive ids.
func TestSlixmppMAM(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0313").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0313")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_mam.py", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

// TestGoSendxmpp: Debian's go-sendxmpp sends a message over direct TLS
// (XEP-0368) to a slixmpp receiver.
func TestGoSendxmpp(t *testing.T) {
	need(t, "/usr/bin/go-sendxmpp")
	need(t, "/usr/bin/python3")
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	_, tport := splitAddr(t, srv.TLSAddr)
	runPeer(t, "bash", "xmpptest/interop/sendxmpp_check.sh", "--ca", srv.CertFile, host, port, tport, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	return addr[:i], addr[i+1:]
}

// TestSlixmppSM: slixmpp's XEP-0198 plugin on a phone whose connection
// drops resumes its session and gets what was sent meanwhile; when it
// never comes back, the message it did not take reaches its other
// device.
func TestSlixmppSM(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0198").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0198")
	}
	srv := xmpptest.Start(t, func(c *server.Config) { c.ResumeTimeout = 3 * time.Second })
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_sm.py", "--timeout", "40", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}
