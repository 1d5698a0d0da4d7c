package linklocal

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stream"
)

// A peer opens a stream as libpurple's Bonjour does (no version) and as
// XEP-0174 describes it (version 1.0); its message reaches the handler with
// the stream's names, and a message to it goes back on the same stream.
func TestInboundBothWays(t *testing.T) {
	for _, version := range []string{"", "1.0"} {
		t.Run("version="+version, func(t *testing.T) {
			h := newHarness(t, Config{})
			bob := listenPeer(t, "127.0.0.1:0")
			h.dir.announce("bob@laptop", bob.port(), "127.0.0.1")

			p := dialFrom(t, "", h.addr())
			p.open("bob@laptop", "alice@hearth", version)
			hdr := p.header()
			if hdr.attr("from") != "alice@hearth" || hdr.attr("to") != "bob@laptop" || hdr.attr("version") != version {
				t.Fatalf("answer header: from %q to %q version %q", hdr.attr("from"), hdr.attr("to"), hdr.attr("version"))
			}
			if hdr.attr("id") == "" {
				t.Fatal("the answer header has no id")
			}
			if version != "" {
				if f := p.mustNext(); f.XMLName.Local != "features" || strings.TrimSpace(f.Inner) != "" {
					t.Fatalf("expected empty stream features, got <%s>%s", f.XMLName.Local, f.Inner)
				}
			}
			p.send(`<message from="bob@laptop" to="alice@hearth" type="chat" id="b1"><body>hello alice</body></message>`)
			r := h.receive(t)
			if r.peer != "bob@laptop" || r.local != "alice@hearth" || r.st.Body() != "hello alice" || r.st.ID != "b1" {
				t.Fatalf("received %q→%q %q", r.peer, r.local, r.st.El)
			}
			if r.st.El.Attr("from") != "" || r.st.El.Attr("to") != "" || !r.st.From.IsZero() || !r.st.To.IsZero() {
				t.Fatalf("the handler got the peer's addresses: %s", r.st.El)
			}
			// A stanza without addresses takes the stream's.
			p.send(`<message type="chat"><body>again</body></message>`)
			if r := h.receive(t); r.peer != "bob@laptop" || r.local != "alice@hearth" || r.st.Body() != "again" {
				t.Fatalf("received %q→%q %s", r.peer, r.local, r.st.El)
			}

			if err := h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("hello bob")); err != nil {
				t.Fatal(err)
			}
			m := p.mustNext()
			if m.XMLName.Local != "message" || m.attr("from") != "alice@hearth" || m.attr("to") != "bob@laptop" || !strings.Contains(m.Inner, "hello bob") {
				t.Fatalf("bob got <%s from=%q to=%q>%s", m.XMLName.Local, m.attr("from"), m.attr("to"), m.Inner)
			}
			bob.none(200 * time.Millisecond)
			if got := h.s.Streams(); len(got) != 1 || !got[0].Inbound || got[0].In != 2 || got[0].Out != 1 {
				t.Fatalf("streams: %+v", got)
			}

			// The peer closes; the service answers with its closing tag.
			p.send(stream.Close)
			p.closed()
			h.logs.wait(t, "the peer closed the stream")
		})
	}
}

// Send dials the peer's announced address, and later messages, and the
// peer's replies, use that stream; once it ends, the next Send dials again.
func TestOutboundDialsAndReuses(t *testing.T) {
	h := newHarness(t, Config{})
	bob := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", bob.port(), "127.0.0.1")

	sent := make(chan error, 1)
	go func() { sent <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("first")) }()
	p := bob.accept()
	hdr := p.header()
	if hdr.attr("from") != "alice@hearth" || hdr.attr("to") != "bob@laptop" || hdr.attr("version") != "1.0" {
		t.Fatalf("header: from %q to %q version %q", hdr.attr("from"), hdr.attr("to"), hdr.attr("version"))
	}
	p.open("bob@laptop", "alice@hearth", "") // libpurple answers without a version
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if m := p.mustNext(); !strings.Contains(m.Inner, "first") || m.attr("to") != "bob@laptop" {
		t.Fatalf("bob got %+v", m)
	}
	if err := h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("second")); err != nil {
		t.Fatal(err)
	}
	if m := p.mustNext(); !strings.Contains(m.Inner, "second") {
		t.Fatalf("bob got %+v", m)
	}
	bob.none(200 * time.Millisecond)

	p.send(`<message from="bob@laptop" to="alice@hearth" type="chat"><body>reply</body></message>`)
	if r := h.receive(t); r.peer != "bob@laptop" || r.local != "alice@hearth" || r.st.Body() != "reply" {
		t.Fatalf("received %q→%q %s", r.peer, r.local, r.st.El)
	}

	// Another of our names gets a stream of its own.
	go func() { sent <- h.s.Send(context.Background(), "carol@hearth", "bob@laptop", message("from carol")) }()
	p2 := bob.accept()
	if hdr := p2.header(); hdr.attr("from") != "carol@hearth" {
		t.Fatalf("header from %q", hdr.attr("from"))
	}
	p2.open("bob@laptop", "carol@hearth", "1.0")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	p2.mustNext()

	p.send(stream.Close)
	p.closed()
	h.logs.wait(t, "the peer closed the stream")
	go func() { sent <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("third")) }()
	p3 := bob.accept()
	p3.header()
	p3.open("bob@laptop", "alice@hearth", "1.0")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if m := p3.mustNext(); m.XMLName.Local == "features" || !strings.Contains(m.Inner, "third") {
		t.Fatalf("bob got %+v", m)
	}
}

