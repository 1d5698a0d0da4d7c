package c2s

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// out is the writing half of a stream after negotiation: a bounded queue
// drained by a writer goroutine, which hands everything queued to the
// framing at once (one write per burst on TCP). Send never blocks. The
// writer runs only while there is something to write, so an idle session
// holds no goroutine (and no stack) for it.
//
// What the writer could not write goes to the leftover handler (offline
// storage keeps the messages), except stanzas sent with a done function:
// their sender is told instead (offline delivery deletes a stored message
// only once it was written, and leaves it stored when it was not).
type out struct {
	limit    int // stanzas
	maxBytes int // bytes queued, by the memory their trees take
	timeout  time.Duration
	leftover func([]*stanza.Element) // stanzas that never reached the socket
	tap      *tap                    // the XML console's view of the stream

	mu      sync.Mutex
	f       framing   // nil while the session is held for resumption (XEP-0198)
	idle    sync.Cond // broadcast when the writer stops (running turns false)
	queued  int       // bytes in queue (Footprint)
	queue   []*stanza.Element
	dones   []func(bool) // parallel to queue once a stanza has one; else nil
	running bool         // a writer goroutine is draining the queue
	closing bool
	failed  bool
	ended   bool          // done is closed: no writer runs again
	final   *stream.Error // sent at the end, if not nil
	done    chan struct{}

	// Stream management (XEP-0198), once the client enabled it: what was
	// written and not yet acknowledged. Set once, under mu; the writer
	// reads the pointer without the lock to spare sessions without it.
	sm atomic.Pointer[smOut]

	// XEP-0352: while the client says it is inactive, what can wait is
	// held (the latest presence of each sender, chat states) and goes out
	// when it is active again, or just before the next stanza that cannot
	// wait.
	inactive bool
	held     []*stanza.Element
	heldFrom map[string]int // presence held, by sender: its index in held
	heldSize int
}

// Bounds of what an inactive client is spared: past them it gets it all.
const (
	maxHeld      = 500
	maxHeldBytes = 256 << 10
)

func newOut(f framing, limit, maxBytes int, timeout time.Duration) *out {
	o := &out{f: f, limit: limit, maxBytes: maxBytes, timeout: timeout, done: make(chan struct{})}
	o.idle.L = &o.mu
	return o
}

// size is what a queued element is counted as: the memory its tree takes
// (a parsed stanza is many times its size on the wire).
func size(el *stanza.Element) int { return el.Footprint() }

// kick starts a writer if none runs and there is a transport to write to
// (or the stream is closing); o.mu is held.
func (o *out) kick() {
	if !o.running && (o.f != nil || o.closing) {
		o.running = true
		go o.run()
	}
}

// Send queues el; it returns false if the stream is closing or the queue
// is full. A client that does not read is cut off without slowing anybody
// else. If Send returns true and done is not nil, done is called once from
// the writer: true once el was handed to the transport whole, false if it
// never will be.
func (o *out) Send(el *stanza.Element, done func(written bool)) bool {
	o.mu.Lock()
	ok, held := o.sendLocked(el, done)
	o.mu.Unlock()
	if held && done != nil {
		// A chat state that waits counts as delivered: it is not worth
		// storing for later (offline storage drops it too).
		done(true)
	}
	return ok
}

// sendLocked queues el, or holds it while the client is inactive; o.mu
// is held.
func (o *out) sendLocked(el *stanza.Element, done func(written bool)) (ok, held bool) {
	if o.closing {
		return false, false
	}
	if o.inactive {
		if canWait(el) {
			o.holdLocked(el)
			if len(o.held) <= maxHeld && o.heldSize <= maxHeldBytes {
				return true, true
			}
			return o.releaseLocked(), true // too much waits: el goes with the rest
		}
		// What was held goes first, in its order.
		if !o.releaseLocked() {
			return false, false
		}
	}
	return o.enqueueLocked(el, done), false
}

// enqueueLocked queues el; o.mu is held.
func (o *out) enqueueLocked(el *stanza.Element, done func(written bool)) bool {
	n := size(el)
	un, ubytes := o.unackedLocked()
	if len(o.queue)+un >= o.limit || o.queued+ubytes+n > o.maxBytes {
		// The client is not reading: no closing handshake is possible.
		// A writer blocked on it gives up now; what is queued goes to
		// the lost handler (offline storage).
		o.closing = true
		o.cutOff()
		o.kick()
		return false
	}
	if done != nil && o.dones == nil {
		o.dones = make([]func(bool), len(o.queue), cap(o.queue))
	}
	o.queue = append(o.queue, el)
	if o.dones != nil {
		o.dones = append(o.dones, done)
	}
	o.queued += n
	o.kick()
	return true
}

