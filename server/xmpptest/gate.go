package xmpptest

import (
	"io"
	"sync"
	"time"
)

// Gate is what a test client reads its socket through: at full speed,
// throttled or paused.
type Gate struct {
	r      io.Reader
	mu     sync.Mutex
	cond   sync.Cond
	rate   int // bytes a second; 0: no limit
	paused bool
	since  time.Time
	n      int // bytes read since
}

// NewGate returns a Gate over r, open.
func NewGate(r io.Reader) *Gate {
	g := &Gate{r: r}
	g.cond.L = &g.mu
	return g
}

// Pause stops the reading after any read in progress.
func (g *Gate) Pause() { g.set(0, true) }

// Resume reads at full speed again.
func (g *Gate) Resume() { g.set(0, false) }

// Throttle reads at most rate bytes a second.
func (g *Gate) Throttle(rate int) { g.set(rate, false) }

func (g *Gate) set(rate int, paused bool) {
	g.mu.Lock()
	g.rate, g.paused, g.since, g.n = rate, paused, time.Now(), 0
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Read reads from the underlying reader as the gate allows.
func (g *Gate) Read(p []byte) (int, error) {
	g.mu.Lock()
	for g.paused {
		g.cond.Wait()
	}
	rate := g.rate
	if rate > 0 {
		// Ahead of the rate: wait until the time catches up; read no
		// more than a hundredth of a second's worth at once.
		if ahead := time.Duration(float64(g.n)/float64(rate)*float64(time.Second)) - time.Since(g.since); ahead > 0 {
			g.mu.Unlock()
			time.Sleep(ahead)
			g.mu.Lock()
		}
		if max := max(rate/100, 1); len(p) > max {
			p = p[:max]
		}
	}
	g.mu.Unlock()
	n, err := g.r.Read(p)
	g.mu.Lock()
	g.n += n
	g.mu.Unlock()
	return n, err
}