// Streams the service must refuse get the right stream error and a log
// line, and the service goes on serving a good peer.
func TestRefused(t *testing.T) {
	h := newHarness(t, Config{
		Limits:        stream.Limits{MaxStanza: 2048, MaxDepth: 4},
		HeaderTimeout: 300 * time.Millisecond,
		AnnounceWait:  100 * time.Millisecond,
	})
	h.dir.announce("bob@laptop", 5298, "127.0.0.1")
	h.dir.announce("eve@elsewhere", 5298, "127.0.0.2")
	good := func(p *peer) { p.open("bob@laptop", "alice@hearth", "1.0"); p.header(); p.mustNext() }
	for _, tc := range []struct {
		name, src string
		send      func(p *peer)
		cond, log string
	}{
		{name: "address not announced for the name", send: func(p *peer) { p.open("eve@elsewhere", "alice@hearth", "1.0") },
			cond: stream.InvalidFrom, log: "not announced for that name"},
		{name: "name not announced", send: func(p *peer) { p.open("mallory@nowhere", "alice@hearth", "1.0") },
			cond: stream.InvalidFrom, log: "the name it gives is not announced"},
		{name: "no from", send: func(p *peer) {
			p.send(`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" to="alice@hearth">`)
		}, cond: stream.InvalidFrom, log: "does not say who it is from"},
		{name: "to someone not announced here", send: func(p *peer) { p.open("bob@laptop", "dave@hearth", "1.0") },
			cond: stream.HostUnknown, log: "a name this server does not announce"},
		{name: "server namespace", send: func(p *peer) {
			p.send(`<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" from="bob@laptop" to="alice@hearth">`)
		}, cond: stream.InvalidNamespace, log: "not in the jabber:client namespace"},
		{name: "version 2", send: func(p *peer) { p.open("bob@laptop", "alice@hearth", "2.0") },
			cond: stream.UnsupportedVersion, log: "version"},
		{name: "garbage", send: func(p *peer) { p.send("GET / HTTP/1.1\r\n\r\n") },
			cond: stream.NotWellFormed, log: "not allowed while waiting for its stream header"},
		{name: "no header in time", send: func(p *peer) {}, cond: stream.ConnectionTimeout, log: "no stream header in time"},
		{name: "oversized stanza", send: func(p *peer) {
			good(p)
			p.send(`<message><body>` + strings.Repeat("x", 4096) + `</body></message>`)
		}, cond: stream.PolicyViolation, log: "stanza too big"},
		{name: "nested too deep", send: func(p *peer) {
			good(p)
			p.send(`<message><a><b><c><d><e><f/></e></d></c></b></a></message>`)
		}, cond: stream.PolicyViolation, log: "nesting too deep"},
		{name: "not a stanza", send: func(p *peer) { good(p); p.send(`<hello xmlns="urn:example"/>`) },
			cond: stream.UnsupportedStanzaType, log: "not a stanza"},
		{name: "stanza from someone else", send: func(p *peer) {
			good(p)
			p.send(`<message from="eve@elsewhere"><body>spoof</body></message>`)
		}, cond: stream.InvalidFrom, log: "from a name other than its own"},
		{name: "stanza to someone else", send: func(p *peer) {
			good(p)
			p.send(`<message to="carol@hearth"><body>x</body></message>`)
		}, cond: stream.HostUnknown, log: "to a name other than the stream's"},
		{name: "bad XML in a stanza", send: func(p *peer) { good(p); p.send(`<message><body></message>`) },
			cond: stream.NotWellFormed, log: "not allowed"},
		{name: "DTD", send: func(p *peer) { good(p); p.send(`<!DOCTYPE x>`) },
			cond: stream.RestrictedXML, log: "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialFrom(t, tc.src, h.addr())
			tc.send(p)
			if cond := p.streamError(); cond != tc.cond {
				t.Fatalf("stream error %q, want %q", cond, tc.cond)
			}
			p.closed()
			h.logs.wait(t, tc.log)

			// Everyone else is still served.
			q := dialFrom(t, "", h.addr())
			good(q)
			q.send(`<message><body>still here</body></message>`)
			if r := h.receive(t); r.st.Body() != "still here" {
				t.Fatalf("received %s", r.st.El)
			}
			q.send(stream.Close)
			q.closed()
		})
	}
	select {
	case r := <-h.got:
		t.Fatalf("a refused stream's stanza reached the handler: %s", r.st.El)
	default:
	}
}

