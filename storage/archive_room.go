package storage

import (
	"context"
	"fmt"
	"strings"
)

// Room archives (XEP-0313 for XEP-0045 group chats) live in the same log
// and index as accounts' archives, under the room's bare JID: it holds
// '@', which no account's name does, so the two never meet. A room's
// message is in the room's archive only; its With is the occupant's JID
// (room@service/nick), so that the index lists each occupant's messages.

// roomArchive reports whether an archive's owner is a room.
func roomArchive(owner string) bool { return strings.IndexByte(owner, '@') >= 0 }

// errShared refuses to rewrite a message two archives hold. It is an
// ErrNotFound, which fails the write alone, not its whole group commit.
var errShared = fmt.Errorf("%w: the message is in two archives and cannot be changed in one", ErrNotFound)

// QueueReplaceArchived queues, for the next group commit, the replacement
// of the stanza of message id in owner's archive (a retracted message's
// tombstone, XEP-0424 and XEP-0425); tag must be the message's tag there.
// It fails with ErrNotFound when owner's archive has no such message
// (never there, expired or deleted), and refuses a message that is in two
// archives: each of them would change.
func (db *DB) QueueReplaceArchived(owner string, id, tag int64, stanza []byte) *Queued {
	what := fmt.Sprintf("replace message %d in the archive of %s", id, owner)
	stanza = blob(stanza)
	return db.commit.enqueue(what, func(b *batch) (int64, error) {
		recs, err := logRecs(b.ctx, b.tx, []int64{id})
		if err != nil {
			return 0, err
		}
		var e *logEntry
		var rec *logRec
		for _, r := range recs {
			for i := range r.entries {
				if r.entries[i].id == id {
					e, rec = &r.entries[i], r
				}
			}
		}
		if e == nil {
			return 0, ErrNotFound
		}
		l := logRow{id: id}
		if l.places, err = parseMeta(e.meta); err != nil {
			return 0, fmt.Errorf("message %d: %w", id, err)
		}
		r, ok := l.in(owner)
		switch {
		case !ok || r.Tag != tag:
			return 0, ErrNotFound
		case len(l.places) > 1:
			return 0, errShared
		}
		e.stanza = stanza
		return id, b.put(rec)
	}, nil)
}

// DeleteArchive deletes the whole archive of owner (a room that is
// destroyed), a chunk of messages per commit so that other writes never
// wait long behind it. Messages queued for it meanwhile may stay.
func (db *DB) DeleteArchive(ctx context.Context, owner string) error {
	if err := db.deleteArchiveOf(ctx, owner); err != nil {
		return fmt.Errorf("delete the archive of %s: %w", owner, err)
	}
	return nil
}
