package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The offline scenario measures durable stores: sender i (account
// first+2i) writes to the bare JID of account first+2i+1, which has no
// session, so every message goes to offline storage. A message counts as
// stored when the server has answered a ping the sender wrote after it on
// the same stream: a server that acknowledges before the message is
// durable would lose it in a crash. Afterwards each recipient logs in
// (again, while it keeps making progress) until everything acknowledged
// has arrived, which also empties the store for the next run.
type offlineSender struct {
	tx     *Conn
	to     string
	prefix string
	window chan struct{} // one token per message not yet acknowledged

	mu      sync.Mutex
	pending []int64 // the message count before each ping in flight
	acked   atomic.Int64
	bounced atomic.Int64
	last    atomic.Int64 // time of the latest acknowledgement, since the run's epoch
}

type offlineResult struct {
	result
	Acked     int64 `json:"acked"`
	Delivered int64 `json:"delivered"`
	Lost      int64 `json:"lost"`
	Dup       int64 `json:"duplicates"`
	Bounced   int64 `json:"bounced"`
	Logins    int   `json:"logins"` // the most logins one recipient needed
	Pairs     int   `json:"pairs"`
	Window    int   `json:"window"`
}

func (r *offlineResult) line() string {
	return fmt.Sprintf("offline: %.1f stored msgs/s (acked=%d incl. bounced, delivered=%d, lost=%d, dup=%d, bounced=%d, logins=%d, pairs=%d, window=%d, %.1fs)",
		r.Value, r.Acked, r.Delivered, r.Lost, r.Dup, r.Bounced, r.Logins, r.Pairs, r.Window, r.Seconds)
}

// runOffline sends to offline accounts for --duration (or --count), then
// delivers what was stored.
func runOffline(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	run := runID()
	conns, failed, first := loginMany(ctx, d, o.pairs, o.conc, func(i int) (int, string) {
		return o.first + 2*i, o.resource + "-tx" + run
	})
	if failed > 0 {
		closeAll(conns)
		return nil, fmt.Errorf("%d of %d logins failed: %s", failed, o.pairs, first)
	}
	epoch := time.Now()
	senders := make([]*offlineSender, o.pairs)
	var readers sync.WaitGroup
	var closing atomic.Bool
	var errs firstErr
	padding := ""
	if n := o.bodySize - 20; n > 0 {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'x'
		}
		padding = " " + string(b)
	}
	for i := range senders {
		s := &offlineSender{tx: conns[i], to: d.bare(o.first + 2*i + 1),
			prefix: "o" + run + "-" + strconv.Itoa(i) + "-", window: make(chan struct{}, o.window)}
		senders[i] = s
		readers.Go(func() {
			err := s.tx.serve(func(el []byte) { s.handle(el, epoch) })
			if !closing.Load() {
				errs.add(fmt.Errorf("connection %s lost: %w", s.tx.JID, err))
			}
		})
	}
	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i, s := range senders {
		quota := share(o.count, len(senders), i)
		wg.Go(func() {
			if err := s.send(runCtx, quota, o.window, padding); err != nil {
				errs.add(err)
			}
		})
	}
	wg.Wait()
	sent := time.Since(epoch)
	// Wait for the acknowledgements still in flight.
	deadline := time.Now().Add(o.drain)
	for _, s := range senders {
		for s.outstanding() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	closing.Store(true)
	closeAll(conns)
	readers.Wait()

	r := &offlineResult{result: o.newResult("msgs/s"), Pairs: o.pairs, Window: o.window}
	var last time.Duration
	for _, s := range senders {
		r.Acked += s.acked.Load()
		r.Bounced += s.bounced.Load()
		last = max(last, time.Duration(s.last.Load()))
	}
	if last == 0 {
		last = sent
	}
	// Refused messages are answered too; only the stored ones count.
	r.Value = round1(rate(r.Acked-r.Bounced, last))
	r.Seconds = round1(last.Seconds())

	// Delivery: every recipient logs in until it has everything its
	// sender had acknowledged, or a login brings nothing new.
	var mu sync.Mutex
	var dwg sync.WaitGroup
	for i, s := range senders {
		dwg.Go(func() {
			got, dup, logins, err := d.collect(ctx, o.first+2*i+1, s.prefix, s.acked.Load()-s.bounced.Load(), run)
			mu.Lock()
			defer mu.Unlock()
			r.Delivered += got
			r.Dup += dup
			r.Logins = max(r.Logins, logins)
			if err != nil {
				errs.add(err)
			}
		})
	}
	dwg.Wait()
	r.Lost = max(0, r.Acked-r.Bounced-r.Delivered)
	r.Error = errs.String()
	if r.Lost > 0 {
		return r, fmt.Errorf("%d of %d stored %w", r.Lost, r.Acked-r.Bounced, errLost)
	}
	if r.Dup > 0 {
		return r, fmt.Errorf("%d messages delivered twice", r.Dup)
	}
	return r, nil
}

// send writes messages as the window allows, each burst followed by a
// ping whose answer acknowledges it.
func (s *offlineSender) send(ctx context.Context, quota int64, window int, padding string) error {
	burst := max(1, window/4)
	buf := make([]byte, 0, 64<<10)
	var seq int64
	for quota <= 0 || seq < quota {
		n := 0
		for n < burst && (quota <= 0 || seq+int64(n) < quota) {
			select {
			case s.window <- struct{}{}:
				n++
			case <-ctx.Done():
				if n == 0 {
					return nil
				}
			}
			if ctx.Err() != nil {
				break
			}
		}
		buf = buf[:0]
		for range n {
			buf = append(buf, "<message type='chat' to='"...)
			buf = appendEscaped(buf, s.to)
			buf = append(buf, "' id='"...)
			buf = append(buf, s.prefix...)
			buf = strconv.AppendInt(buf, seq, 10)
			buf = append(buf, "'><body>"...)
			buf = append(buf, s.prefix...)
			buf = strconv.AppendInt(buf, seq, 10)
			buf = append(buf, padding...)
			buf = append(buf, "</body></message>"...)
			seq++
		}
		buf = append(buf, "<iq type='get' id='a"...)
		buf = strconv.AppendInt(buf, seq, 10)
		buf = append(buf, "'><ping xmlns='urn:xmpp:ping'/></iq>"...)
		s.mu.Lock()
		s.pending = append(s.pending, seq)
		s.mu.Unlock()
		if err := s.tx.send(buf); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// handle takes the sender's answers: a ping result acknowledges every
// message written before it; an error is a message refused.
func (s *offlineSender) handle(el []byte, epoch time.Time) {
	switch string(tagName(el)) {
	case "iq":
		id := attrString(el, "id")
		if len(id) < 2 || id[0] != 'a' {
			return
		}
		n, err := strconv.ParseInt(id[1:], 10, 64)
		if err != nil {
			return
		}
		s.mu.Lock()
		if len(s.pending) > 0 && s.pending[0] == n {
			s.pending = s.pending[1:]
		}
		s.mu.Unlock()
		prev := s.acked.Swap(n)
		for range n - prev {
			<-s.window
		}
		s.last.Store(int64(time.Since(epoch)))
	case "message":
		if attrString(el, "type") == "error" {
			s.bounced.Add(1)
			// The ping after it releases its token.
		}
	}
}

func (s *offlineSender) outstanding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

// collect logs in as account i until every one of the want messages
// carrying prefix has arrived, or a login brings nothing new; it returns
// the distinct messages, the duplicates and the logins it took.
func (d *dialer) collect(ctx context.Context, i int, prefix string, want int64, run string) (got, dup int64, logins int, err error) {
	var seen bitset
	for got < want {
		c, err := d.login(ctx, i, d.o.resource+"-rx"+run+"-"+strconv.Itoa(logins))
		if err != nil {
			return got, dup, logins, err
		}
		logins++
		before := got
		done := make(chan struct{})
		var quiet atomic.Int64
		quiet.Store(time.Now().UnixNano())
		go func() {
			defer close(done)
			c.serve(func(el []byte) {
				quiet.Store(time.Now().UnixNano())
				if string(tagName(el)) != "message" {
					return
				}
				seq, _, ok := seqOf(el, prefix)
				if !ok {
					return
				}
				if seen.add(seq) {
					atomic.AddInt64(&got, 1)
				} else {
					atomic.AddInt64(&dup, 1)
				}
			})
		}()
		if err := c.send([]byte("<presence/>")); err != nil {
			c.Close()
			<-done
			return got, dup, logins, err
		}
		// Until everything came, the stream ended or it went quiet.
		for atomic.LoadInt64(&got) < want {
			select {
			case <-done:
			case <-time.After(50 * time.Millisecond):
				if time.Since(time.Unix(0, quiet.Load())) < 2*time.Second {
					continue
				}
			}
			break
		}
		c.Close()
		<-done
		if got == before {
			break
		}
	}
	return got, dup, logins, nil
}
