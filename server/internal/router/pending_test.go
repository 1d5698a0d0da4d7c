package router

import (
	"context"
	"testing"
	"time"

	"hearth/server/internal/stanza"
)

type testDurable chan struct{}

func (d testDurable) Done() <-chan struct{} { return d }
func (testDurable) Failed() *stanza.Error   { return nil }

// TestPendingOrder checks that a Pending takes its writes in order while
// writes keep coming, reusing its array, and that Settle waits for all.
func TestPendingOrder(t *testing.T) {
	p := (&Router{}).NewPending(context.Background())
	st := &stanza.Stanza{El: stanza.New("message", stanza.NSClient), Kind: stanza.KindMessage}
	var open []testDurable
	under := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.len()
	}
	for round := range 6 {
		for range 500 {
			d := make(testDurable)
			open = append(open, d)
			p.add(d, st)
		}
		// The 400 oldest end; the rest stay under way.
		for _, d := range open[:400] {
			close(d)
		}
		open = open[400:]
		deadline := time.Now().Add(10 * time.Second)
		for under() != len(open) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d writes under way, want %d", round, under(), len(open))
			}
			time.Sleep(time.Millisecond)
		}
		p.mu.Lock()
		for i, it := range p.items[p.head:] {
			if it.d != open[i] {
				p.mu.Unlock()
				t.Fatalf("round %d: write %d out of order", round, i)
			}
		}
		if cap(p.items) > 2*maxPending {
			t.Errorf("round %d: the array grew to %d", round, cap(p.items))
		}
		p.mu.Unlock()
	}
	for _, d := range open {
		close(d)
	}
	p.Settle()
	if n := under(); n != 0 {
		t.Errorf("%d writes under way after Settle", n)
	}
}
