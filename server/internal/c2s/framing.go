package c2s

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// framing carries one client stream: the opening each side sends, the
// top-level elements, the end. The session logic (negotiation, the bound
// session's reader and writer) sees only this, so that a transport other
// than TCP (RFC 7395 WebSocket, where each element is a frame and the
// stream opens with <open/>; XEP-0206 BOSH, where elements ride in HTTP
// bodies) is one more implementation, not a change to the session.
//
// Read methods (ReadOpen, Next, Pending, WatchIdle) run on the stream's
// reader; write methods (WriteOpen, Write, End) on one writer at a time:
// negotiation's, then the session queue's. Close may be called from any
// goroutine at any time (a slow client is cut off by whoever fills its
// queue; shutdown has a grace timer) and must make blocked reads and
// writes return.
type framing interface {
	// ReadOpen reads the client's stream opening.
	ReadOpen() (stream.Header, error)
	// WriteOpen sends the server's opening and stream features.
	WriteOpen(h stream.Header, features []*stanza.Element) error
	// Opened reports whether the server's opening was sent on the
	// current stream (a stream error needs one before it).
	Opened() bool
	// Next reads the next top-level element.
	Next() (*stanza.Element, error)
	// Pending reports whether bytes were received and not yet read as
	// elements (nothing may follow STARTTLS, RFC 6120 5.4.3.3).
	Pending() bool
	// Write sends elements, as one write where the transport allows, and
	// returns how many of them went out whole: when it fails part way,
	// the rest never reached the transport (they go back to storage).
	Write(els []*stanza.Element) (int, error)
	// End sends the stream error e (nil for none) and the end of the
	// stream, and lets the peer answer the closing handshake.
	End(e *stream.Error) error
	// Restart begins a new stream on the same transport (RFC 6120 4.3.3:
	// after STARTTLS and SASL).
	Restart()
	// SetLimits changes the limits on what the peer may send from the
	// next element on (larger once it has logged in).
	SetLimits(l stream.Limits)
	// StartTLS upgrades the transport in place (RFC 6120 5); transports
	// that are encrypted below, or cannot be, return an error.
	StartTLS(cfg *tls.Config) error
	// TLS returns the state of the TLS layer, or nil when there is none.
	TLS() *tls.ConnectionState
	// SetDeadline bounds all reading and writing (unauthenticated
	// streams); SetWriteDeadline bounds one write of the bound session.
	SetDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// WatchIdle calls onIdle whenever nothing arrived for idle; onIdle is
	// told whether it was called before with nothing received since, and
	// returns whether to keep waiting. Any byte counts as life (RFC 6120
	// 4.6.1, whitespace keepalives).
	WatchIdle(idle time.Duration, onIdle func(pinged bool) bool)
	// StopReading makes a blocked Next, and every later one that needs
	// more data, fail: a stopping server reads no more (what the decoder
	// holds already is still returned). It may be called from any
	// goroutine.
	StopReading()
	// Tap shows the stream's data from now on to whoever watches t (the
	// XML console); it is called before the session's reader and writer
	// start.
	Tap(t *tap)
	// Drain reads and discards what the client sends until it closes its
	// side or until the deadline: closing a TCP socket with unread data
	// makes the kernel reset the connection and throw away what it had
	// not sent yet, stanzas the session counted as written among them.
	Drain(until time.Time)
	// Close drops the transport at once.
	Close() error
	// RemoteAddr is the peer's address.
	RemoteAddr() string
}

// tcp is the framing of RFC 6120 4 on a TCP connection, with STARTTLS or
// with TLS from the first byte (XEP-0368).
type tcp struct {
	raw    net.Conn // the socket
	nc     net.Conn // raw, or the TLS connection over it
	lim    stream.Limits
	domain string
	src    *switchReader
	dec    *stream.Decoder
	tls    *tls.Conn
	direct bool // TLS from the first byte (XEP-0368)
	opened bool
	wbuf   *bytes.Buffer
	ends   []int // where each element of the last Write ends in wbuf
	tap    *tap

	mu      sync.Mutex // for StopReading, from any goroutine
	idle    *idleConn
	stopped bool
}

