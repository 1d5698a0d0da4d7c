package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A pair is one sending and one receiving stream on distinct accounts. The
// sender addresses the receiver's full JID, so delivery needs no presence
// (RFC 6121 8.5.3.1: a message to a connected resource is delivered to it).
// Every message carries "<prefix><seq>" (latency: "<prefix><seq>-<nanos>")
// as its id and at the start of its body; the receiver finds it in the id
// and falls back to the body for a server that rewrites ids.
type pair struct {
	tx, rx *Conn
	to     string
	prefix string

	window chan struct{} // throughput: one token per message in flight

	sent    atomic.Int64 // messages written
	final   atomic.Int64 // messages written in all, once the sender stopped; -1 before
	recv    atomic.Int64 // distinct messages received
	dup     atomic.Int64
	bounced atomic.Int64 // returned to the sender as errors
	last    atomic.Int64 // time of the latest receipt, as nanoseconds since the run's epoch
	seen    bitset       // receiver goroutine only
	lat     samples      // receiver goroutine only
	done    chan struct{}
	once    sync.Once
}

func (p *pair) checkDone() {
	if f := p.final.Load(); f >= 0 && p.recv.Load() >= f {
		p.once.Do(func() { close(p.done) })
	}
}

// bitset records which sequence numbers arrived.
type bitset []uint64

// add sets bit i and reports whether it was clear.
func (b *bitset) add(i int64) bool {
	w := int(i / 64)
	for w >= len(*b) {
		*b = append(*b, 0)
	}
	m := uint64(1) << (i % 64)
	if (*b)[w]&m != 0 {
		return false
	}
	(*b)[w] |= m
	return true
}

// pairRun is what throughput and latency share: the pairs, their reader
// goroutines and the end of the run.
type pairRun struct {
	d       *dialer
	pairs   []*pair
	epoch   time.Time
	readers sync.WaitGroup
	closing atomic.Bool
	errs    firstErr
	padding string
}

func runID() string { return strconv.FormatInt(time.Now().UnixNano()%1e9, 36) }

// setupPairs logs in the pairs: sender i is account first+2i, its receiver
// first+2i+1.
func setupPairs(ctx context.Context, d *dialer, kind byte, latency bool) (*pairRun, error) {
	o := d.o
	run := runID()
	pr := &pairRun{d: d, pairs: make([]*pair, o.pairs), epoch: time.Now()}
	conns, failed, errs := loginMany(ctx, d, 2*o.pairs, o.conc, func(i int) (int, string) {
		role := "-tx"
		if i%2 == 1 {
			role = "-rx"
		}
		return o.first + i, o.resource + role + run
	})
	if failed > 0 {
		closeAll(conns)
		return nil, fmt.Errorf("%d of %d logins failed: %s", failed, 2*o.pairs, errs)
	}
	for i := range pr.pairs {
		p := &pair{
			tx: conns[2*i], rx: conns[2*i+1],
			prefix: string(kind) + run + "-" + strconv.Itoa(i) + "-",
			done:   make(chan struct{}),
		}
		p.to = p.rx.JID
		if p.to == "" {
			p.to = d.bare(o.first+2*i+1) + "/" + o.resource + "-rx" + run
		}
		p.final.Store(-1)
		if !latency {
			p.window = make(chan struct{}, o.window)
		}
		pr.pairs[i] = p
		pr.readers.Go(func() { pr.read(p.rx, func(el []byte) { pr.received(p, el, latency) }) })
		pr.readers.Go(func() { pr.read(p.tx, func(el []byte) { pr.bounce(p, el) }) })
	}
	if n := o.bodySize - len(pr.pairs[0].prefix) - 12; n > 0 {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'x'
		}
		pr.padding = " " + string(b)
	}
	return pr, nil
}

// read runs a connection's reader until the run closes it.
func (pr *pairRun) read(c *Conn, handle func([]byte)) {
	err := c.serve(handle)
	if !pr.closing.Load() {
		pr.errs.add(fmt.Errorf("connection %s lost: %w", c.JID, err))
	}
}

// received handles a stanza at a receiver.
func (pr *pairRun) received(p *pair, el []byte, latency bool) {
	if string(tagName(el)) != "message" {
		return
	}
	seq, ts, ok := seqOf(el, p.prefix)
	if !ok {
		return
	}
	if !p.seen.add(seq) {
		p.dup.Add(1)
		return
	}
	now := time.Since(pr.epoch)
	if latency && ts >= 0 {
		p.lat = append(p.lat, now-time.Duration(ts))
	}
	p.last.Store(int64(now))
	p.recv.Add(1)
	if p.window != nil {
		select {
		case <-p.window:
		default:
		}
	}
	p.checkDone()
}

