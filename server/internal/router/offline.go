package router

import (
	"context"
	"sync"

	"hearth/server/internal/stanza"
)

// OfflineStore keeps messages for accounts with no available session
// (XEP-0160). A module registers it on the Mux.
type OfflineStore interface {
	// Store takes st for user's offline storage. It refuses with the
	// error for the sender (the store is full, there is no such account),
	// or returns the durable write under way; nil, nil: st is not worth
	// keeping (chat states alone) and is dropped.
	Store(ctx context.Context, user string, st *stanza.Stanza) (Durable, *stanza.Error)
	// Restore stores a message that was accepted for user's sessions and
	// that none of them wrote, past the quota (its sender was answered);
	// it does not wait for the write, and a write that fails goes back to
	// the sender as an error.
	Restore(ctx context.Context, user string, st *stanza.Stanza)
}

// Archiver keeps the message archives of local accounts (XEP-0313) and
// gives the messages it archives their ids (XEP-0359 stanza-id). A module
// registers it on the Mux.
type Archiver interface {
	// Archive is called once per message: when the router is about to
	// deliver it to a local account's sessions or store it for the
	// account (toLocal; it archives the message for the recipient, and
	// for the sender if that is a local account too), and when a local
	// account's message went to another domain or a local host (not
	// toLocal: the sender's archive). It returns the message as it goes
	// on (with the recipient's stanza-id, without stanza-ids forged in
	// the name of this server's accounts) and the archive write under
	// way, or nil. The write joins the sender's Pending like an offline
	// store, so nothing the sender sends after the message is answered
	// before the message is in its archives.
	Archive(ctx context.Context, st *stanza.Stanza, toLocal bool) (*stanza.Stanza, Durable)
}

// Durable is a write under way in storage's group commit.
type Durable interface {
	// Done is closed once the write is durable or failed.
	Done() <-chan struct{}
	// Failed is, once Done is closed, nil if the write is durable and
	// otherwise the error for the sender.
	Failed() *stanza.Error
}

// Pending lets one sender go on while its stored messages become durable
// together with everyone else's (group commit), without acknowledging any
// of them early: a client counts a message as safe once the server has
// answered something it sent after it, so the reader that owns a Pending
// calls Settle before it routes anything but a message. A stored message
// that then fails goes back to its sender as an error, before that answer.
//
// The c2s reader gives its Pending to the router in the context of what it
// routes (WithPending); stores made without one wait for their own write.
type Pending struct {
	r   *Router
	ctx context.Context // for the errors; not cancelled by shutdown

	mu   sync.Mutex
	cond sync.Cond
	// items[head:] are the writes under way, in order; the array is
	// reused, not left behind as they end (one write per message).
	items    []pendingItem
	head     int
	bytes    int
	watching bool
}

type pendingItem struct {
	d    Durable
	st   *stanza.Stanza
	size int
}

// Bounds of a Pending: past them the sender waits, so that a fast sender
// holds a bounded number of stanzas in memory.
const (
	maxPending      = 1024
	maxPendingBytes = 4 << 20
)

// NewPending returns an empty Pending for one sender; ctx is what the
// errors of failed writes are routed with.
func (r *Router) NewPending(ctx context.Context) *Pending {
	p := &Pending{r: r, ctx: context.WithoutCancel(ctx)}
	p.cond.L = &p.mu
	return p
}

type pendingKey struct{}

// WithPending returns ctx carrying p: messages routed with it that go to
// offline storage join p instead of waiting for their write.
func WithPending(ctx context.Context, p *Pending) context.Context {
	return context.WithValue(ctx, pendingKey{}, p)
}

func pendingFrom(ctx context.Context) *Pending {
	p, _ := ctx.Value(pendingKey{}).(*Pending)
	return p
}

// add takes a write under way; it waits while p is full.
func (p *Pending) add(d Durable, st *stanza.Stanza) {
	size := st.El.Footprint()
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.len() > 0 && (p.len() >= maxPending || p.bytes+size > maxPendingBytes) {
		p.cond.Wait()
	}
	if p.head > 0 && len(p.items) == cap(p.items) {
		// Full at the end: the writes under way move to the front.
		n := copy(p.items, p.items[p.head:])
		clear(p.items[n:])
		p.items, p.head = p.items[:n], 0
	}
	p.items = append(p.items, pendingItem{d: d, st: st, size: size})
	p.bytes += size
	if !p.watching {
		p.watching = true
		go p.watch()
	}
}

