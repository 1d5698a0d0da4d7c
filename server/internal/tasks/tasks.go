// Package tasks runs the work a module starts on its own goroutines while
// the server serves (push notifications, caps queries) and ends it when the
// server stops: Close cancels what runs, refuses what would start, and
// waits.
package tasks

import (
	"context"
	"sync"
)

// Group is a module's background work.
type Group struct {
	life context.Context
	end  context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// New returns an empty group.
func New() *Group {
	g := &Group{}
	g.life, g.end = context.WithCancel(context.Background())
	return g
}

// Go runs f on its own goroutine with a context Close cancels; false,
// without running it, once the group is closed.
func (g *Group) Go(f func(ctx context.Context)) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f(g.life)
	}()
	return true
}

// Closed reports whether Close was called (the work under way was
// cancelled, not failed).
func (g *Group) Closed() bool { return g.life.Err() != nil }

// Close cancels the work under way, refuses new work and waits for what
// runs to return.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.end()
	g.wg.Wait()
}