// bounce handles a stanza at a sender: an error return of its own message.
func (pr *pairRun) bounce(p *pair, el []byte) {
	if string(tagName(el)) != "message" || attrString(el, "type") != "error" {
		return
	}
	if _, _, ok := seqOf(el, p.prefix); !ok {
		return
	}
	if p.bounced.Add(1) == 1 {
		pr.errs.add(fmt.Errorf("message bounced: %s", errorCondition(el)))
	}
	if p.window != nil {
		select {
		case <-p.window:
		default:
		}
	}
}

func seqOf(el []byte, prefix string) (seq, ts int64, ok bool) {
	if id, has := attr(el, "id"); has {
		if seq, ts, ok = parseSeq(id, prefix); ok {
			return seq, ts, ok
		}
	}
	body, has := childText(el, "body")
	if !has {
		return 0, 0, false
	}
	if i := strings.IndexByte(body, ' '); i >= 0 {
		body = body[:i]
	}
	return parseSeq([]byte(body), prefix)
}

// appendMessage appends message seq (with a send time for latency).
func (pr *pairRun) appendMessage(b []byte, p *pair, seq int64, ts time.Duration) []byte {
	b = append(b, "<message type='chat' to='"...)
	b = appendEscaped(b, p.to)
	b = append(b, "' id='"...)
	idStart := len(b)
	b = append(b, p.prefix...)
	b = strconv.AppendInt(b, seq, 10)
	if ts >= 0 {
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(ts), 10)
	}
	id := b[idStart:]
	b = append(b, "'><body>"...)
	b = append(b, id...)
	b = append(b, pr.padding...)
	b = append(b, "</body></message>"...)
	return b
}

// finish stops the senders' effects: it waits up to --drain for the
// messages in flight, then closes every stream.
func (pr *pairRun) finish() {
	timer := time.NewTimer(pr.d.o.drain)
	defer timer.Stop()
wait:
	for _, p := range pr.pairs {
		select {
		case <-p.done:
		case <-timer.C:
			break wait
		}
	}
	pr.closing.Store(true)
	for _, p := range pr.pairs {
		p.tx.Close()
		p.rx.Close()
	}
	pr.readers.Wait()
}

type pairTotals struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Lost     int64 `json:"lost"`
	Dup      int64 `json:"duplicates"`
	Bounced  int64 `json:"bounced"`
	Pairs    int   `json:"pairs"`
	last     time.Duration
}

func (pr *pairRun) totals() pairTotals {
	t := pairTotals{Pairs: len(pr.pairs)}
	for _, p := range pr.pairs {
		t.Sent += p.sent.Load()
		t.Received += p.recv.Load()
		t.Dup += p.dup.Load()
		t.Bounced += p.bounced.Load()
		t.last = max(t.last, time.Duration(p.last.Load()))
	}
	t.Lost = t.Sent - t.Received
	return t
}

var errLost = errors.New("messages lost")

type throughputResult struct {
	result
	pairTotals
	Window int `json:"window"`
}

func (r *throughputResult) line() string {
	return fmt.Sprintf("throughput: %.1f msgs/s (sent=%d, received=%d, lost=%d, dup=%d, bounced=%d, pairs=%d, window=%d, %.1fs)",
		r.Value, r.Sent, r.Received, r.Lost, r.Dup, r.Bounced, r.Pairs, r.Window, r.Seconds)
}

// runThroughput has every sender write as fast as its window allows: a
// sender takes a token per message and its receiver returns it on receipt,
// so at most --window messages per pair are in flight. Whatever tokens are
// free are written as one burst and one flush.
func runThroughput(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	pr, err := setupPairs(ctx, d, 't', false)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	var senders sync.WaitGroup
	start := time.Since(pr.epoch)
	for i, p := range pr.pairs {
		quota := share(o.count, len(pr.pairs), i)
		senders.Go(func() { pr.sendWindowed(runCtx, p, quota) })
	}
	senders.Wait()
	pr.finish()
	t := pr.totals()
	elapsed := t.last - start
	r := &throughputResult{result: o.newResult("msgs/s"), pairTotals: t, Window: o.window}
	r.Value = round1(rate(t.Received, elapsed))
	r.Seconds = round1(elapsed.Seconds())
	r.Error = pr.errs.String()
	if t.Lost > 0 {
		return r, fmt.Errorf("%d of %d %w", t.Lost, t.Sent, errLost)
	}
	return r, nil
}

