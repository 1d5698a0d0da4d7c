// Package offline implements XEP-0160: Best Practices for Handling Offline
// Messages. A message for an account with no available session is stored
// in SQLite, stamped with XEP-0203 delay, and its sender acknowledged only
// once it is durable; it is delivered when the account next sends
// available presence.
//
// Nothing acknowledged is lost, and nothing is delivered twice while the
// server runs:
//   - stores from all senders are committed together (storage's group
//     commit), each sender waiting for its batch, not for one sync each;
//   - a backlog is delivered in pages no larger than the session's queue
//     takes, the next page read as the writer drains the last one, so
//     that a backlog of any size arrives in one login and costs memory
//     for one page;
//   - a stored message is deleted once it was written to the client's
//     transport (handed to the kernel whole); one the stream could not
//     write stays stored;
//   - a message written whose delete failed (a full disk, a lock held by
//     another program) is remembered, not delivered again, and its delete
//     retried; only a crash before the delete commits delivers it again;
//   - messages a session accepted but could not write (the client stopped
//     reading, the server is stopping) come back here, past the quota:
//     the quota refuses new messages, with an error to their sender.
package offline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// NSChatStates is XEP-0085; messages carrying only chat states are not kept.
const NSChatStates = "http://jabber.org/protocol/chatstates"

// Deps are what the store needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router // delivers, and tells who is available
	Domain string         // stamps delays (XEP-0203) in the server's name
	// Max is the per-account quota (0: DefaultMax); SetMax changes it live.
	Max int
	// Page bounds one page of a backlog (0: DefaultPage, DefaultPageBytes);
	// the session's queue may bound it further.
	Page, PageBytes int
	// Retry is how long a failed delete waits before it is tried again
	// (0: DefaultRetry).
	Retry time.Duration
	Log   *slog.Logger
}

// Defaults of Deps.
const (
	DefaultMax       = 1000
	DefaultPage      = 256
	DefaultPageBytes = 1 << 20 // of stored XML
	DefaultRetry     = 5 * time.Second
)

// Store keeps offline messages. It registers on the Mux as the router's
// offline store; the presence module calls Flush when an account becomes
// available.
type Store struct {
	db     *storage.DB
	r      *router.Router
	domain string
	log    *slog.Logger
	page   int
	bytes  int
	retry  time.Duration

	mu       sync.Mutex
	max      int
	loaded   bool
	accounts map[string]*account
	closed   bool
	flushers sync.WaitGroup // deliveries under way
	bounces  sync.WaitGroup // errors for re-stores that failed
}

// account is what the store knows of one account's messages.
type account struct {
	// count is how many messages are stored or being stored and not yet
	// delivered: the quota's measure, kept here so that a store need not
	// count rows.
	count int
	// flush is the delivery under way, or nil; more says a message was
	// committed while it ran, so it must read again before it stops;
	// next is a session that asked for a delivery meanwhile, which takes
	// over if the one under way ends with its session.
	flush *flush
	more  bool
	next  *router.Session
	// delivered are messages written to a client whose delete has not
	// committed: never delivered again, their delete retried.
	delivered map[int64]bool
	// inflight are messages handed to a session whose word (written, or
	// with stream management acknowledged, or failed) has not come: no
	// other delivery sends them meanwhile. A delivery whose session is
	// held for resumption hands the rest of the backlog over while they
	// wait.
	inflight map[int64]bool
	retrying bool
	gone     bool // the account was deleted
}

// New returns the offline store.
func New(d Deps) *Store {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: d.DB, r: d.Router, domain: d.Domain, log: d.Log, page: d.Page, bytes: d.PageBytes,
		retry: d.Retry, accounts: make(map[string]*account)}
	if s.page <= 0 {
		s.page = DefaultPage
	}
	if s.bytes <= 0 {
		s.bytes = DefaultPageBytes
	}
	if s.retry <= 0 {
		s.retry = DefaultRetry
	}
	s.SetMax(d.Max)
	return s
}

// Register makes s the router's offline store.
func (s *Store) Register(m *router.Mux) { m.Offline(s) }

// SetMax sets the per-account quota for messages stored from now on
// (0: DefaultMax).
func (s *Store) SetMax(n int) {
	if n <= 0 {
		n = DefaultMax
	}
	s.mu.Lock()
	s.max = n
	s.mu.Unlock()
}

