package c2s

import (
	"strconv"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Stream management's side of the session queue (XEP-0198). Counting
// follows the queue's order exactly: the count of stanzas sent begins
// with the first stanza written after <enabled/>, and a stanza counts as
// the writer takes it to write (the client may answer before the write
// returns). A written stanza waits among the unacknowledged, with
// its sender's done, until the client's <a h='...'/> covers it; only then
// is it delivered. A session that ends leaves its unacknowledged stanzas
// to their senders or to the lost handler (offline storage) as if they
// had never been written; a session held for resumption writes them again
// on the resumed stream.

// NSSM is stream management's namespace.
const NSSM = "urn:xmpp:sm:3"

// smOut is what the queue keeps for stream management; out.mu guards it.
type smOut struct {
	enabled  *stanza.Element // the <enabled/>: counting starts once it is written
	counting bool
	resume   bool   // the session may be held and resumed
	sent     uint32 // stanzas written since counting began (mod 2^32)
	acked    uint32 // the client's last h
	unacked  []*stanza.Element
	udones   []func(bool) // parallel to unacked; nil entries for stanzas nobody tracks
	ubytes   int          // what unacked takes in memory (Footprint), against QueueBytes
	// requested: an <r/> went out that the client has not answered.
	requested bool
}

// isStanza tells stanzas from the stream's other elements (RFC 6120 4.1).
func isStanza(el *stanza.Element) bool {
	return el.NS == stanza.NSClient && (el.Name == "message" || el.Name == "presence" || el.Name == "iq")
}

// unackedLocked is how many written stanzas wait for the client's
// acknowledgement, and what they take in memory; o.mu is held. They count
// against the queue's limits: a client that does not acknowledge is one
// that does not read.
func (o *out) unackedLocked() (n, bytes int) {
	if sm := o.sm.Load(); sm != nil {
		return len(sm.unacked), sm.ubytes
	}
	return 0, 0
}

// enableSM turns stream management on: el (the <enabled/> answer) is
// queued, and every stanza written after it is counted. False if the
// stream is closing. With el nil (Bind 2's inline <enable/>), counting
// begins after the element smStartsAfterLocked names.
func (o *out) enableSM(el *stanza.Element, resume bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return false
	}
	o.sm.Store(&smOut{enabled: el, resume: resume})
	return el == nil || o.enqueueLocked(el, nil)
}

// smStartsAfterLocked makes el, queued first, the element after which
// stream management counts (Bind 2's <success/>, which holds the
// <enabled/>); o.mu is held.
func (o *out) smStartsAfterLocked(el *stanza.Element) {
	if sm := o.sm.Load(); sm != nil && sm.enabled == nil {
		sm.enabled = el
	}
}

// countLocked moves the stanzas of q that count (those after <enabled/>)
// to the unacknowledged, with their dones, as the writer takes them to
// write. It returns the dones left (those of the other elements), parallel
// to q, or nil for none, how many stanzas it moved, and from where in q
// stanzas count (len(q): none does); o.mu is held.
func (o *out) countLocked(q []*stanza.Element, dones []func(bool)) (rest []func(bool), added, from int) {
	sm := o.sm.Load()
	from = len(q)
	if sm.counting {
		from = 0
	}
	for i, el := range q {
		var d func(bool)
		if dones != nil {
			d = dones[i]
		}
		if sm.counting && isStanza(el) {
			sm.unacked = append(sm.unacked, el)
			sm.udones = append(sm.udones, d)
			sm.ubytes += size(el)
			sm.sent++
			added++
			continue
		}
		if el == sm.enabled {
			sm.counting = true
			from = i + 1
		}
		if d != nil {
			if rest == nil {
				rest = make([]func(bool), len(q))
			}
			rest[i] = d
		}
	}
	return rest, added, from
}

