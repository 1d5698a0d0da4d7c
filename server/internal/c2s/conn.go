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
// drained by one writer goroutine, which writes everything queued in one
// buffer with one syscall per burst. Send never blocks.
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
	spare   []*stanza.Element
	closing bool
	final   []byte // stream error and close tag, written last
	wake    chan struct{}
	done    chan struct{}
}

func newOut(nc net.Conn, limit, maxBytes int, timeout time.Duration) *out {
	return &out{nc: nc, limit: limit, maxBytes: maxBytes, timeout: timeout, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// size is what a queued element is counted as: its wire size, or a
// nominal size for elements the server made.
func size(el *stanza.Element) int {
	if el.Wire > 0 {
		return el.Wire
	}
	return 512
}

// Send queues el; it returns false if the stream is closing or the queue
// is full, in which case the stream is closed with policy-violation... a
// slow client is cut off without slowing anybody else.
func (o *out) Send(el *stanza.Element) bool {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	n := size(el)
	if len(o.queue) >= o.limit || o.queued+n > o.maxBytes {
		// The client is not reading: no closing handshake is possible.
		// Cut the socket so a writer blocked on it gives up now; what is
		// queued goes to the lost handler (offline storage).
		o.closing = true
		o.mu.Unlock()
		o.nc.Close()
		select {
		case o.wake <- struct{}{}:
		default:
		}
		return false
	}
	o.queue = append(o.queue, el)
	o.queued += n
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return true
}

// Close queues the end of the stream: an optional stream error, then the
// closing tag. The writer flushes what is queued first.
func (o *out) Close(cond, text string) {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return
	}
	o.closing = true
	var b bytes.Buffer
	if cond != "" {
		stream.AppendError(&b, &stream.Error{Condition: cond, Text: text})
	}
	b.WriteString(stream.Close)
	o.final = b.Bytes()
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run is the writer goroutine. It returns when the stream is closed and
// flushed, or the socket fails; then it closes the socket so the reader
// ends too.
func (o *out) run() {
	defer close(o.done)
	var buf bytes.Buffer
	failed := false
	for {
		<-o.wake
		o.mu.Lock()
		q := o.queue
		o.queue = o.spare[:0]
		o.queued = 0
		final, closing := o.final, o.closing
		o.mu.Unlock()

		if !failed && len(q) > 0 {
			buf.Reset()
			for _, el := range q {
				el.WriteTo(&buf, stanza.NSClient)
			}
			if err := o.write(buf.Bytes()); err != nil {
				// The socket is broken: stop accepting, close it so the
				// reader ends and the session is unbound.
				failed = true
				o.mu.Lock()
				o.closing = true
				o.mu.Unlock()
				o.nc.Close()
				o.lost(q)
			}
		} else if failed {
			o.lost(q)
		}
		clear(q)
		o.mu.Lock()
		o.spare = q
		o.mu.Unlock()
		if closing {
			if !failed {
				_ = o.write(final)
				// Give the peer a moment to answer the closing handshake
				// (RFC 6120 4.4) before the socket goes.
				if tc, ok := o.nc.(interface{ CloseWrite() error }); ok {
					_ = tc.CloseWrite()
				}
			}
			// Whatever was queued after the close never reaches the socket.
			o.mu.Lock()
			rest := o.queue
			o.queue = nil
			o.mu.Unlock()
			o.lost(rest)
			return
		}
	}
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
type idleConn struct {
	net.Conn
	idle   time.Duration
	onIdle func() bool
	tap    func(out bool, data []byte)
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		if c.idle > 0 {
			_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			if c.tap != nil {
				c.tap(false, p[:n])
			}
			return n, nil
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.onIdle != nil && c.onIdle() {
			continue
		}
		return n, err
	}
}