// SetActive records the client's state (XEP-0352): inactive holds what can
// wait; active sends what was held.
func (o *out) SetActive(active bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inactive = !active
	if active {
		o.releaseLocked()
	}
}

// holdLocked keeps el for later: a presence replaces the one held from
// the same sender; o.mu is held.
func (o *out) holdLocked(el *stanza.Element) {
	if el.Name == "presence" {
		from := el.Attr("from")
		if i, ok := o.heldFrom[from]; ok {
			o.heldSize += size(el) - size(o.held[i])
			o.held[i] = el
			return
		}
		if o.heldFrom == nil {
			o.heldFrom = map[string]int{}
		}
		o.heldFrom[from] = len(o.held)
	}
	o.held = append(o.held, el)
	o.heldSize += size(el)
}

// releaseLocked queues what was held; false if the queue could not take it
// (the client is cut off); o.mu is held.
func (o *out) releaseLocked() bool {
	held := o.held
	o.held, o.heldFrom, o.heldSize = nil, nil, 0
	for _, el := range held {
		if !o.enqueueLocked(el, nil) {
			return false
		}
	}
	return true
}

// canWait says whether a client that is inactive can get el later
// (XEP-0352 does not say; as the common servers do): a presence update
// (available or unavailable, not a subscription or an error), or a
// message that is only a chat state (XEP-0085).
func canWait(el *stanza.Element) bool {
	switch el.Name {
	case "presence":
		t := el.Attr("type")
		return t == "" || t == "unavailable"
	case "message":
		n := 0
		for _, c := range el.Elements() {
			if c.NS != nsChatStates {
				return false
			}
			n++
		}
		return n > 0
	}
	return false
}

const nsChatStates = "http://jabber.org/protocol/chatstates"

// cutOff ends the writing at once: a write in progress returns with what
// it wrote, nothing more is written, and the reader stops. The transport
// is closed by the session once it has read what the client sent (see
// framing.Drain). o.mu is held.
func (o *out) cutOff() {
	o.failed = true
	if o.f != nil {
		_ = o.f.SetWriteDeadline(time.Now())
		o.f.StopReading()
	}
}

// CutOff is cutOff for a session that gives a slow client no more time
// (shutdown's grace is over).
func (o *out) CutOff() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return
	}
	o.closing = true
	o.cutOff()
	o.kick()
}

// Room returns how many more stanzas, and bytes as Send counts them, the
// queue takes now; nothing once the stream is closing.
func (o *out) Room() (stanzas, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || o.f == nil {
		return 0, 0 // closing, or held: nothing is written now
	}
	un, ubytes := o.unackedLocked()
	return o.limit - len(o.queue) - un, o.maxBytes - o.queued - ubytes
}

// Close queues the end of the stream: an optional stream error, then the
// closing tag. The writer flushes what is queued first.
func (o *out) Close(cond, text string) {
	var e *stream.Error
	if cond != "" {
		e = &stream.Error{Condition: cond, Text: text}
	}
	o.closeWith(e)
}

// closeWith is Close with a whole stream error (nil for a plain close).
func (o *out) closeWith(e *stream.Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return
	}
	o.closing = true
	o.final = e
	o.kick()
}

// Done is closed once the stream is closed and everything that could be
// written was.
func (o *out) Done() <-chan struct{} { return o.done }

// take empties the queue; o.mu is held.
func (o *out) take() ([]*stanza.Element, []func(bool)) {
	q, d := o.queue, o.dones
	o.queue, o.dones, o.queued = nil, nil, 0
	return q, d
}

