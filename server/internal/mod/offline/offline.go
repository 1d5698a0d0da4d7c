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
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// NSChatStates is XEP-0085; messages carrying only chat states are not kept.
const NSChatStates = "http://jabber.org/protocol/chatstates"

// Store keeps offline messages.
type Store struct {
	DB     *storage.DB
	Domain string
	// Max is the per-account quota (0: 1000).
	Max int
	Log *slog.Logger
}

func (s *Store) max() int {
	if s.Max <= 0 {
		return 1000
	}
	return s.Max
}

// Features returns the disco features of this module.
func (s *Store) Features() []string { return []string{stanza.NSOffline} }

// ErrQuota means the account's offline store is full.
var ErrQuota = errors.New("offline storage full")

// Store implements router.OfflineStore.
func (s *Store) Store(ctx context.Context, user string, st *stanza.Stanza) error {
	if !worthKeeping(st.El) {
		return nil
	}
	el := st.El.ShallowClone()
	el.RemoveChildren("delay", stanza.NSDelay)
	el.Append(stanza.New("delay", stanza.NSDelay, "from", s.Domain, "stamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")).AppendText("Offline storage"))
	if _, err := s.DB.StoreOffline(ctx, user, st.From.String(), el.Bytes(), s.max()); err != nil {
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

// Flush sends the stored messages to a session that just became available
// and deletes them once queued. A message that was queued but never
// written goes back to storage through the session's lost handler.
func (s *Store) Flush(ctx context.Context, sess *router.Session) error {
	msgs, err := s.DB.OfflineFor(ctx, sess.JID.Local)
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
		if !sess.Conn.Send(el) {
			break
		}
		ids = append(ids, m.ID)
	}
	return s.DB.DeleteOffline(ctx, sess.JID.Local, ids)
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
		if d := el.Child("delay", stanza.NSDelay); d != nil && d.Attr("from") == s.Domain {
			// Came from offline storage (the router strips such stamps
			// from what clients send): keep its original stamp.
			_, err = s.DB.StoreOffline(ctx, sess.JID.Local, st.From.String(), el.Bytes(), s.max())
		} else {
			err = s.Store(ctx, sess.JID.Local, st)
		}
		if err != nil {
			s.Log.Warn("message lost: offline storage refused it", "user", sess.JID.Local, "err", err)
		}
	}
}
