package server_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestXmppJSFAST: xmpp.js (a real client with SASL2, Bind 2 and FAST,
// pinned in server/xmpptest/interop/xmppjs) logs in with its password
// and asks for a token, logs in again with the token alone to the same
// resource, and is refused with the token under another device's id.
func TestXmppJSFAST(t *testing.T) {
	node, dir := nodePeer(t, "xmppjs", "@xmpp/client")
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	out, done := startNode(t, ctx, node, dir, srv.CertFile, "fast.mjs", host, port, srv.Domain, "alice", secret("alice"))
	err = <-done
	t.Logf("fast.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("xmpp.js: %v", err)
	}
}

// TestXmppJSWebSocket: xmpp.js, as a web page runs it, logs in over
// wss:// (RFC 7395, the test CA trusted through NODE_EXTRA_CA_CERTS),
// sends a message to a TCP client and gets its answer, with SASL2, Bind 2
// and stream management as it negotiates them; then logs in again over
// WebSocket with the FAST token it was given and a wrong password.
func TestXmppJSWebSocket(t *testing.T) {
	node, dir := nodePeer(t, "xmppjs", "@xmpp/client")
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, port, err := net.SplitHostPort(srv.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	// Node 20 (Debian's) has WebSocket behind a flag; 22 and later have it
	// always.
	args := []string{"websocket.mjs", port, srv.Domain, "alice", secret("alice"), "bob@hearth.test/laptop"}
	if exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() != nil {
		args = append([]string{"--experimental-websocket"}, args...)
	}
	out, done := startNode(t, ctx, node, dir, srv.CertFile, args...)
	m := bob.ExpectLike(`<message from='*' to='bob@hearth.test/laptop' type='chat' id='js1'><body>hello from xmpp.js</body></message>`, 30*time.Second)
	if !strings.HasPrefix(m.Attr("from"), "alice@hearth.test/xmppjs") {
		t.Fatalf("from %s", m.Attr("from"))
	}
	bob.Send(`<message to='` + m.Attr("from") + `' type='chat' id='go1'><body>hello back over TCP</body></message>`)
	err = <-done
	t.Logf("websocket.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("xmpp.js: %v", err)
	}
}

// nodePeer finds Node and the pinned npm folder xmpptest/interop/folder
// with package pkg installed (make deps: npm ci).
func nodePeer(t *testing.T, folder, pkg string) (node, dir string) {
	t.Helper()
	node = need(t, "/usr/bin/node")
	dir, err := filepath.Abs(filepath.Join("xmpptest/interop", folder))
	if err != nil {
		t.Fatal(err)
	}
	need(t, filepath.Join(dir, "node_modules", pkg, "package.json"))
	return node, dir
}

// startNode runs node with args in dir, the test CA trusted through
// NODE_EXTRA_CA_CERTS; what it prints collects in out, read it once
// done has sent how it ended.
func startNode(t *testing.T, ctx context.Context, node, dir, caFile string, args ...string) (out *bytes.Buffer, done <-chan error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+caFile)
	out = new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	return out, ended
}
