package server_test

import (
	"context"
	"os/exec"
	"testing"

	"hearth/server/xmpptest"
)

// TestSlixmppPEP: slixmpp's own XEP-0060, XEP-0084, XEP-0115 and XEP-0054
// plugins against Hearth (xmpptest/interop/slix_pep.py): an OMEMO device
// list and bundle published with access_model=open are fetched by a user
// with no roster relation; an avatar is published, its notification
// reaches a contact through the server's caps cache, the contact fetches
// it and finds it in the vCard.
func TestSlixmppPEP(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0084").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0084")
	}
	srv, host, port := pepTrio(t)
	runPeer(t, py, "xmpptest/interop/slix_pep.py", "--ca", srv.CertFile, host, port, srv.Domain,
		"alice", "silver-kettle-pw", "bob", "copper-lantern-pw", "carol", "tin-whistle-pw")
}

// TestNbxmppPEP: Gajim's library, nbxmpp (Debian's python3-nbxmpp), with
// its own OMEMO, UserAvatar and PubSub modules
// (xmpptest/interop/nbx_pep.py): a device list and bundle published as
// public are read by a user with no roster relation; a contacts-only
// avatar is read by a contact and refused to a stranger; making it public
// goes through an unmet precondition and nbxmpp's reconfiguration of the
// node, after which the stranger reads it.
func TestNbxmppPEP(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import nbxmpp").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/nbxmpp")
	}
	srv, host, port := pepTrio(t)
	runPeer(t, py, "xmpptest/interop/nbx_pep.py", host, port, srv.Domain,
		"alice", "silver-kettle-pw", "bob", "copper-lantern-pw", "carol", "tin-whistle-pw")
}

// pepTrio starts a server with alice and bob, contacts of each other, and
// carol, a stranger to both.
func pepTrio(t *testing.T) (srv *xmpptest.Server, host, port string) {
	srv = xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	srv.AddUser(t, "carol", "tin-whistle-pw")
	if err := srv.Admin.MakeMutual(context.Background(), "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	host, port = splitAddr(t, srv.Addr)
	return srv, host, port
}