// errHandledTooHigh is the stream error for an h that acknowledges more
// than was sent (XEP-0198 4).
func errHandledTooHigh(h, sent uint32) *stream.Error {
	return &stream.Error{Condition: stream.UndefinedCondition,
		Text:  "the client acknowledged " + strconv.FormatUint(uint64(h), 10) + " stanzas, but the server sent " + strconv.FormatUint(uint64(sent), 10),
		Extra: stanza.New("handled-count-too-high", NSSM, "h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(sent), 10))}
}

// ack takes the client's count of stanzas handled: those it covers are
// delivered. Unacknowledged stanzas written after the last request get a
// request of their own, so that none waits for traffic that may not come.
func (o *out) ack(h uint32) error {
	o.mu.Lock()
	dones, err := o.ackLocked(h)
	if err == nil {
		if sm := o.sm.Load(); len(sm.unacked) > 0 && !sm.requested && o.f != nil {
			sm.requested = true
			o.enqueueLocked(stanza.New("r", NSSM), nil)
		}
	}
	o.mu.Unlock()
	for _, d := range dones {
		if d != nil {
			d(true)
		}
	}
	return err
}

// ackLocked takes the acknowledged stanzas off and returns their dones;
// o.mu is held.
func (o *out) ackLocked(h uint32) ([]func(bool), error) {
	sm := o.sm.Load()
	n := h - sm.acked // mod 2^32, as the counts are
	if n > uint32(len(sm.unacked)) {
		return nil, errHandledTooHigh(h, sm.sent)
	}
	dones := sm.udones[:n:n]
	for _, el := range sm.unacked[:n] {
		sm.ubytes -= size(el)
	}
	clear(sm.unacked[:n])
	sm.unacked, sm.udones = sm.unacked[n:], sm.udones[n:]
	if len(sm.unacked) == 0 {
		sm.unacked, sm.udones = nil, nil // let the old arrays go
		sm.ubytes = 0
	}
	sm.acked = h
	sm.requested = false
	return dones, nil
}

// putBackLocked puts stanzas back at the front of the queue; o.mu is
// held.
func (o *out) putBackLocked(q []*stanza.Element, dones []func(bool)) {
	if len(q) == 0 {
		return
	}
	o.queue, o.dones = prepend(q, dones, o.queue, o.dones)
	for _, el := range q {
		o.queued += size(el)
	}
}

// prepend returns a+b with their dones (nil when neither has any).
func prepend(a []*stanza.Element, ad []func(bool), b []*stanza.Element, bd []func(bool)) ([]*stanza.Element, []func(bool)) {
	q := make([]*stanza.Element, 0, len(a)+len(b))
	q = append(append(q, a...), b...)
	if ad == nil && bd == nil {
		return q, nil
	}
	d := make([]func(bool), len(q))
	copy(d, ad)
	copy(d[len(a):], bd)
	return q, d
}

// takeAll empties the unacknowledged and the queue, in that order, for a
// session that ends; o.mu is held.
func (o *out) takeAll() ([]*stanza.Element, []func(bool)) {
	q, d := o.take()
	sm := o.sm.Load()
	if sm == nil || len(sm.unacked) == 0 {
		return q, d
	}
	q, d = prepend(sm.unacked, sm.udones, q, d)
	sm.unacked, sm.udones, sm.ubytes = nil, nil, 0
	return q, d
}

// detachLocked lets go of the transport of a session that may be
// resumed: a write in progress returns, the reader stops, and the queue
// waits for a resumed stream; o.mu is held.
func (o *out) detachLocked() {
	f := o.f
	o.f = nil
	_ = f.SetWriteDeadline(time.Now())
	f.StopReading()
}

// hold keeps a session whose transport f failed for resumption; false if
// it cannot be resumed (no stream management, resumption not asked for,
// or the stream is closing: replaced, kicked, too slow, or stopping).
func (o *out) hold(f framing) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	sm := o.sm.Load()
	if sm == nil || !sm.resume || o.closing {
		return false
	}
	if o.f == f {
		o.detachLocked()
	}
	return true
}

// attach gives a held session the transport of the stream that resumed
// it, after the client's count h: <resumed/> goes first, then what the
// client did not acknowledge, then what came meanwhile. It waits for the
// old writer to stop; ready, if not nil, runs then, before a writer can
// start on f (the XML console's tap joins f). False if the session ended
// meanwhile.
func (o *out) attach(f framing, h uint32, resumed *stanza.Element, ready func()) (bool, error) {
	o.mu.Lock()
	for o.running && !o.closing {
		o.idle.Wait()
	}
	if o.closing || o.f != nil {
		o.mu.Unlock()
		return false, nil
	}
	dones, err := o.ackLocked(h)
	if err != nil {
		o.mu.Unlock()
		return true, err
	}
	sm := o.sm.Load()
	again, againDones := sm.unacked, sm.udones
	sm.unacked, sm.udones, sm.ubytes = nil, nil, 0 // putBackLocked counts them as queued
	sm.sent = sm.acked                             // the unacknowledged are counted again as they are written
	o.putBackLocked(again, againDones)
	o.putBackLocked([]*stanza.Element{resumed}, nil)
	if ready != nil {
		ready()
	}
	o.f = f
	o.kick()
	o.mu.Unlock()
	for _, d := range dones {
		if d != nil {
			d(true)
		}
	}
	return true, nil
}

// Held reports whether the session is held for its client to resume it
// (XEP-0198): bound, but with no connection now.
func (o *out) Held() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.f == nil && !o.closing
}
