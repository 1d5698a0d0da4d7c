package server_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestXmppJSFAST: xmpp.js (a real client with SASL2, Bind 2 and FAST,
// pinned in server/xmpptest/interop/xmppjs) logs in with its password
// and asks for a token, logs in again with the token alone to the same
// resource, and is refused with the token under another device's id.
func TestXmppJSFAST(t *testing.T) {
	node := need(t, "/usr/bin/node")
	dir, err := filepath.Abs("xmpptest/interop/xmppjs")
	if err != nil {
		t.Fatal(err)
	}
	need(t, filepath.Join(dir, "node_modules/@xmpp/client/package.json"))
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, "fast.mjs", host, port, srv.Domain, "alice", secret("alice"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+srv.CertFile)
	out, err := cmd.CombinedOutput()
	t.Logf("fast.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("xmpp.js: %v", err)
	}
}