// share splits total into n parts and returns part i; 0 stays unlimited.
func share(total, n, i int) int64 {
	if total == 0 {
		return 0
	}
	q := total / n
	if i < total%n {
		q++
	}
	if q == 0 {
		return -1 // nothing for this pair
	}
	return int64(q)
}

func (pr *pairRun) sendWindowed(ctx context.Context, p *pair, quota int64) {
	defer func() {
		p.final.Store(p.sent.Load())
		p.checkDone()
	}()
	if quota < 0 {
		return
	}
	const maxBurst = 256
	buf := make([]byte, 0, 64<<10)
	var seq int64
	for {
		select {
		case p.window <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := int64(1)
	more:
		for n < maxBurst {
			select {
			case p.window <- struct{}{}:
				n++
			default:
				break more
			}
		}
		if quota > 0 && seq+n > quota {
			n = quota - seq
		}
		buf = buf[:0]
		for range n {
			buf = pr.appendMessage(buf, p, seq, -1)
			seq++
		}
		if err := p.tx.send(buf); err != nil {
			pr.errs.add(fmt.Errorf("send: %w", err))
			return
		}
		p.sent.Store(seq)
		if quota > 0 && seq >= quota {
			return
		}
	}
}

type latencyResult struct {
	result
	pairTotals
	Rate     float64 `json:"rate"`
	Achieved float64 `json:"achieved_rate"`
	P50      float64 `json:"p50_ms"`
	P90      float64 `json:"p90_ms"`
	P99      float64 `json:"p99_ms"`
	P999     float64 `json:"p999_ms"`
	Max      float64 `json:"max_ms"`
	Mean     float64 `json:"mean_ms"`
	s        summary
}

func (r *latencyResult) line() string {
	return fmt.Sprintf("latency: p50=%s p90=%s p99=%s max=%s (n=%d, lost=%d, rate=%g/s achieved=%.1f/s, pairs=%d, %.1fs)",
		fmtDur(r.s.P50), fmtDur(r.s.P90), fmtDur(r.s.P99), fmtDur(r.s.Max),
		r.s.N, r.Lost, r.Rate, r.Achieved, r.Pairs, r.Seconds)
}

// runLatency sends at a fixed aggregate rate, open loop: each sender keeps
// its own schedule (staggered so the pairs interleave), catches up in a
// burst when it falls behind, and stamps every message with the time it
// leaves. The receiver subtracts; both ends share one monotonic clock.
func runLatency(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	pr, err := setupPairs(ctx, d, 'l', true)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	interval := time.Duration(float64(time.Second) * float64(len(pr.pairs)) / o.rate)
	var senders sync.WaitGroup
	start := time.Since(pr.epoch)
	for i, p := range pr.pairs {
		quota := share(o.count, len(pr.pairs), i)
		offset := interval * time.Duration(i) / time.Duration(len(pr.pairs))
		senders.Go(func() { pr.sendPaced(runCtx, p, quota, start+offset, interval) })
	}
	senders.Wait()
	sendEnd := time.Since(pr.epoch)
	pr.finish()
	t := pr.totals()
	var all samples
	for _, p := range pr.pairs {
		all = append(all, p.lat...)
	}
	s := summarize(all)
	r := &latencyResult{result: o.newResult("ms p99"), pairTotals: t, Rate: o.rate, s: s,
		P50: ms(s.P50), P90: ms(s.P90), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max), Mean: ms(s.Mean)}
	r.Value = r.P99
	r.Seconds = round1((sendEnd - start).Seconds())
	r.Achieved = round1(rate(t.Sent, sendEnd-start))
	r.Error = pr.errs.String()
	if t.Lost > 0 {
		return r, fmt.Errorf("%d of %d %w", t.Lost, t.Sent, errLost)
	}
	return r, nil
}

func (pr *pairRun) sendPaced(ctx context.Context, p *pair, quota int64, first, interval time.Duration) {
	defer func() {
		p.final.Store(p.sent.Load())
		p.checkDone()
	}()
	if quota < 0 {
		return
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	buf := make([]byte, 0, 16<<10)
	var seq int64
	for {
		next := first + time.Duration(seq)*interval
		if wait := next - time.Since(pr.epoch); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		buf = buf[:0]
		now := time.Since(pr.epoch)
		for n := 0; n < 1000 && first+time.Duration(seq)*interval <= now; n++ {
			buf = pr.appendMessage(buf, p, seq, now)
			seq++
			if quota > 0 && seq >= quota {
				break
			}
		}
		if err := p.tx.send(buf); err != nil {
			pr.errs.add(fmt.Errorf("send: %w", err))
			return
		}
		p.sent.Store(seq)
		if quota > 0 && seq >= quota {
			return
		}
	}
}
