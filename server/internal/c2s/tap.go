package c2s

import (
	"context"
	"sync"
	"sync/atomic"

	"hearth/server/internal/console"
	"hearth/server/internal/jid"
	"hearth/server/internal/stream"
)

// tap is where the XML console attaches to one bound stream. Nobody
// watching costs an atomic load per read, per element read and per write;
// the bytes are shown only once a watch is attached.
//
// The console must see each direction from an element boundary, so that
// it never shows the middle of an element out of context (a password
// whose <password> tag went by before the watch began). Writes always
// begin at one (a burst of whole elements). Reads are aligned by the
// reader: after each element it reads, the bytes the decoder holds begin
// the next one, and when it holds none the next read does.
type tap struct {
	w atomic.Pointer[console.Watch]

	mu    sync.Mutex // attach and end
	ended bool

	// The reader goroutine's own.
	inFor  *console.Watch // the watch whose incoming side is aligned
	clean  bool           // the next read begins an element
	broken bool           // the decoder failed: no boundary is known any more
}

// read shows what the reader read (p is reused after it returns).
func (t *tap) read(p []byte) {
	if t.broken {
		return
	}
	clean := t.clean
	t.clean = false
	w := t.w.Load()
	if w == nil {
		return
	}
	if w != t.inFor {
		if !clean {
			return // mid-element: wait for a boundary
		}
		t.inFor = w
	}
	w.Write(false, p)
}

// boundary is called by the reader after each element it decoded, with
// the decoder, which holds the bytes after it.
func (t *tap) boundary(d *stream.Decoder) {
	if t.broken {
		return
	}
	w := t.w.Load()
	if w == nil {
		t.clean = d.Buffered() == 0
		return
	}
	rest := d.Unread()
	t.clean = len(rest) == 0
	if w != t.inFor {
		t.inFor = w
		if len(rest) > 0 {
			w.Write(false, rest)
		}
	}
}

// reset readies the tap for the reader of a new transport (a resumed
// session, XEP-0198): its first read begins an element.
func (t *tap) reset() {
	t.inFor, t.clean, t.broken = nil, true, false
}

// failed is called by the reader when the decoder returned an error: it
// stopped somewhere inside an element (a character XML forbids, a limit),
// and the bytes after that point may be the middle of a secret. Nothing
// more the client sends on this stream is shown.
func (t *tap) failed() {
	t.broken, t.clean = true, false
}

// wrote shows what the writer wrote.
func (t *tap) wrote(p []byte) {
	if w := t.w.Load(); w != nil {
		w.Write(true, p)
	}
}

// attach makes w the stream's watch, ending the one before; false if the
// stream has ended.
func (t *tap) attach(w *console.Watch) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return false
	}
	if old := t.w.Swap(w); old != nil {
		old.End()
	}
	return true
}

// detach ends w if it is still the stream's watch.
func (t *tap) detach(w *console.Watch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w.CompareAndSwap(w, nil) {
		w.End()
	}
}

// end ends the watch of a stream that ended, and any later attach.
func (t *tap) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
	if old := t.w.Swap(nil); old != nil {
		old.End()
	}
}

// Watch shows the bound stream of full (a full JID) to the XML console
// from its next element on, in both directions, redacted, until ctx is
// done or the stream ends; the channel is closed then. A stream has one
// watch at a time: a new one ends the one before. Negotiation (and with it
// SASL) is never shown: a stream is watched only once it is bound. False
// when there is no such stream.
func (s *Server) Watch(ctx context.Context, full jid.JID) (<-chan console.Frame, bool) {
	sess := s.router.Session(full)
	if sess == nil {
		return nil, false
	}
	o, ok := sess.Conn.(*out)
	if !ok || o.tap == nil {
		return nil, false
	}
	w := console.New()
	if !o.tap.attach(w) {
		return nil, false
	}
	context.AfterFunc(ctx, func() { o.tap.detach(w) })
	return w.C(), true
}
