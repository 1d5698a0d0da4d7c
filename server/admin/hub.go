package admin

import (
	"context"
	"sync"
)

// hubBuffer is how many events a subscriber may fall behind before it
// loses events.
const hubBuffer = 64

// Hub fans live events out to subscribers. Publish never blocks: a
// subscriber whose buffer is full misses the event. The zero value is an
// empty hub; a nil *Hub ignores Publish.
type Hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

// NewHub returns a hub with no subscribers.
func NewHub() *Hub {
	return &Hub{subs: make(map[chan Event]struct{})}
}

// Publish sends ev to every subscriber that has room for it.
func (h *Hub) Publish(ev Event) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Subscribe returns a channel of the events published from now until ctx
// is done; it is closed then.
func (h *Hub) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, hubBuffer)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[chan Event]struct{})
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, func() {
		// Under the lock, so that no Publish sends on the closed channel.
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
	})
	return ch
}
