package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// spread follows stanzas that each go to k receivers (a presence to a
// publisher's contacts, a groupchat message to a room's occupants): when
// each was sent, how many received it, when the last one did. At most
// window are in flight: a stanza leaves the window once all k have it.
type spread struct {
	epoch    time.Time
	k        int32
	counts   []atomic.Int32 // per stanza: receivers reached
	sentAt   []atomic.Int64 // per stanza: nanoseconds since epoch
	doneAt   []atomic.Int64 // per stanza: when the last receiver got it
	window   chan struct{}
	complete atomic.Int64 // stanzas that reached all k
	last     atomic.Int64 // when anything last arrived
	sent     atomic.Int64
	final    atomic.Int64 // stanzas sent in all, once sending ended; -1 before
	done     chan struct{}
	once     sync.Once
}

func newSpread(k, most, window int) *spread {
	s := &spread{epoch: time.Now(), k: int32(k), counts: make([]atomic.Int32, most), sentAt: make([]atomic.Int64, most),
		doneAt: make([]atomic.Int64, most), window: make(chan struct{}, window), done: make(chan struct{})}
	s.final.Store(-1)
	return s
}

func (s *spread) now() int64 { return int64(time.Since(s.epoch)) }

// enter takes a place in the window, waiting for one; false once ctx ends.
func (s *spread) enter(ctx context.Context) bool {
	select {
	case s.window <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// tryEnter takes a place in the window if one is free now.
func (s *spread) tryEnter() bool {
	select {
	case s.window <- struct{}{}:
		return true
	default:
		return false
	}
}

// ended records that sending ended after the stanzas so far.
func (s *spread) ended() {
	s.final.Store(s.sent.Load())
	s.checkDone()
}

func (s *spread) checkDone() {
	if fin := s.final.Load(); fin >= 0 && s.complete.Load() >= fin {
		s.once.Do(func() { close(s.done) })
	}
}

// received counts stanza seq at one more receiver; the caller has checked
// that this receiver did not have it yet.
func (s *spread) received(seq int64) {
	now := s.now()
	s.last.Store(now)
	if s.counts[seq].Add(1) == s.k {
		s.doneAt[seq].Store(now)
		s.complete.Add(1)
		select {
		case <-s.window:
		default:
		}
		s.checkDone()
	}
}

// wait waits until every stanza sent reached everyone, drain passed or
// ctx ended.
func (s *spread) wait(ctx context.Context, drain time.Duration) {
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// latencies returns, for each of the first n stanzas that reached all,
// the time from its sending until then.
func (s *spread) latencies(n int64) samples {
	var lat samples
	for i := range n {
		if t := s.doneAt[i].Load(); t > 0 {
			lat = append(lat, time.Duration(t-s.sentAt[i].Load()))
		}
	}
	return lat
}

// spreadTotals are what a fan-out run (room, pubsub) reports once its
// stanzas are sent and drained.
type spreadTotals struct {
	Sent, Expected, Lost int64
	Value, PerSecond     float64 // stanzas that reached everyone, and deliveries, per second
	Seconds, P50, P99    float64
	latency              summary
}

// totals sums a run that began at start (since epoch) and whose receivers
// got delivered stanzas in all.
func (s *spread) totals(start time.Duration, delivered int64) spreadTotals {
	t := spreadTotals{Sent: s.final.Load()}
	t.Expected = t.Sent * int64(s.k)
	t.Lost = t.Expected - delivered
	elapsed := time.Duration(s.last.Load()) - start
	t.Value = round1(rate(s.complete.Load(), elapsed))
	t.PerSecond = round1(rate(delivered, elapsed))
	t.Seconds = round3(elapsed.Seconds())
	t.latency = summarize(s.latencies(t.Sent))
	t.P50, t.P99 = ms(t.latency.P50), ms(t.latency.P99)
	return t
}