// run drains the queue until it is empty; at the close it writes the end
// of the stream, hands what was never written (or, with stream management,
// never acknowledged) to the lost handler and closes done. While the
// session is held for resumption it stops and the queue waits.
func (o *out) run() {
	for {
		o.mu.Lock()
		f := o.f
		if f == nil && !o.closing {
			o.stopLocked()
			o.mu.Unlock()
			return
		}
		q, dones := o.take()
		failed, closing, final := o.failed || f == nil, o.closing, o.final
		if len(q) == 0 && !closing {
			o.stopLocked()
			o.mu.Unlock()
			return
		}
		// With stream management the stanzas count as sent before they
		// are written: the client may acknowledge them before this
		// goroutine hears back from the write.
		sm := o.sm.Load()
		var req *stanza.Element
		counted := len(q) // where in q the stanzas stream management counts begin
		if sm != nil && len(q) > 0 && !failed {
			var added int
			dones, added, counted = o.countLocked(q, dones)
			if added > 0 && !sm.requested {
				sm.requested = true
				req = stanza.New("r", NSSM)
			}
		}
		o.mu.Unlock()

		if len(q) > 0 {
			if failed {
				o.lost(q, dones)
				continue
			}
			batch := q
			if req != nil {
				batch = append(q, req)
			}
			n, err := o.write(f, batch)
			n = min(n, len(q))
			o.written(q[:n], dones)
			if err != nil {
				if dones != nil {
					dones = dones[n:]
				}
				o.writeFailed(f, q[n:], dones, counted-n)
			}
			continue
		}
		// Closing and nothing left queued.
		if !failed {
			_ = f.SetWriteDeadline(time.Now().Add(o.timeout))
			_ = f.End(final)
		}
		o.mu.Lock()
		o.failed = true // nothing more reaches the transport
		rest, dones := o.takeAll()
		o.mu.Unlock()
		o.lost(rest, dones)
		o.mu.Lock()
		o.ended = true
		o.stopLocked()
		o.mu.Unlock()
		if o.tap != nil {
			// The end of the stream is written: the console's watch ends
			// (what the client may still send is not shown).
			o.tap.end()
		}
		close(o.done)
		return
	}
}

// stopLocked records that the writer stopped; o.mu is held.
func (o *out) stopLocked() {
	o.running = false
	o.idle.Broadcast()
}

// writeFailed handles a write to f that failed after some of a burst: rest
// (with its dones) was not written, and stream management counts its
// elements from uncounted on (its first uncounted ones were queued before
// <enabled/>, or before stream management was on). The transport is
// broken, or the client was cut off. A session that can be resumed keeps
// what is counted for the resumed stream; any other stops accepting and
// ends the reader, so that the session is unbound, and only what did not
// reach it is lost.
func (o *out) writeFailed(f framing, rest []*stanza.Element, dones []func(bool), uncounted int) {
	o.mu.Lock()
	sm := o.sm.Load()
	if sm != nil {
		// The counted stanzas of rest are among the unacknowledged
		// already: a resumed stream writes them again, an ended session
		// hands them over with the rest. Those not counted are not: they
		// go back to their senders or the lost handler.
		k := min(max(uncounted, 0), len(rest))
		rest = rest[:k]
		if dones != nil {
			dones = dones[:k]
		}
		sm.requested = false
		if sm.resume && !o.closing {
			if o.f == f {
				o.detachLocked()
			}
			o.mu.Unlock()
			o.lost(rest, dones)
			return
		}
	}
	o.closing = true
	o.cutOff()
	o.mu.Unlock()
	o.lost(rest, dones)
}

// errCutOff: the session was cut off before the write began.
var errCutOff = errors.New("the client was cut off")

// errDetached: the session is held for resumption; its transport is gone.
var errDetached = errors.New("the session is waiting to be resumed")

// write hands q to f and returns how many of its stanzas went out whole.
// The deadline is set under o.mu, so that a cut-off, which moves it to
// now, is never undone by a write starting.
func (o *out) write(f framing, q []*stanza.Element) (int, error) {
	o.mu.Lock()
	if o.f != f {
		o.mu.Unlock()
		return 0, errDetached
	}
	if o.failed {
		o.mu.Unlock()
		return 0, errCutOff
	}
	_ = f.SetWriteDeadline(time.Now().Add(o.timeout))
	o.mu.Unlock()
	return f.Write(q)
}

// written tells the senders that asked that their stanzas were written;
// dones, if not nil, is parallel to a queue that q begins. (With stream
// management the stanzas' dones wait among the unacknowledged: a stanza
// is delivered once the client acknowledged it.)
func (o *out) written(q []*stanza.Element, dones []func(bool)) {
	for i := range q {
		if dones != nil && dones[i] != nil {
			dones[i](true)
		}
	}
}

// lost hands what was never written to its senders or the lost handler.
func (o *out) lost(q []*stanza.Element, dones []func(bool)) {
	if len(q) == 0 {
		return
	}
	if dones != nil {
		rest := q[:0:0]
		for i, el := range q {
			if dones[i] != nil {
				dones[i](false)
			} else {
				rest = append(rest, el)
			}
		}
		q = rest
	}
	if len(q) > 0 && o.leftover != nil {
		o.leftover(q)
	}
}
