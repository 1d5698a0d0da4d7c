package c2s

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// writeHook calls onWrite before every write to the socket.
type writeHook struct {
	net.Conn
	onWrite func([]byte)
}

func (w *writeHook) Write(p []byte) (int, error) {
	w.onWrite(p)
	return w.Conn.Write(p)
}

// TestBoundBeforeBindResult: once the bind result reaches the socket, the
// new full JID is routable. A client may address it as soon as it reads the
// result; a message routed before the router knew the session was treated
// as sent to the bare JID and went to offline storage (the load tool's rare
// lost=1).
func TestBoundBeforeBindResult(t *testing.T) {
	const domain = "hearth.test"
	r := router.New(router.Config{Domain: domain})
	cred := []byte("stored key")
	s := New(Config{Domain: domain, Router: r, Accounts: oneAccount{storage.User{Name: "alice", SHA256: storage.Credentials{StoredKey: cred}}}})
	full := jid.JID{Local: "alice", Domain: domain, Resource: "phone"}

	srvSide, cliSide := net.Pipe()
	routable := make(chan bool, 1)
	nc := &writeHook{Conn: srvSide, onWrite: func(p []byte) {
		if bytes.Contains(p, []byte("<bind")) {
			select {
			case routable <- r.Session(full) != nil:
			default:
			}
		}
	}}
	f := newTCP(nc, domain, stream.Limits{})
	f.opened = true
	c := &conn{srv: s, f: f, authed: full.Local, cred: cred}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := f.ReadOpen(); err != nil {
			t.Errorf("header: %v", err)
			srvSide.Close()
			return
		}
		sess, err := c.bind(ctx)
		if err != nil {
			t.Errorf("bind: %v", err)
			srvSide.Close()
			return
		}
		s.serveSession(ctx, c, sess)
	}()
	go func() { // the client reads whatever comes
		b := make([]byte, 4096)
		for {
			if _, err := cliSide.Read(b); err != nil {
				return
			}
		}
	}()
	if _, err := cliSide.Write([]byte("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='hearth.test' version='1.0'>" +
		"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>")); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-routable:
		if !ok {
			t.Error("bind result written before the session was bound in the router")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no bind result")
	}
	cliSide.Close()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
}
