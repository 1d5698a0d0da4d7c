package linklocal

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/stanza"
)

// The test's side of the network: a directory of announcements, a log
// that tests read, and a XEP-0174 peer of our own that parses with
// encoding/xml (not Hearth's decoder).

type announcement struct {
	addrs []netip.Addr
	port  uint16
}

type directory struct {
	mu     sync.Mutex
	peers  map[string]announcement
	locals map[string]bool
}

func newDirectory(locals ...string) *directory {
	d := &directory{peers: map[string]announcement{}, locals: map[string]bool{}}
	for _, l := range locals {
		d.locals[l] = true
	}
	return d
}

func (d *directory) announce(name string, port uint16, addrs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := announcement{port: port}
	for _, s := range addrs {
		a.addrs = append(a.addrs, netip.MustParseAddr(s))
	}
	d.peers[name] = a
}

func (d *directory) Peer(name string) ([]netip.Addr, uint16, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.peers[name]
	return a.addrs, a.port, ok
}

func (d *directory) Local(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locals[name]
}

// logs collects the service's log lines.
type logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// wait waits until a log line contains s.
func (l *logs) wait(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(l.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q; the log:\n%s", s, l.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type received struct {
	peer, local string
	st          *stanza.Stanza
}

// harness is a Service listening on 127.0.0.1 with alice@hearth
// announced, and what it received.
type harness struct {
	s    *Service
	dir  *directory
	logs *logs
	port uint16
	got  chan received
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	return newHarnessAs(t, cfg, "alice@hearth", "carol@hearth")
}

// newHarnessAs is newHarness with other names of ours.
func newHarnessAs(t *testing.T, cfg Config, locals ...string) *harness {
	t.Helper()
	h := &harness{dir: newDirectory(locals...), logs: new(logs), got: make(chan received, 64)}
	cfg.Directory = h.dir
	cfg.Log = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Handler = func(peer, local string, st *stanza.Stanza) { h.got <- received{peer, local, st} }
	h.s = New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.port = uint16(ln.Addr().(*net.TCPAddr).Port)
	if err := h.s.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.s.Close)
	return h
}

func (h *harness) addr() string {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), h.port).String()
}

func (h *harness) receive(t *testing.T) received {
	t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received; the log:\n%s", h.logs.String())
		return received{}
	}
}

// peer is one end of a XEP-0174 stream written by the test.
type peer struct {
	t   *testing.T
	nc  net.Conn
	dec *xml.Decoder
}

// dialFrom connects to addr from the local address from ("" any).
func dialFrom(t *testing.T, from, addr string) *peer {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return newPeer(t, nc)
}

func newPeer(t *testing.T, nc net.Conn) *peer {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &peer{t: t, nc: nc, dec: xml.NewDecoder(nc)}
}

func (p *peer) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.nc, s); err != nil {
		p.t.Fatalf("the peer could not write: %v", err)
	}
}

// header sends a stream header as libpurple does (version "" for none).
func (p *peer) open(from, to, version string) {
	v := ""
	if version != "" {
		v = ` version="` + version + `"`
	}
	p.send(`<?xml version="1.0" encoding="UTF-8" ?>` + "\n" +
		`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" from="` + from + `" to="` + to + `"` + v + `>`)
}

type element struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Inner   string     `xml:",innerxml"`
}

func (e element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// header reads the other side's stream header.
func (p *peer) header() element {
	p.t.Helper()
	for {
		tok, err := p.dec.Token()
		if err != nil {
			p.t.Fatalf("no stream header: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "stream" || se.Name.Space != "http://etherx.jabber.org/streams" {
				p.t.Fatalf("expected a stream header, got <%s xmlns=%q>", se.Name.Local, se.Name.Space)
			}
			return element{XMLName: se.Name, Attrs: se.Attr}
		}
	}
}

var errStreamEnd = errors.New("end of stream")

// next reads the next top-level element, or errStreamEnd at the closing tag.
func (p *peer) next() (element, error) {
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return element{}, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "stream" && tok.Name.Space == "http://etherx.jabber.org/streams" {
				continue // the header, not read yet
			}
			var e element
			err := p.dec.DecodeElement(&e, &tok)
			return e, err
		case xml.EndElement:
			return element{}, errStreamEnd
		}
	}
}

func (p *peer) mustNext() element {
	p.t.Helper()
	e, err := p.next()
	if err != nil {
		p.t.Fatalf("the peer read nothing: %v", err)
	}
	return e
}

// streamError reads up to a stream error and returns its condition.
func (p *peer) streamError() string {
	p.t.Helper()
	for {
		e, err := p.next()
		if err != nil {
			p.t.Fatalf("no stream error: %v", err)
		}
		if e.XMLName.Local == "error" && e.XMLName.Space == "http://etherx.jabber.org/streams" {
			var cond struct {
				Items []struct{ XMLName xml.Name } `xml:",any"`
			}
			xml.Unmarshal([]byte("<e>"+e.Inner+"</e>"), &cond)
			for _, it := range cond.Items {
				if it.XMLName.Local != "text" {
					return it.XMLName.Local
				}
			}
			return ""
		}
	}
}

// closed reads until the other side's closing tag.
func (p *peer) closed() {
	p.t.Helper()
	for {
		_, err := p.next()
		if errors.Is(err, errStreamEnd) {
			return
		}
		if err != nil {
			p.t.Fatalf("the stream did not end with its closing tag: %v", err)
		}
	}
}

// peerListener is a link-local peer's port.
type peerListener struct {
	t  *testing.T
	ln net.Listener
}

func listenPeer(t *testing.T, addr string) *peerListener {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &peerListener{t: t, ln: ln}
}

func (l *peerListener) port() uint16 { return uint16(l.ln.Addr().(*net.TCPAddr).Port) }

func (l *peerListener) accept() *peer {
	l.t.Helper()
	l.ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	nc, err := l.ln.Accept()
	if err != nil {
		l.t.Fatalf("the service did not connect to the peer: %v", err)
	}
	l.t.Cleanup(func() { nc.Close() })
	return newPeer(l.t, nc)
}

// none checks that no connection comes within d.
func (l *peerListener) none(d time.Duration) {
	l.t.Helper()
	l.ln.(*net.TCPListener).SetDeadline(time.Now().Add(d))
	if nc, err := l.ln.Accept(); err == nil {
		nc.Close()
		l.t.Fatal("the service opened a second stream instead of reusing the first")
	}
}

func message(body string) *stanza.Stanza {
	el := stanza.New("message", stanza.NSClient, "type", "chat", "id", "m1")
	el.Append(stanza.New("body", stanza.NSClient).AppendText(body))
	st, _ := stanza.Parse(el)
	return st
}
