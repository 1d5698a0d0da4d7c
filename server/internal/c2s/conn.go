package c2s

import (
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// out is the writing half of a stream after negotiation: a bounded queue
// drained by a writer goroutine, which hands everything queued to the
// framing at once (one write per burst on TCP). Send never blocks. The
// writer runs only while there is something to write, so an idle session
// holds no goroutine (and no stack) for it.
type out struct {
	f        framing
	limit    int // stanzas
	maxBytes int // bytes queued, by the memory their trees take
	timeout  time.Duration
	leftover func([]*stanza.Element) // stanzas that never reached the socket

	mu      sync.Mutex
	queued  int // bytes in queue (Footprint)
	queue   []*stanza.Element
	running bool // a writer goroutine is draining the queue
	closing bool
	failed  bool
	final   *stream.Error // sent at the end, if not nil
	done    chan struct{}
}

func newOut(f framing, limit, maxBytes int, timeout time.Duration) *out {
	return &out{f: f, limit: limit, maxBytes: maxBytes, timeout: timeout, done: make(chan struct{})}
}

// size is what a queued element is counted as: the memory its tree takes
// (a parsed stanza is many times its size on the wire).
func size(el *stanza.Element) int { return el.Footprint() }

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
		// Cut the transport so a writer blocked on it gives up now; what
		// is queued goes to the lost handler (offline storage).
		o.closing = true
		o.f.Close()
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
	if cond != "" {
		o.final = &stream.Error{Condition: cond, Text: text}
	}
	o.kick()
}

// Done is closed once the stream is closed and everything that could be
// written was.
func (o *out) Done() <-chan struct{} { return o.done }

// run drains the queue until it is empty; at the close it writes the end
// of the stream, hands what was never written to the lost handler and
// closes done.
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
			} else if err := o.write(q); err != nil {
				// The transport is broken: stop accepting, close it so the
				// reader ends and the session is unbound.
				o.mu.Lock()
				o.failed, o.closing = true, true
				o.mu.Unlock()
				o.f.Close()
				o.lost(q)
			}
			continue
		}
		// Closing and nothing left queued.
		if !failed {
			_ = o.f.SetWriteDeadline(time.Now().Add(o.timeout))
			_ = o.f.End(final)
		}
		o.mu.Lock()
		o.failed = true // nothing more reaches the transport
		rest := o.queue
		o.queue = nil
		o.mu.Unlock()
		o.lost(rest)
		close(o.done)
		return
	}
}

func (o *out) write(q []*stanza.Element) error {
	_ = o.f.SetWriteDeadline(time.Now().Add(o.timeout))
	return o.f.Write(q)
}

func (o *out) lost(q []*stanza.Element) {
	if len(q) > 0 && o.leftover != nil {
		o.leftover(q)
	}
}