func newTCP(nc net.Conn, domain string, lim stream.Limits) *tcp {
	t := &tcp{raw: nc, nc: nc, lim: lim, domain: domain}
	t.src = &switchReader{r: nc}
	t.dec = stream.NewDecoder(t.src, lim)
	return t
}

func (t *tcp) ReadOpen() (stream.Header, error) { return t.dec.Header() }

func (t *tcp) WriteOpen(h stream.Header, features []*stanza.Element) error {
	b := t.buffer()
	stream.AppendHeader(b, h)
	stream.AppendFeatures(b, stanza.NSClient, features...)
	t.opened = true
	_, err := t.flush(b)
	return err
}

func (t *tcp) Opened() bool { return t.opened }

func (t *tcp) Next() (*stanza.Element, error) {
	el, err := t.dec.Next()
	if t.tap != nil {
		if err != nil {
			// The decoder stopped inside an element: what it holds is
			// not the start of the next one.
			t.tap.failed()
		} else {
			t.tap.boundary(t.dec)
		}
	}
	return el, err
}

func (t *tcp) Pending() bool { return t.dec.Buffered() > 0 }

func (t *tcp) Write(els []*stanza.Element) (int, error) {
	b := t.buffer()
	ends := t.ends[:0]
	for _, el := range els {
		el.Encode(b, stanza.NSClient)
		ends = append(ends, b.Len())
	}
	if cap(ends) <= 1024 {
		t.ends = ends
	}
	n, err := t.flush(b)
	if err != nil {
		// TLS counts only whole records as written, and a stanza that
		// ends in the record that failed did not reach the client.
		return sort.SearchInts(ends, n+1), err
	}
	return len(els), nil
}

func (t *tcp) End(e *stream.Error) error {
	b := t.buffer()
	if !t.opened {
		// RFC 6120 4.9.1.1: an error before our header still needs one.
		stream.AppendHeader(b, stream.Header{NS: stanza.NSClient, From: t.domain, ID: newID(), Version: "1.0"})
	}
	if e != nil {
		stream.AppendError(b, e)
	}
	b.WriteString(stream.Close)
	_, err := t.flush(b)
	// Let the peer answer the closing handshake (RFC 6120 4.4).
	if hc, ok := t.nc.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	return err
}

func (t *tcp) SetLimits(l stream.Limits) {
	t.lim = l
	t.dec.SetLimits(l)
}

func (t *tcp) Restart() {
	t.dec.Reset(nil)
	t.opened = false
}

