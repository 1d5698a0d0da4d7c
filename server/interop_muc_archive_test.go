package server_test

import (
	"os/exec"
	"testing"

	"hearth/server/xmpptest"
)

// TestSlixmppMUCArchive: three slixmpp clients with its XEP-0045, XEP-0313 and
// XEP-0359 plugins find the group chat service, make and configure a
// persistent archived room, chat in it, and the one who joins late gets
// history on joining and reads the room's archive in pages.
func TestSlixmppMUCArchive(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0045, slixmpp.plugins.xep_0313").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0045")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	srv.AddUser(t, "carol", "amber-teapot-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_muc_archive.py", "--timeout", "50", "--ca", srv.CertFile, host, port, srv.Domain,
		"alice", "silver-kettle-pw", "bob", "copper-lantern-pw", "carol", "amber-teapot-pw")
}