// A peer that connects before its announcement reaches us is held for a
// moment, and accepted once it is announced.
func TestAnnouncedLate(t *testing.T) {
	h := newHarness(t, Config{AnnounceWait: 5 * time.Second})
	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "1.0")
	time.Sleep(300 * time.Millisecond)
	h.dir.announce("bob@laptop", 5298, "127.0.0.1")
	p.header()
	p.mustNext()
	p.send(`<message><body>made it</body></message>`)
	if r := h.receive(t); r.peer != "bob@laptop" || r.st.Body() != "made it" {
		t.Fatalf("received %q %s", r.peer, r.st.El)
	}
}

// A peer announced at another address is accepted only from there.
func TestAnnouncedAddressAccepted(t *testing.T) {
	h := newHarness(t, Config{})
	h.dir.announce("eve@elsewhere", 5298, "127.0.0.2")
	p := dialFrom(t, "127.0.0.2", h.addr())
	p.open("eve@elsewhere", "alice@hearth", "1.0")
	p.header()
	p.mustNext()
	p.send(`<message><body>from .2</body></message>`)
	if r := h.receive(t); r.peer != "eve@elsewhere" || r.st.Body() != "from .2" {
		t.Fatalf("received %q %s", r.peer, r.st.El)
	}
}

func TestLimits(t *testing.T) {
	t.Run("streams per peer", func(t *testing.T) {
		h := newHarness(t, Config{MaxPerPeer: 2})
		h.dir.announce("bob@laptop", 5298, "127.0.0.1")
		for range 2 {
			p := dialFrom(t, "", h.addr())
			p.open("bob@laptop", "alice@hearth", "1.0")
			p.header()
			p.mustNext()
		}
		p := dialFrom(t, "", h.addr())
		p.open("bob@laptop", "alice@hearth", "1.0")
		if cond := p.streamError(); cond != stream.PolicyViolation {
			t.Fatalf("stream error %q", cond)
		}
		h.logs.wait(t, "too many streams are open with that peer")
		// Sending to bob uses a stream bob opened; none more is dialed.
		if err := h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("x")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("connections without a header", func(t *testing.T) {
		h := newHarness(t, Config{MaxPending: 2, HeaderTimeout: 5 * time.Second})
		h.dir.announce("bob@laptop", 5298, "127.0.0.1")
		var waiting []*peer
		for range 2 {
			waiting = append(waiting, dialFrom(t, "", h.addr()))
		}
		for { // the service has taken both
			h.s.mu.Lock()
			n := h.s.pending[netip.MustParseAddr("127.0.0.1")]
			h.s.mu.Unlock()
			if n == 2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		p := dialFrom(t, "", h.addr())
		if cond := p.streamError(); cond != stream.PolicyViolation {
			t.Fatalf("stream error %q", cond)
		}
		h.logs.wait(t, "too many from this address are still opening their streams")
		// Another address is not held up by them.
		h.dir.announce("eve@elsewhere", 5298, "127.0.0.2")
		q := dialFrom(t, "127.0.0.2", h.addr())
		q.open("eve@elsewhere", "alice@hearth", "1.0")
		q.header()
		// The waiting ones may still open their streams.
		waiting[0].open("bob@laptop", "alice@hearth", "1.0")
		waiting[0].header()
	})
	t.Run("all streams", func(t *testing.T) {
		h := newHarness(t, Config{MaxStreams: 1})
		h.dir.announce("bob@laptop", 5298, "127.0.0.1")
		p := dialFrom(t, "", h.addr())
		p.open("bob@laptop", "alice@hearth", "1.0")
		p.header()
		q := dialFrom(t, "", h.addr())
		if cond := q.streamError(); cond != stream.ResourceConstraint {
			t.Fatalf("stream error %q", cond)
		}
		h.dir.announce("carl@desk", 5298, "127.0.0.1")
		if err := h.s.Send(context.Background(), "alice@hearth", "carl@desk", message("x")); !errors.Is(err, ErrTooManyLinks) {
			t.Fatalf("Send over the limit: %v", err)
		}
	})
}

// A stream with nothing either way is closed after IdleTimeout.
func TestIdleClose(t *testing.T) {
	h := newHarness(t, Config{IdleTimeout: 200 * time.Millisecond})
	h.dir.announce("bob@laptop", 5298, "127.0.0.1")
	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "")
	p.header()
	p.closed()
	h.logs.wait(t, "nothing was sent either way for a while")
	p.send(stream.Close)
	if got := h.s.Streams(); len(got) != 0 {
		t.Fatalf("streams after the idle close: %+v", got)
	}
}

// A peer that disappears in the middle of a stanza leaves a log line; the
// next message to it opens a new stream.
func TestPeerVanishes(t *testing.T) {
	h := newHarness(t, Config{})
	bob := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", bob.port(), "127.0.0.1")
	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "1.0")
	p.header()
	p.send(`<message><body>half a mess`)
	p.nc.Close()
	h.logs.wait(t, "link-local stream lost")

	sent := make(chan error, 1)
	go func() { sent <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("are you there")) }()
	q := bob.accept()
	q.header()
	q.open("bob@laptop", "alice@hearth", "1.0")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if m := q.mustNext(); !strings.Contains(m.Inner, "are you there") {
		t.Fatalf("bob got %+v", m)
	}
}

