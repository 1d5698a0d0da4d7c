package gui

import "sync"

// handoff carries items from a goroutine that follows the server (a
// console watch, the log) to the UI goroutine, in batches: one take at a
// time is queued on the UI goroutine, and when more than max items wait
// the oldest are cut and counted, with what each had lost already. The
// UI goroutine is behind then, and would scroll them away unseen anyway.
type handoff[T any] struct {
	max     int
	dropped func(T) int // what an item says was lost before it

	mu      sync.Mutex
	pending []T
	cut     int
	posted  bool
}

// add queues items and reports whether the caller must queue a take on
// the UI goroutine (none is queued yet).
func (h *handoff[T]) add(items ...T) (post bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, items...)
	if n := len(h.pending) - h.max; n > 0 {
		for _, it := range h.pending[:n] {
			h.cut += 1 + h.dropped(it)
		}
		h.pending = append(h.pending[:0], h.pending[n:]...)
	}
	post = !h.posted
	h.posted = true
	return post
}

// take returns what waits and how many were cut before it.
func (h *handoff[T]) take() ([]T, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	items, cut := h.pending, h.cut
	h.pending, h.cut, h.posted = nil, 0, false
	return items, cut
}

// waiting is how many items wait (tests).
func (h *handoff[T]) waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pending)
}
