package offline

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// flush delivers one account's backlog to one session, a page at a time.
type flush struct {
	s    *Store
	a    *account
	user string
	sess *router.Session
	ctx  context.Context

	mu          sync.Mutex
	drained     sync.Cond // outstanding dropped to 0
	outstanding int       // handed to the session, not yet written or failed
	failed      bool      // the session did not write one
}

func (f *flush) run() {
	defer f.s.flushers.Done()
	var after int64 // the newest message handed to the session (or skipped)
	for {
		page, err := f.read(after)
		switch {
		case errors.Is(err, errClosing):
			f.handOver()
			return
		case err != nil:
			f.s.log.Error("offline messages not delivered: they could not be read", "user", f.user, "err", err)
			f.handOver()
			return
		case len(page) == 0:
			if f.stop() {
				return
			}
			continue // more came meanwhile
		}
		last, ok := f.deliver(page)
		after = max(after, last)
		if !f.wait() {
			// The session lost its connection and waits to be resumed
			// (XEP-0198): what it holds stays its own until it answers or
			// ends, and the rest of the backlog goes to another session.
			f.handOver()
			return
		}
		if !ok || f.failedNow() {
			// The session is closing: what it did not write stays
			// stored, for another session or the next login.
			f.handOver()
			return
		}
	}
}

