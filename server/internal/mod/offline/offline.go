// Package offline implements XEP-0160: Best Practices for Handling Offline
// Messages. A message for an account with no available session is committed
// to SQLite before the router considers it handled, stamped with XEP-0203
// delay, and delivered when the account next sends available presence.
package offline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// NSChatStates is XEP-0085; messages carrying only chat states are not kept.
const NSChatStates = "http://jabber.org/protocol/chatstates"

// Deps are what the store needs.
type Deps struct {
	DB     *storage.DB
	Domain string // stamps delays (XEP-0203) in the server's name
	// Max is the per-account quota (0: DefaultMax); SetMax changes it live.
	Max int
	Log *slog.Logger
}

// Store keeps offline messages. It is the router's OfflineStore; the
// presence module flushes it when an account becomes available.
type Store struct {
	db     *storage.DB
	domain string
	max    atomic.Int64
	log    *slog.Logger
}

// New returns the offline store.
func New(d Deps) *Store {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: d.DB, domain: d.Domain, log: d.Log}
	s.SetMax(d.Max)
	return s
}

// DefaultMax is the default per-account quota.
const DefaultMax = 1000

// SetMax sets the per-account quota for messages stored from now on
// (0: DefaultMax).
func (s *Store) SetMax(n int) {
	if n <= 0 {
		n = DefaultMax
	}
	s.max.Store(int64(n))
}

func (s *Store) quota() int { return int(s.max.Load()) }

// Features returns the disco features of this module.
func (s *Store) Features() router.Features {
	return router.Features{Server: []string{stanza.NSOffline}}
}

// ErrQuota means the account's offline store is full.
var ErrQuota = errors.New("offline storage full")

// Store implements router.OfflineStore.
func (s *Store) Store(ctx context.Context, user string, st *stanza.Stanza) error {
	if !worthKeeping(st.El) {
		return nil
	}
	el := st.El.ShallowClone()
	el.RemoveChildren("delay", stanza.NSDelay)
	el.Append(stanza.New("delay", stanza.NSDelay, "from", s.domain, "stamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")).AppendText("Offline storage"))
	if _, err := s.db.StoreOffline(ctx, user, st.From.String(), el.Bytes(), s.quota()); err != nil {
		if errors.Is(err, storage.ErrQuota) {
			return ErrQuota
		}
		return fmt.Errorf("offline store for %s: %w", user, err)
	}
	return nil
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

// Deliverer hands stanzas to sessions (router.Router.Deliver).
type Deliverer interface {
	Deliver(ctx context.Context, s *router.Session, el *stanza.Element) bool
}

// Flush sends the stored messages to a session that just became available
// and deletes them once queued. A message that was queued but never
// written goes back to storage through the session's lost handler.
func (s *Store) Flush(ctx context.Context, d Deliverer, sess *router.Session) error {
	msgs, err := s.db.OfflineFor(ctx, sess.JID.Local)
	if err != nil || len(msgs) == 0 {
		return err
	}
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		el, err := stream.Unmarshal(m.Stanza)
		if err != nil {
			ids = append(ids, m.ID) // unreadable: drop it rather than loop
			continue
		}
		el.SetAttr("to", sess.JID.String())
		if !d.Deliver(ctx, sess, el) {
			break
		}
		ids = append(ids, m.ID)
	}
	return s.db.DeleteOffline(ctx, sess.JID.Local, ids)
}

// Lost stores the messages a session queued but never wrote (it was
// closed or too slow), so acknowledged messages are not lost.
func (s *Store) Lost(ctx context.Context, sess *router.Session, lost []*stanza.Element) {
	for _, el := range lost {
		st, e := stanza.Parse(el)
		if e != nil || st.Kind != stanza.KindMessage || (st.Type != "" && st.Type != "normal" && st.Type != "chat") {
			continue
		}
		var err error
		if d := el.Child("delay", stanza.NSDelay); d != nil && d.Attr("from") == s.domain {
			// Came from offline storage (the router strips such stamps
			// from what clients send): keep its original stamp.
			_, err = s.db.StoreOffline(ctx, sess.JID.Local, st.From.String(), el.Bytes(), s.quota())
		} else {
			err = s.Store(ctx, sess.JID.Local, st)
		}
		if err != nil {
			s.log.Warn("message lost: offline storage refused it", "user", sess.JID.Local, "err", err)
		}
	}
}