func TestSendErrors(t *testing.T) {
	h := newHarness(t, Config{DialTimeout: time.Second, HeaderTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	if err := h.s.Send(ctx, "mallory@hearth", "bob@laptop", message("x")); !errors.Is(err, ErrNotLocal) {
		t.Fatalf("from a name we do not announce: %v", err)
	}
	if err := h.s.Send(ctx, "alice@hearth", "nobody@nowhere", message("x")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("to a name not announced: %v", err)
	}
	// A port nobody listens on.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	h.dir.announce("bob@laptop", port, "127.0.0.1")
	if err := h.s.Send(ctx, "alice@hearth", "bob@laptop", message("x")); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("to a closed port: %v", err)
	}
	// A peer that accepts and never answers.
	silent := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", silent.port(), "127.0.0.1")
	go silent.accept()
	if err := h.s.Send(ctx, "alice@hearth", "bob@laptop", message("x")); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("to a silent peer: %v", err)
	}
	// A peer that answers on the wrong namespace.
	odd := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", odd.port(), "127.0.0.1")
	go func() {
		p := odd.accept()
		p.send(`<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams">`)
	}()
	if err := h.s.Send(ctx, "alice@hearth", "bob@laptop", message("x")); err == nil || !strings.Contains(err.Error(), "jabber:client") {
		t.Fatalf("to a peer on jabber:server: %v", err)
	}
	// A cancelled context stops the dial's wait for the header.
	slow := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", slow.port(), "127.0.0.1")
	go slow.accept()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := h.s.Send(cctx, "alice@hearth", "bob@laptop", message("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a cancelled context: %v", err)
	}
}

// Dialing a peer announced with several addresses tries each; IPv6
// addresses are written with brackets.
func TestDialsEachAddress(t *testing.T) {
	h := newHarness(t, Config{DialTimeout: time.Second})
	bob := listenPeer(t, "[::1]:0")
	h.dir.announce("bob@laptop", bob.port(), "127.0.0.1", "::1")
	sent := make(chan error, 1)
	go func() { sent <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("over v6")) }()
	p := bob.accept()
	p.header()
	p.open("bob@laptop", "alice@hearth", "1.0")
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if m := p.mustNext(); !strings.Contains(m.Inner, "over v6") {
		t.Fatalf("bob got %+v", m)
	}
}