// read returns the next page after the message after: as many messages as
// the session's queue has room for, at most a page, without those written
// already.
func (f *flush) read(after int64) ([]storage.Offline, error) {
	for {
		n, bytes := f.sess.Conn.Room()
		if n <= 0 {
			return nil, errClosing
		}
		// Half the room, so that what else comes for the session (a
		// presence burst at login) fits beside the page.
		n, bytes = min(f.s.page, max(1, n/2)), min(f.s.bytes, bytes/2)
		if bytes <= 0 {
			// The queue is full of other traffic: let it drain.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// What was delivered and not yet deleted, as it was before the
		// page is read: a delete that commits meanwhile took its rows out
		// of the page's snapshot, or they are in this copy.
		f.s.mu.Lock()
		skip := maps.Clone(f.a.delivered)
		f.s.mu.Unlock()
		// Stored XML is smaller than its tree; read a quarter of the
		// bytes, and deliver checks the trees' sizes.
		page, err := f.s.db.OfflinePage(f.ctx, f.user, after, n, max(bytes/4, 1))
		if err != nil {
			return nil, err
		}
		f.s.mu.Lock()
		out := page[:0]
		for _, m := range page {
			if !skip[m.ID] && !f.a.delivered[m.ID] && !f.a.inflight[m.ID] {
				out = append(out, m)
			}
		}
		f.s.mu.Unlock()
		if len(out) == 0 && len(page) > 0 {
			after = page[len(page)-1].ID
			continue
		}
		return out, nil
	}
}

// deliver hands a page to the session, each stanza tracked, as long as the
// trees fit in half the queue's room; it returns the newest message handed
// over (or skipped as unreadable) and false if the session refused one.
func (f *flush) deliver(page []storage.Offline) (last int64, ok bool) {
	_, room := f.sess.Conn.Room()
	budget := room / 2
	for i, m := range page {
		el, err := stream.Unmarshal(m.Stanza)
		if err != nil {
			// Unreadable: left stored for whoever looks into it, and
			// skipped rather than failed on at every login.
			f.s.log.Error("an offline message could not be read; it stays stored and is skipped", "user", f.user, "id", m.ID, "err", err)
			last = m.ID
			continue
		}
		size := el.Footprint()
		if i > 0 && size > budget {
			break
		}
		if i == 0 && size > room && !f.roomFor(size) {
			return last, false
		}
		budget -= size
		el.SetAttr("to", f.sess.JID.String())
		id := m.ID
		f.mu.Lock()
		f.outstanding++
		f.mu.Unlock()
		f.s.mu.Lock()
		if f.a.inflight == nil {
			f.a.inflight = make(map[int64]bool)
		}
		f.a.inflight[id] = true
		f.s.mu.Unlock()
		if !f.s.r.DeliverTracked(f.ctx, f.sess, el, func(written bool) { f.result(id, written) }) {
			f.s.mu.Lock()
			delete(f.a.inflight, id)
			f.s.mu.Unlock()
			f.mu.Lock()
			f.outstanding--
			f.drained.Broadcast()
			f.mu.Unlock()
			return last, false
		}
		last = id
	}
	return last, true
}

// roomFor waits, up to a second, until the queue has room for a stanza of
// size bytes; it reports false if the session closed meanwhile. After the
// second the stanza goes anyway: it may be larger than the queue can ever
// take, and it must not hold up the backlog behind it forever.
func (f *flush) roomFor(size int) bool {
	for range 100 {
		n, room := f.sess.Conn.Room()
		if n <= 0 {
			return false
		}
		if size <= room {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// result is the session writer's word on one message handed to it. A
// written one is deleted at once (the delete joins the next group commit),
// and until the delete commits it is remembered as delivered, so that no
// other delivery sends it again.
func (f *flush) result(id int64, written bool) {
	f.s.mu.Lock()
	delete(f.a.inflight, id)
	handedOver := f.a.flush != f // the delivery went on without this session
	if written {
		f.a.count--
		if f.a.delivered == nil {
			f.a.delivered = make(map[int64]bool)
		}
		f.a.delivered[id] = true
	}
	f.s.mu.Unlock()
	if written {
		f.s.delete(f.user, f.a, []int64{id})
	} else if handedOver {
		// A held session ended without it: it is still stored, and
		// another session takes it now, not at the next login.
		f.s.stored(f.user)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !written {
		f.failed = true
	}
	f.outstanding--
	if f.outstanding <= 0 {
		f.drained.Broadcast()
	}
}

// wait waits until everything handed to the session was written or
// failed; a client that does not read is cut off by the write timeout. It
// returns false, without waiting longer, when the session is held for
// resumption (XEP-0198), whose answers may take as long as the hold, and
// another session of the account can take the rest of the backlog.
func (f *flush) wait() bool {
	h, resumable := f.sess.Conn.(interface{ Held() bool })
	if resumable {
		// Look at the session now and then while waiting.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t := time.NewTicker(heldCheck)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					f.mu.Lock()
					f.drained.Broadcast()
					f.mu.Unlock()
				case <-stop:
					return
				}
			}
		}()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.outstanding > 0 {
		if resumable && h.Held() && f.elsewhere() {
			return false
		}
		f.drained.Wait()
	}
	return true
}

// elsewhere reports whether a session other than the delivery's takes
// offline messages now.
func (f *flush) elsewhere() bool {
	f.s.mu.Lock()
	next := f.a.next
	f.s.mu.Unlock()
	if next != nil && next != f.sess && takes(next) {
		return true
	}
	return f.s.available(f.user, f.sess) != nil
}

// heldCheck is how often a delivery waiting for a session's answers looks
// whether the session is held for resumption.
const heldCheck = 250 * time.Millisecond

func (f *flush) failedNow() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// delete queues the delete of delivered messages; on success they are
// forgotten, on failure retried later.
func (s *Store) delete(user string, a *account, ids []int64) {
	s.db.QueueDeleteOffline(user, ids, func(_ int64, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err == nil {
			for _, id := range ids {
				delete(a.delivered, id)
			}
			return
		}
		if a.gone || s.closed || a.retrying {
			return
		}
		s.log.Error("delivered offline messages not deleted; retrying (they will not be delivered again meanwhile)",
			"user", user, "messages", len(a.delivered), "err", err)
		a.retrying = true
		time.AfterFunc(s.retry, func() {
			s.mu.Lock()
			a.retrying = false
			var ids []int64
			if !a.gone && !s.closed {
				ids = keys(a.delivered)
			}
			s.mu.Unlock()
			if len(ids) > 0 {
				s.delete(user, a, ids)
			}
		})
	})
}

// stop ends a delivery that found nothing more, unless more messages were
// committed since it read; it reports whether it ended.
func (f *flush) stop() bool {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if f.a.more {
		f.a.more = false
		return false
	}
	f.a.flush, f.a.next = nil, nil
	return true
}

// handOver ends a delivery whose session is closing: a session that asked
// meanwhile, or another available one, takes over what is left.
func (f *flush) handOver() {
	f.s.mu.Lock()
	next := f.a.next
	f.a.flush, f.a.next, f.a.more = nil, nil, false
	f.s.mu.Unlock()
	if next == nil || !takes(next) {
		next = f.s.available(f.user, f.sess)
	}
	if next != nil {
		f.s.Flush(f.ctx, next)
	}
}