// Recount reads again how many messages the account has stored, after
// they were written without the store (an import, XEP-0227), so that the
// quota counts them.
func (s *Store) Recount(ctx context.Context, user string) error {
	n, err := s.db.CountOffline(ctx, user)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loaded {
		s.acct(user).count = n
	}
	return nil
}

// Features returns the disco features of this module.
func (s *Store) Features() router.Features {
	return router.Features{Server: []string{stanza.NSOffline}}
}

// load reads how many messages every account has, once, before anything
// counts; every way in (Store, Restore, Flush) calls it. s.mu is held.
func (s *Store) load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	counts, err := s.db.OfflineCounts(ctx)
	if err != nil {
		return err
	}
	for user, n := range counts {
		s.acct(user).count = n
	}
	s.loaded = true
	return nil
}

// acct returns the account's record, made on first use; s.mu is held.
func (s *Store) acct(user string) *account {
	a := s.accounts[user]
	if a == nil {
		a = &account{}
		s.accounts[user] = a
	}
	return a
}

// UserRemoved forgets a deleted account (its messages went with it).
func (s *Store) UserRemoved(_ context.Context, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[user]; a != nil {
		a.gone = true
		delete(s.accounts, user)
	}
}

// errFull is what the sender of a message past the quota is told
// (XEP-0160 4: service-unavailable), in words.
func errFull(user string, max int) *stanza.Error {
	return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable,
		user+" has too many messages waiting to be read ("+itoa(max)+"); try again once they have read some")
}

// errNotSaved is what the sender of a message the database did not take
// is told.
var errNotSaved = stanza.NewError(stanza.Wait, stanza.InternalServerError,
	"the server could not save this message for later; try again later")

// Store implements router.OfflineStore: it checks the quota, stamps the
// message and queues it for the next group commit.
func (s *Store) Store(ctx context.Context, user string, st *stanza.Stanza) (router.Durable, *stanza.Error) {
	if !worthKeeping(st.El) {
		return nil, nil
	}
	s.mu.Lock()
	if err := s.load(ctx); err != nil {
		s.mu.Unlock()
		s.log.Error("message not stored: the offline counts could not be read", "user", user, "err", err)
		return nil, errNotSaved
	}
	a := s.acct(user)
	if a.count >= s.max {
		max := s.max
		s.mu.Unlock()
		return nil, errFull(user, max)
	}
	a.count++
	s.mu.Unlock()
	return s.queue(user, a, st.From.String(), stamped(st.El, s.domain).Bytes()), nil
}

// stamped returns a copy of el with the server's delay (XEP-0203) in place
// of any other from it.
func stamped(el *stanza.Element, domain string) *stanza.Element {
	el = el.ShallowClone()
	el.RemoveChildren("delay", stanza.NSDelay)
	el.Append(stanza.New("delay", stanza.NSDelay, "from", domain, "stamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")).AppendText("Offline storage"))
	return el
}

// write is a store under way; it is the router's Durable.
type write struct {
	q   *storage.Queued
	err *stanza.Error // set before q is done
}

func (w *write) Done() <-chan struct{} { return w.q.Done() }
func (w *write) Failed() *stanza.Error { return w.err }

// queue queues the store of a counted message; once it is durable, an
// available session of the account that is not being flushed gets it.
func (s *Store) queue(user string, a *account, from string, xml []byte) *write {
	w := &write{}
	w.q = s.db.QueueOffline(user, from, xml, 0, func(_ int64, err error) {
		if err != nil {
			s.mu.Lock()
			a.count--
			s.mu.Unlock()
			if errors.Is(err, storage.ErrNotFound) {
				w.err = stanza.ErrServiceUnavailable()
				return
			}
			s.log.Error("message not stored", "user", user, "err", err)
			w.err = errNotSaved
			return
		}
		s.stored(user)
	})
	return w
}

// worthKeeping reports whether a message carries more than chat states
// (XEP-0085 6.5: notifications are not stored).
func worthKeeping(el *stanza.Element) bool {
	for _, c := range el.Children {
		if c.Name != "" && c.NS != NSChatStates {
			return true
		}
	}
	return false
}

