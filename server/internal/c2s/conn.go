package c2s

import (
	"bytes"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// out is the writing half of a stream after negotiation: a bounded queue
// drained by a writer goroutine, which writes everything queued in one
// buffer with one syscall per burst. Send never blocks. The writer runs
// only while there is something to write, so an idle session holds no
// goroutine (and no stack) for it.
type out struct {
	nc       net.Conn
	limit    int // stanzas
	maxBytes int // bytes queued, by wire size
	timeout  time.Duration
	leftover func([]*stanza.Element) // stanzas that never reached the socket
	tap      func(out bool, data []byte)

	mu      sync.Mutex
	queued  int // bytes in queue
	queue   []*stanza.Element
	running bool // a writer goroutine is draining the queue
	closing bool
	failed  bool
	final   []byte // stream error and close tag, written last
	done    chan struct{}
	buf     *bytes.Buffer
}

func newOut(nc net.Conn, limit, maxBytes int, timeout time.Duration) *out {
	return &out{nc: nc, limit: limit, maxBytes: maxBytes, timeout: timeout, done: make(chan struct{})}
}

// size is what a queued element is counted as: its wire size, or a
// nominal size for elements the server made.
func size(el *stanza.Element) int {
	if el.Wire > 0 {
		return el.Wire
	}
	return 512
}

// kick starts a writer if none runs; o.mu is held.
func (o *out) kick() {
	if !o.running {
		o.running = true
		go o.run()
	}
}

// Send queues el; it returns false if the stream is closing or the queue
// is full. A client that does not read is cut off without slowing anybody
// else.
func (o *out) Send(el *stanza.Element) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return false
	}
	n := size(el)
	if len(o.queue) >= o.limit || o.queued+n > o.maxBytes {
		// The client is not reading: no closing handshake is possible.
		// Cut the socket so a writer blocked on it gives up now; what is
		// queued goes to the lost handler (offline storage).
		o.closing = true
		o.nc.Close()
		o.kick()
		return false
	}
	o.queue = append(o.queue, el)
	o.queued += n
	o.kick()
	return true
}

// Close queues the end of the stream: an optional stream error, then the
// closing tag. The writer flushes what is queued first.
func (o *out) Close(cond, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return
	}
	o.closing = true
	var b bytes.Buffer
	if cond != "" {
		stream.AppendError(&b, &stream.Error{Condition: cond, Text: text})
	}
	b.WriteString(stream.Close)
	o.final = b.Bytes()
	o.kick()
}

// Done is closed once the stream is closed and everything that could be
// written was.
func (o *out) Done() <-chan struct{} { return o.done }

// run drains the queue until it is empty; at the close it writes the final
// bytes, hands what was never written to the lost handler and closes done.
func (o *out) run() {
	for {
		o.mu.Lock()
		q := o.queue
		o.queue = nil
		o.queued = 0
		failed, closing, final := o.failed, o.closing, o.final
		if len(q) == 0 && !closing {
			o.running = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()

		if len(q) > 0 {
			if failed {
				o.lost(q)
			} else if err := o.writeAll(q); err != nil {
				// The socket is broken: stop accepting, close it so the
				// reader ends and the session is unbound.
				o.mu.Lock()
				o.failed, o.closing = true, true
				o.mu.Unlock()
				o.nc.Close()
				o.lost(q)
			}
			continue
		}
		// Closing and nothing left queued.
		if !failed {
			_ = o.write(final)
			// Let the peer answer the closing handshake (RFC 6120 4.4).
			if tc, ok := o.nc.(interface{ CloseWrite() error }); ok {
				_ = tc.CloseWrite()
			}
		}
		o.mu.Lock()
		o.failed = true // nothing more reaches the socket
		rest := o.queue
		o.queue = nil
		o.mu.Unlock()
		o.lost(rest)
		close(o.done)
		return
	}
}

func (o *out) writeAll(q []*stanza.Element) error {
	if o.buf == nil {
		o.buf = new(bytes.Buffer)
	}
	o.buf.Reset()
	for _, el := range q {
		el.WriteTo(o.buf, stanza.NSClient)
	}
	err := o.write(o.buf.Bytes())
	if o.buf.Cap() > 64<<10 {
		o.buf = nil // do not keep a burst's buffer for an idle session
	}
	return err
}

func (o *out) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	_ = o.nc.SetWriteDeadline(time.Now().Add(o.timeout))
	_, err := o.nc.Write(p)
	if o.tap != nil && err == nil {
		o.tap(true, p)
	}
	return err
}

func (o *out) lost(q []*stanza.Element) {
	if len(q) > 0 && o.leftover != nil {
		o.leftover(q)
	}
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
	tap    func(out bool, data []byte)
	pinged bool
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		if c.idle > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			// Anything counts as a sign of life, whitespace too (RFC 6120 4.6.1).
			c.pinged = false
			if c.tap != nil {
				c.tap(false, p[:n])
			}
			return n, nil
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.onIdle != nil && c.onIdle(c.pinged) {
			c.pinged = true
			continue
		}
		return n, err
	}
}