// watch takes the writes in order as they end and bounces the failed
// ones; it runs while p holds any.
func (p *Pending) watch() {
	for {
		p.mu.Lock()
		if p.len() == 0 {
			p.watching = false
			p.items, p.head = p.items[:0], 0
			if cap(p.items) > maxPending {
				p.items = nil
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
		it := p.items[p.head]
		p.mu.Unlock()
		<-it.d.Done()
		if e := it.d.Failed(); e != nil {
			p.r.Bounce(p.ctx, it.st, e)
		}
		p.mu.Lock()
		p.items[p.head] = pendingItem{}
		p.head++
		p.bytes -= it.size
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// Settle waits until every write in p is durable or failed and its error
// was routed to the sender.
func (p *Pending) Settle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.len() > 0 {
		p.cond.Wait()
	}
}

// len is how many writes are under way (p.mu held).
func (p *Pending) len() int { return len(p.items) - p.head }

// fanOut delivers a chat or normal message to several sessions of one
// account, each copy tracked: if none of them writes its copy (they all
// close first), the message is stored once; if one does, the account has
// it, and the unwritten copies are not stored (they would arrive twice).
// It returns the sessions that queued it.
func (r *Router) fanOut(ctx context.Context, st *stanza.Stanza, targets []*Session) []*Session {
	f := &fanout{r: r, ctx: context.WithoutCancel(ctx), st: st, pending: len(targets) + 1}
	var queued []*Session
	for _, s := range targets {
		if r.DeliverTracked(ctx, s, st.El, f.done) {
			queued = append(queued, s)
		} else {
			f.done(false)
		}
	}
	// The router's own hold: nothing is decided before every copy was
	// offered; none queued means the caller stores it.
	f.release(len(queued) == 0)
	return queued
}

// fanout follows the copies of one message.
type fanout struct {
	r   *Router
	ctx context.Context
	st  *stanza.Stanza

	mu        sync.Mutex
	pending   int  // copies not yet written or failed, plus the router's hold
	written   bool // some session wrote its copy
	abandoned bool // no copy was queued: the caller stores the message
}

func (f *fanout) done(written bool) {
	f.mu.Lock()
	f.written = f.written || written
	f.mu.Unlock()
	f.release(false)
}

func (f *fanout) release(abandon bool) {
	f.mu.Lock()
	f.abandoned = f.abandoned || abandon
	f.pending--
	restore := f.pending == 0 && !f.written && !f.abandoned
	f.mu.Unlock()
	if restore {
		f.r.mux.offline.Restore(f.ctx, f.st.To.Local, f.st)
	}
}

// archive passes a message to a local account through the archiver, once
// (archived: it did already).
func (r *Router) archive(ctx context.Context, st *stanza.Stanza, archived bool) (*stanza.Stanza, Durable) {
	if r.mux.archiver == nil || archived {
		return st, nil
	}
	return r.mux.archiver.Archive(ctx, st, true)
}

// keep joins an archive write to the sender's Pending, or waits for it
// and bounces st if it failed.
func (r *Router) keep(ctx context.Context, d Durable, st *stanza.Stanza) {
	if d == nil {
		return
	}
	if p := pendingFrom(ctx); p != nil {
		p.add(d, st)
		return
	}
	<-d.Done()
	if e := d.Failed(); e != nil {
		r.Bounce(ctx, st, e)
	}
}

// store hands st to the offline store and reports what became of it:
// stored once durable, or joined to the sender's Pending.
func (r *Router) store(ctx context.Context, user string, st *stanza.Stanza) Outcome {
	d, e := r.mux.offline.Store(ctx, user, st)
	switch {
	case e != nil:
		return r.refuse(ctx, st, e)
	case d == nil:
		return Outcome{}
	}
	if p := pendingFrom(ctx); p != nil {
		p.add(d, st)
		return Outcome{Stored: true}
	}
	<-d.Done()
	if e := d.Failed(); e != nil {
		return r.refuse(ctx, st, e)
	}
	return Outcome{Stored: true}
}