func (t *tcp) StartTLS(cfg *tls.Config) error {
	if t.tls != nil {
		return errors.New("TLS is already on")
	}
	if cfg == nil {
		return errors.New("no TLS configuration")
	}
	tc := tls.Server(t.raw, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	t.tls, t.nc = tc, tc
	t.src = &switchReader{r: tc}
	t.dec = stream.NewDecoder(t.src, t.lim)
	t.opened = false
	return nil
}

func (t *tcp) TLS() *tls.ConnectionState {
	if t.tls == nil {
		return nil
	}
	st := t.tls.ConnectionState()
	return &st
}

func (t *tcp) SetDeadline(d time.Time) error      { return t.nc.SetDeadline(d) }
func (t *tcp) SetWriteDeadline(d time.Time) error { return t.nc.SetWriteDeadline(d) }

// Close closes the socket under TLS: the closing handshake (End) has sent
// TLS's close_notify already, and tls.Conn.Close would wait up to five
// seconds to send it again to a client that does not read.
func (t *tcp) Close() error { return t.raw.Close() }

// Drain reads and discards what the client sends until everything the
// server wrote was acknowledged by the client's TCP (closing then loses
// nothing, even if the client sends more later), the client closed, or
// until. Where the kernel cannot tell what is unacknowledged, it drains
// for at most drainUnknown.
func (t *tcp) Drain(until time.Time) {
	var b [512]byte
	if n := unacked(t.raw); n < 0 {
		until = earlier(until, time.Now().Add(drainUnknown))
	}
	for time.Now().Before(until) {
		if unacked(t.raw) == 0 {
			return
		}
		_ = t.raw.SetReadDeadline(earlier(until, time.Now().Add(50*time.Millisecond)))
		if _, err := t.raw.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
	}
}

// drainUnknown bounds Drain where unacknowledged bytes cannot be counted.
const drainUnknown = 2 * time.Second

func (t *tcp) RemoteAddr() string { return t.raw.RemoteAddr().String() }

func (t *tcp) WatchIdle(idle time.Duration, onIdle func(pinged bool) bool) {
	// Under the decoder's buffer, so that what it holds already (stanzas
	// pipelined right after bind) is kept.
	ic := &idleConn{Conn: t.nc, idle: idle, onIdle: onIdle}
	t.mu.Lock()
	t.idle = ic
	stopped := t.stopped
	t.mu.Unlock()
	if stopped {
		ic.stop()
	}
	t.src.r = ic
}

func (t *tcp) StopReading() {
	t.mu.Lock()
	t.stopped = true
	ic := t.idle
	t.mu.Unlock()
	if ic != nil {
		ic.stop()
	} else {
		_ = t.nc.SetReadDeadline(time.Now())
	}
}

func (t *tcp) Tap(tp *tap) {
	// Called between elements (after bind): the next read begins one
	// unless the decoder holds bytes already.
	tp.clean = t.dec.Buffered() == 0
	t.tap = tp
	t.src.tap = tp
}

// buffer returns the write buffer, empty.
func (t *tcp) buffer() *bytes.Buffer {
	if t.wbuf == nil {
		t.wbuf = new(bytes.Buffer)
	}
	t.wbuf.Reset()
	return t.wbuf
}

// flush writes b with one write and returns how much of it went out; a
// large buffer is not kept for an idle session.
func (t *tcp) flush(b *bytes.Buffer) (int, error) {
	n, err := t.nc.Write(b.Bytes())
	if t.tap != nil && n > 0 {
		t.tap.wrote(b.Bytes()[:n])
	}
	if b.Cap() > 64<<10 {
		t.wbuf = nil
	}
	return n, err
}

// switchReader is the source under the decoder's buffer; swapping r keeps
// whatever the buffer already holds.
// It is where the console's tap sees what was read.
type switchReader struct {
	r   io.Reader
	tap *tap
}

func (s *switchReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.tap != nil && n > 0 {
		s.tap.read(p[:n])
	}
	return n, err
}

// idleConn wraps the socket after binding: when nothing arrives for idle,
// onIdle decides whether to keep waiting (it sends a ping the first time)
// or give up.
//
// Read, and so onIdle, run on the session's reader goroutine only.
type idleConn struct {
	net.Conn
	idle time.Duration
	// onIdle is called when nothing arrived for idle; pinged says whether
	// it was called before with nothing received since. It returns whether
	// to keep waiting.
	onIdle func(pinged bool) bool
	pinged bool

	mu      sync.Mutex // the read deadline: Read's or stop's
	stopped bool
}

// errStopped is what Read returns once reading was stopped.
var errStopped = errors.New("the server stopped reading")

// stop makes Read fail, now and from now on.
func (c *idleConn) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	_ = c.Conn.SetReadDeadline(time.Now())
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.stopped {
			c.mu.Unlock()
			return 0, errStopped
		}
		if c.idle > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		}
		c.mu.Unlock()
		n, err := c.Conn.Read(p)
		if n > 0 {
			// Anything counts as a sign of life, whitespace too (RFC 6120 4.6.1).
			c.pinged = false
			return n, nil
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			c.mu.Lock()
			stopped := c.stopped
			c.mu.Unlock()
			if stopped {
				return 0, errStopped
			}
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.onIdle != nil && c.onIdle(c.pinged) {
			c.pinged = true
			continue
		}
		return n, err
	}
}