// Lost stores the messages a session accepted but never wrote, or whose
// receipt its client never acknowledged (it was closed, too slow, never
// resumed, or the server is stopping); see Restore. A request (an IQ get
// or set) gets the error it would have got had the session been gone
// already (RFC 6121 8.5.3.2.1; XEP-0198 5), so that its sender is not
// left waiting; presence is dropped.
func (s *Store) Lost(ctx context.Context, sess *router.Session, lost []*stanza.Element) {
	for _, el := range lost {
		st, e := stanza.Parse(el)
		switch {
		case e != nil:
		case st.Kind == stanza.KindMessage:
			s.Restore(ctx, sess.JID.Local, st)
		case st.Kind == stanza.KindIQ && (st.Type == "get" || st.Type == "set"):
			s.r.Bounce(context.WithoutCancel(ctx), st, stanza.ErrServiceUnavailable())
		}
	}
}

// Restore stores a message for user that was accepted for a session and
// never written to it. Its sender was acknowledged, so the quota does not
// refuse it; if the database does not take it, it goes back to its sender
// as an error. Restore does not wait for the write.
func (s *Store) Restore(ctx context.Context, user string, st *stanza.Stanza) {
	if (st.Type != "" && st.Type != "normal" && st.Type != "chat") || !worthKeeping(st.El) {
		return
	}
	s.mu.Lock()
	if err := s.load(ctx); err != nil {
		s.log.Error("offline counts not read; counting from zero", "err", err)
		s.loaded = true
	}
	a := s.acct(user)
	a.count++
	s.bounces.Add(1)
	s.mu.Unlock()
	w := s.queue(user, a, st.From.String(), stamped(st.El, s.domain).Bytes())
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer s.bounces.Done()
		<-w.Done()
		if w.err != nil {
			s.r.Bounce(ctx, st, w.err)
		}
	}()
}

// stored is told that a message for user is durable: a session of theirs
// that became available meanwhile gets it now, not at its next login.
func (s *Store) stored(user string) {
	s.mu.Lock()
	a := s.accounts[user]
	if a == nil {
		s.mu.Unlock()
		return
	}
	if a.flush != nil {
		a.more = true
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if sess := s.available(user, nil); sess != nil {
		s.Flush(context.Background(), sess)
	}
}

// available returns a session of user other than not that takes offline
// messages (available, non-negative priority, not closing), or nil.
func (s *Store) available(user string, not *router.Session) *router.Session {
	for _, sess := range s.r.Sessions(user) {
		if sess != not && takes(sess) {
			return sess
		}
	}
	return nil
}

// takes reports whether a session takes offline messages now.
func takes(sess *router.Session) bool {
	avail, prio, _ := sess.Presence()
	n, _ := sess.Conn.Room()
	return avail && prio >= 0 && n > 0
}

// Flush starts delivering the account's stored messages to a session that
// became available, unless a delivery to one of its sessions is under way
// already: then this session takes over if that one ends first.
func (s *Store) Flush(ctx context.Context, sess *router.Session) {
	user := sess.JID.Local
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if err := s.load(ctx); err != nil {
		s.log.Error("offline messages not delivered now: the offline counts could not be read", "user", user, "err", err)
		return
	}
	a := s.acct(user)
	if a.flush != nil {
		if a.flush.sess != sess {
			a.next = sess
		}
		a.more = true
		return
	}
	s.start(a, user, sess, ctx)
}

// start starts a delivery; s.mu is held.
func (s *Store) start(a *account, user string, sess *router.Session, ctx context.Context) {
	f := &flush{s: s, a: a, user: user, sess: sess, ctx: context.WithoutCancel(ctx)}
	f.drained.L = &f.mu
	a.flush, a.next = f, nil
	s.flushers.Add(1)
	go f.run()
}

// Close stops new deliveries, waits for those under way and tries once
// more to delete what was delivered; the server calls it once no session
// is left.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.flushers.Wait()
	s.bounces.Wait()
	s.mu.Lock()
	var qs []*storage.Queued
	for user, a := range s.accounts {
		if len(a.delivered) > 0 {
			qs = append(qs, s.db.QueueDeleteOffline(user, keys(a.delivered), nil))
		}
	}
	s.mu.Unlock()
	for _, q := range qs {
		if err := q.Wait(); err != nil {
			s.log.Error("delivered messages not deleted; they will be delivered again", "err", err)
		}
	}
}

func keys(m map[int64]bool) []int64 {
	out := make([]int64, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// errClosing: the session is closing and takes nothing more.
var errClosing = errors.New("the session is closing")
