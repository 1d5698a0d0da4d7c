package server_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/internal/component"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// TestSlixmppComponent: slixmpp's ComponentXMPP (Debian's python3-slixmpp)
// connects as bot.<domain> with the secret the admin API gave, gets a
// user's message and replies; a wrong secret is refused, and a stanza
// from another domain closes its stream.
func TestSlixmppComponent(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	nc, err := srv.Admin.AddComponent(context.Background(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	_, cport := splitAddr(t, srv.Server.ComponentAddr())
	runPeer(t, py, "xmpptest/interop/slix_component.py", "--ca", srv.CertFile, host, port, srv.Domain, cport, nc.Name, nc.Secret, "alice", "silver-kettle-pw")
}

// rawComponent is an external component on a raw socket, for
// transcripts.
type rawComponent struct {
	t   *testing.T
	nc  net.Conn
	dec *stream.Decoder
}

// dialComponent opens a component stream to name and sends the
// handshake with secret; it returns the stream and the server's answer
// to the handshake (<handshake/>, or the stream error).
func dialComponent(t *testing.T, srv *xmpptest.Server, name, secret string) (*rawComponent, *stanza.Element) {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Server.ComponentAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawComponent{t: t, nc: nc, dec: stream.NewDecoder(nc, stream.Limits{MaxStanza: 1 << 20})}
	c.send(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='` + name + `'>`)
	h, err := c.dec.Header()
	if err != nil {
		t.Fatal(err)
	}
	if h.NS != stanza.NSComponent {
		t.Fatalf("the server's header is in %q, want %s", h.NS, stanza.NSComponent)
	}
	if h.ID == "" {
		return c, c.next()
	}
	c.send(`<handshake>` + component.Digest(h.ID, secret) + `</handshake>`)
	return c, c.next()
}

func (c *rawComponent) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawComponent) next() *stanza.Element {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	el, err := c.dec.Next()
	if err != nil {
		c.t.Fatalf("component stream: %v", err)
	}
	return el
}

// streamError returns the condition of a stream error element, or "".
func streamError(el *stanza.Element) string {
	if el == nil || el.Name != "error" || el.NS != stanza.NSStream {
		return ""
	}
	if f := el.FirstElement(); f != nil {
		return f.Name
	}
	return ""
}

// TestComponent: the handshake (right, wrong, unknown name, another
// namespace), what passes between a user and a component (an IQ of an
// unknown namespace both ways, from stamped), a second connection
// replacing the first, stanzas for a component that is not connected,
// the component's from and to checked, and removal by the admin.
func TestComponent(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	ctx := context.Background()
	nc, err := srv.Admin.AddComponent(ctx, "bot")
	if err != nil {
		t.Fatal(err)
	}
	if nc.Name != "bot.hearth.test" || len(nc.Secret) < 20 {
		t.Fatalf("AddComponent = %+v", nc)
	}
	if _, err := srv.Admin.AddComponent(ctx, "bot.hearth.test"); !errors.Is(err, admin.ErrExists) {
		t.Fatalf("adding bot again: %v, want ErrExists", err)
	}
	for _, name := range []string{"hearth.test", "conference", "upload.hearth.test"} {
		if _, err := srv.Admin.AddComponent(ctx, name); !errors.Is(err, admin.ErrInvalid) {
			t.Fatalf("adding %s: %v, want ErrInvalid", name, err)
		}
	}
	fi, err := os.Stat(filepath.Join(srv.DataDir, component.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", component.FileName, fi.Mode().Perm())
	}

	t.Run("handshake refused", func(t *testing.T) {
		if _, el := dialComponent(t, srv, "bot.hearth.test", nc.Secret+"x"); streamError(el) != "not-authorized" {
			t.Fatalf("wrong secret: got %v, want <not-authorized/>", el)
		}
		if _, el := dialComponent(t, srv, "nobody.hearth.test", nc.Secret); streamError(el) != "host-unknown" {
			t.Fatalf("unknown component: got %v, want <host-unknown/>", el)
		}
		if _, el := dialComponent(t, srv, "bot.hearth.test", ""); streamError(el) != "not-authorized" {
			t.Fatalf("no secret: got %v", el)
		}
		// A name of the server's own services, put in the file behind the
		// admin API's back, cannot connect.
		taken, err := component.StoreIn(srv.DataDir).Add("conference.hearth.test", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Admin.AddComponent(ctx, "other"); err != nil { // the server reads the file again
			t.Fatal(err)
		}
		if _, el := dialComponent(t, srv, "conference.hearth.test", taken.Secret); streamError(el) != "host-unknown" {
			t.Fatalf("a component named as the chat service: %v, want <host-unknown/>", el)
		}
		for _, name := range []string{"conference.hearth.test", "other"} {
			if err := srv.Admin.RemoveComponent(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
	})

	alice := online(t, srv, "alice", "pc", 0)
	top := t // what outlives a subtest is dialed on the test
	bot, el := dialComponent(top, srv, "bot.hearth.test", nc.Secret)
	if el.Name != "handshake" || len(el.Children) != 0 {
		t.Fatalf("handshake answered with %v", el)
	}

	t.Run("unknown namespace both ways", func(t *testing.T) {
		alice.Send(`<iq type='get' id='q1' to='bot.hearth.test'><query xmlns='urn:example:weather'><city>Oslo</city></query></iq>`)
		got := bot.next()
		xmpptest.MustMatch(t, `<iq type='get' id='q1' from='alice@hearth.test/pc' to='bot.hearth.test'><query xmlns='urn:example:weather'><city>Oslo</city></query></iq>`, got)
		bot.send(`<iq type='result' id='q1' from='bot.hearth.test' to='alice@hearth.test/pc'><query xmlns='urn:example:weather'><sky>clear</sky></query></iq>`)
		alice.Expect(`<iq type='result' id='q1' from='bot.hearth.test' to='alice@hearth.test/pc'><query xmlns='urn:example:weather'><sky>clear</sky></query></iq>`)
		// A user of the component's domain, with a resource.
		bot.send(`<message from='weather@bot.hearth.test/oslo' to='alice@hearth.test' type='chat'><body>rain at 5</body></message>`)
		alice.Expect(`<message from='weather@bot.hearth.test/oslo' to='alice@hearth.test' type='chat'><body>rain at 5</body></message>`)
	})

	t.Run("disco items while connected", func(t *testing.T) {
		alice.Send(`<iq type='get' id='d1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
		res := alice.Expect(`<iq type='result' id='d1' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'>*</query></iq>`)
		found := false
		for _, it := range res.FirstElement().Elements() {
			found = found || it.Attr("jid") == "bot.hearth.test"
		}
		if !found {
			t.Fatalf("disco items %v do not list bot.hearth.test", res)
		}
	})

	t.Run("second connection replaces", func(t *testing.T) {
		bot2, el := dialComponent(top, srv, "bot.hearth.test", nc.Secret)
		if el.Name != "handshake" {
			t.Fatalf("second connection: %v", el)
		}
		if c := streamError(bot.next()); c != "conflict" {
			t.Fatalf("the first connection ended with %q, want conflict", c)
		}
		bot = bot2
		alice.Send(`<message to='bot.hearth.test' id='m2'><body>still there?</body></message>`)
		xmpptest.MustMatch(t, `<message to='bot.hearth.test' id='m2' from='alice@hearth.test/pc'><body>still there?</body></message>`, bot.next())
	})

	t.Run("addresses checked", func(t *testing.T) {
		b, _ := dialComponent(t, srv, "bot.hearth.test", nc.Secret)
		if c := streamError(bot.next()); c != "conflict" {
			t.Fatalf("replaced: %q", c)
		}
		bot = nil
		b.send(`<message to='alice@hearth.test'><body>no from</body></message>`)
		if c := streamError(b.next()); c != "improper-addressing" {
			t.Fatalf("a stanza without from: %q, want improper-addressing", c)
		}
		b, _ = dialComponent(t, srv, "bot.hearth.test", nc.Secret)
		b.send(`<message from='alice@hearth.test' to='alice@hearth.test'><body>spoof</body></message>`)
		if c := streamError(b.next()); c != "invalid-from" {
			t.Fatalf("a stanza from the server's domain: %q, want invalid-from", c)
		}
		alice.Quiet(200 * time.Millisecond)
	})

	t.Run("not connected", func(t *testing.T) {
		alice.Send(`<iq type='get' id='q2' to='bot.hearth.test'><query xmlns='urn:example:weather'/></iq>`)
		alice.Expect(`<iq type='error' id='q2' from='bot.hearth.test' to='alice@hearth.test/pc'><query xmlns='urn:example:weather'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>bot.hearth.test is not connected now</text></error></iq>`)
		alice.Send(`<presence to='bot.hearth.test'/>`)
		alice.Quiet(200 * time.Millisecond)
	})

	t.Run("removed", func(t *testing.T) {
		b, el := dialComponent(t, srv, "bot.hearth.test", nc.Secret)
		if el.Name != "handshake" {
			t.Fatal(el)
		}
		cs, err := srv.Admin.Components(ctx)
		if err != nil || len(cs) != 1 || !cs[0].Connected {
			t.Fatalf("Components = %+v, %v", cs, err)
		}
		if err := srv.Admin.RemoveComponent(ctx, "bot"); err != nil {
			t.Fatal(err)
		}
		if c := streamError(b.next()); c != "host-gone" {
			t.Fatalf("removed while connected: %q, want host-gone", c)
		}
		if _, el := dialComponent(t, srv, "bot.hearth.test", nc.Secret); streamError(el) != "host-unknown" {
			t.Fatalf("removed component connecting: %v", el)
		}
		alice.Send(`<message to='bot.hearth.test' id='m3'><body>gone?</body></message>`)
		alice.Expect(`<message type='error' id='m3' from='bot.hearth.test' to='alice@hearth.test/pc'>*</message>`)
	})
}

// TestComponentFederation: a component of a.test talks with an account
// of b.test over federation both ways: b.test's server reaches
// bot.a.test while it is connected, and the component's answer leaves
// a.test from bot.a.test.
func TestComponentFederation(t *testing.T) {
	p := federate(t, true)
	nc, err := p.a.Admin.AddComponent(context.Background(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	p.dns.mu.Lock()
	p.dns.fixed["bot.a.test"] = p.a.Server.S2SAddr()
	p.dns.mu.Unlock()
	bot, el := dialComponent(t, p.a, nc.Name, nc.Secret)
	if el.Name != "handshake" {
		t.Fatalf("handshake: %v", el)
	}
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
	bob.Send(`<message to='bot.a.test' id='f1' type='chat'><body>weather?</body></message>`)
	xmpptest.MustMatch(t, `<message to='bot.a.test' id='f1' type='chat' from='bob@b.test/pc'><body>weather?</body></message>`, bot.next())
	bot.send(`<message from='bot.a.test' to='bob@b.test/pc' id='f2' type='chat'><body>sunny</body></message>`)
	bob.Expect(`<message from='bot.a.test' to='bob@b.test/pc' id='f2' type='chat'><body>sunny</body></message>`)
	bob.Send(`<iq to='bot.a.test' type='get' id='f3'><query xmlns='urn:example:weather'/></iq>`)
	xmpptest.MustMatch(t, `<iq to='bot.a.test' type='get' id='f3' from='bob@b.test/pc'><query xmlns='urn:example:weather'/></iq>`, bot.next())
	bot.send(`<iq from='bot.a.test' to='bob@b.test/pc' type='result' id='f3'/>`)
	bob.Expect(`<iq from='bot.a.test' to='bob@b.test/pc' type='result' id='f3'/>`)

	// Not connected: still served, the stanza refused (the link lives).
	bot.send(`</stream:stream>`)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		cs, err := p.a.Admin.Components(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !cs[0].Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the component is still connected after closing its stream")
		}
	}
	bob.Send(`<iq to='bot.a.test' type='get' id='f4'><query xmlns='urn:example:weather'/></iq>`)
	bob.Expect(`<iq from='bot.a.test' to='bob@b.test/pc' type='error' id='f4'><query xmlns='urn:example:weather'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>bot.a.test is not connected now</text></error></iq>`)
	bob.Send(`<message to='bot.a.test' id='f5' type='chat'><body>hello?</body></message>`)
	bob.Expect(`<message from='bot.a.test' to='bob@b.test/pc' id='f5' type='error'>*</message>`)
}

// TestComponentLimits: a component has the client streams' limits: the
// time to send its header and handshake, and the largest stanza
// (limits.stanza_bytes); another namespace is refused.
func TestComponentLimits(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthTimeout = 300 * time.Millisecond })
	nc, err := srv.Admin.AddComponent(context.Background(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	setSetting(t, srv, "limits.stanza_bytes", "10000")

	t.Run("silent", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Server.ComponentAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		dec := stream.NewDecoder(c, stream.Limits{})
		if _, err := dec.Header(); err != nil {
			t.Fatal(err)
		}
		el, err := dec.Next()
		if err != nil || streamError(el) != "connection-timeout" {
			t.Fatalf("a silent connection got %v, %v; want <connection-timeout/>", el, err)
		}
	})
	t.Run("another namespace", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Server.ComponentAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='bot.hearth.test'>`))
		dec := stream.NewDecoder(c, stream.Limits{})
		if _, err := dec.Header(); err != nil {
			t.Fatal(err)
		}
		if el, err := dec.Next(); err != nil || streamError(el) != "invalid-namespace" {
			t.Fatalf("a client stream got %v, %v; want <invalid-namespace/>", el, err)
		}
	})
	t.Run("too big", func(t *testing.T) {
		bot, el := dialComponent(t, srv, nc.Name, nc.Secret)
		if el.Name != "handshake" {
			t.Fatal(el)
		}
		bot.send(`<message from='bot.hearth.test' to='x@hearth.test'><body>` + strings.Repeat("x", 12000) + `</body></message>`)
		if c := streamError(bot.next()); c != "policy-violation" {
			t.Fatalf("a stanza over the limit: %q, want policy-violation", c)
		}
	})
}

// TestComponentQueue: a component that reads nothing holds at most
// component.QueueBytes of stanzas in the server's memory (its TCP
// buffers aside); senders past it are told to wait
// (resource-constraint).
func TestComponentQueue(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	nc, err := srv.Admin.AddComponent(context.Background(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	bot, el := dialComponent(t, srv, nc.Name, nc.Secret)
	if el.Name != "handshake" {
		t.Fatal(el)
	}
	_ = bot // reads nothing from now on
	alice := online(t, srv, "alice", "pc", 0)
	// IQs, whose errors come back without the payload: alice need not
	// read 200 KiB per refusal.
	data := strings.Repeat("x", 200<<10)
	for i := range 120 {
		alice.Send(`<iq type='set' to='bot.hearth.test' id='q` + strconv.Itoa(i) + `'><data xmlns='urn:example:bulk'>` + data + `</data></iq>`)
	}
	el = alice.NextWithin(20 * time.Second)
	if el.Name != "iq" || el.Attr("type") != "error" || errorCondition(el) != "resource-constraint" {
		t.Fatalf("a sender past the queue got %v", el)
	}
}