// CloseStreams (a goodbye) and Close end streams with their closing tag.
func TestCloseStreamsAndClose(t *testing.T) {
	h := newHarness(t, Config{})
	h.dir.announce("bob@laptop", 5298, "127.0.0.1")
	h.dir.announce("eve@elsewhere", 5298, "127.0.0.2")
	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "")
	p.header()
	q := dialFrom(t, "127.0.0.2", h.addr())
	q.open("eve@elsewhere", "alice@hearth", "")
	q.header()
	for len(h.s.Streams()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	h.s.CloseStreams("bob@laptop")
	p.closed()
	h.logs.wait(t, "the name is no longer announced")
	if got := h.s.Streams(); len(got) != 1 || got[0].Peer != "eve@elsewhere" {
		t.Fatalf("streams: %+v", got)
	}
	done := make(chan struct{})
	go func() { h.s.Close(); close(done) }()
	q.closed()
	q.send(stream.Close)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := h.s.Send(context.Background(), "alice@hearth", "eve@elsewhere", message("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
}

func TestAnnounced(t *testing.T) {
	addrs := []netip.Addr{
		netip.MustParseAddr("192.168.1.5"),
		netip.MustParseAddr("fe80::1%veth0"),
		netip.MustParseAddr("fd00::5"),
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"192.168.1.5", true},
		{"::ffff:192.168.1.5", true},
		{"192.168.1.6", false},
		{"fe80::1%veth0", true},
		{"fe80::1", true},
		{"fe80::1%eth1", false},
		{"fe80::2%veth0", false},
		{"fd00::5", true},
		{"fd00::5%veth0", true},
	} {
		if got := announced(addrs, netip.MustParseAddr(tc.src)); got != tc.want {
			t.Errorf("announced(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
}

// Sends that race for a peer with no stream open one stream between them.
func TestConcurrentSendsDialOnce(t *testing.T) {
	h := newHarness(t, Config{})
	bob := listenPeer(t, "127.0.0.1:0")
	h.dir.announce("bob@laptop", bob.port(), "127.0.0.1")
	const n = 10
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- h.s.Send(context.Background(), "alice@hearth", "bob@laptop", message("m"+strconv.Itoa(i)))
		}()
	}
	p := bob.accept()
	p.header()
	p.open("bob@laptop", "alice@hearth", "1.0")
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for range n {
		m := p.mustNext()
		seen[m.Inner] = true
	}
	if len(seen) != n {
		t.Fatalf("bob got %d different messages, want %d", len(seen), n)
	}
	bob.none(200 * time.Millisecond)
}

// Two Services talk to each other: one dials, the other answers on the
// same stream, and a burst of messages either way arrives whole.
func TestServiceToService(t *testing.T) {
	a := newHarnessAs(t, Config{}, "alice@hearth")
	b := newHarnessAs(t, Config{}, "bob@otherbox")
	a.dir.announce("bob@otherbox", b.port, "127.0.0.1")
	b.dir.announce("alice@hearth", a.port, "127.0.0.1")
	ctx := context.Background()
	const n = 50
	for i := range n {
		if err := a.s.Send(ctx, "alice@hearth", "bob@otherbox", message("a"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		r := b.receive(t)
		if r.peer != "alice@hearth" || r.local != "bob@otherbox" || r.st.Body() != "a"+strconv.Itoa(i) {
			t.Fatalf("b received %q→%q %s", r.peer, r.local, r.st.El)
		}
	}
	for i := range n {
		if err := b.s.Send(ctx, "bob@otherbox", "alice@hearth", message("b"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if r := a.receive(t); r.peer != "bob@otherbox" || r.st.Body() != "b"+strconv.Itoa(i) {
			t.Fatalf("a received %q %s", r.peer, r.st.El)
		}
	}
	as, bs := a.s.Streams(), b.s.Streams()
	if len(as) != 1 || len(bs) != 1 || as[0].Inbound || !bs[0].Inbound || as[0].Out != n || as[0].In != n {
		t.Fatalf("streams: a %+v, b %+v", as, bs)
	}
	// The one that dialed stops: the other sees the stream end in order.
	a.s.Close()
	b.logs.wait(t, "the peer closed the stream")
}

// Close does not wait for streams that wait for their peer's announcement
// or header.
func TestCloseWhileWaiting(t *testing.T) {
	h := newHarness(t, Config{AnnounceWait: time.Minute, HeaderTimeout: time.Minute})
	p := dialFrom(t, "", h.addr())
	p.open("bob@laptop", "alice@hearth", "1.0")
	q := dialFrom(t, "", h.addr())
	for { // both accepted
		h.s.mu.Lock()
		n := len(h.s.all)
		h.s.mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { h.s.Close(); close(done) }()
	p.closed()
	q.closed()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for streams that had not begun")
	}
}
