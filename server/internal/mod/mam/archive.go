package mam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Archive ids (storage.ArchiveID) grow with time: a time range is an id
// range, and the id tells the message's time. The id people see (the
// stanza-id, the result's id) adds a random tag, checked on every lookup:
// ids cannot be guessed, and one handed out before a crash that never
// committed is not found again.

// idAt is the first id of the millisecond t falls in.
func idAt(t time.Time) int64 { return storage.ArchiveID(t) }

// timeOf is the time an id was made.
func timeOf(id int64) time.Time { return storage.ArchiveTime(id) }

// stamp is the XEP-0082 form of an id's time.
func stamp(id int64) string { return timeOf(id).Format("2006-01-02T15:04:05.000Z") }

// publicID is the id people see: the archive id and its tag, 22
// characters. It encodes on the stack: the string is its one allocation.
func publicID(id, tag int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(id))
	binary.BigEndian.PutUint64(b[8:], uint64(tag))
	var s [22]byte
	base64.RawURLEncoding.Encode(s[:], b[:])
	return string(s[:])
}

// parseID reads a public id; ok is false for anything we never made.
func parseID(s string) (id, tag int64, ok bool) {
	if len(s) != 22 {
		return 0, 0, false
	}
	var b [16]byte
	n, err := base64.RawURLEncoding.Decode(b[:], []byte(s))
	if err != nil || n != 16 {
		return 0, 0, false
	}
	id, tag = int64(binary.BigEndian.Uint64(b[:8])), int64(binary.BigEndian.Uint64(b[8:]))
	return id, tag, id > 0
}

// Archive implements router.Archiver.
func (m *Module) Archive(ctx context.Context, st *stanza.Stanza, toLocal bool) (*stanza.Stanza, router.Durable) {
	if st.Kind != stanza.KindMessage {
		return st, nil
	}
	if toLocal {
		// XEP-0359 7: a stanza-id in our name that comes from elsewhere
		// is forged; the recipient would trust it.
		st = m.stripForged(st)
	}
	if !m.on.Load() || !archivable(st.El, st.Type) {
		return st, nil
	}
	// At most two rows: the recipient's, then the sender's (no
	// allocation for the slice).
	var buf [2]storage.ArchiveRow
	rows := buf[:0]
	toBare := ""
	if toLocal && m.wants(ctx, st.To.Local, st.From) {
		rows = append(rows, storage.ArchiveRow{User: st.To.Local, With: bareOf(st.From, st.El.Attr("from")), Res: st.From.Resource})
	}
	recipient := len(rows) == 1
	if st.From.Domain == m.domain && st.From.Local != "" && !(toLocal && st.From.Local == st.To.Local) && m.wants(ctx, st.From.Local, st.To) {
		toBare = bareOf(st.To, st.El.Attr("to"))
		rows = append(rows, storage.ArchiveRow{User: st.From.Local, With: toBare, Res: st.To.Resource})
	}
	if len(rows) == 0 {
		return st, nil
	}
	var tags [16]byte
	rand.Read(tags[:])
	for i := range rows {
		rows[i].Tag = int64(binary.BigEndian.Uint64(tags[8*i:]))
	}
	rows[0].Buffer = storage.StanzaBuffer()
	rows[0].Buffer.Grow(max(st.El.Wire, 256) + 64) // once, not by doubling
	st.El.WriteTo(rows[0].Buffer, "")
	rows[0].Stanza = rows[0].Buffer.Bytes()
	w := &write{q: m.db.QueueArchive(rows, nil), m: m, user: rows[0].User}
	if recipient && rows[0].ID != 0 { // 0: the database is closed
		// The recipient's sessions get the message with its archive id.
		if toBare == "" {
			toBare = bareOf(st.To, st.El.Attr("to"))
		}
		st = withStanzaID(st, toBare, publicID(rows[0].ID, rows[0].Tag))
	}
	return st, w
}

// write is an archive write under way: the router's Durable.
type write struct {
	q      *storage.Queued
	m      *Module
	user   string
	logged atomic.Bool
}

func (w *write) Done() <-chan struct{} { return w.q.Done() }

// Failed says why the write failed, once it is done: an account gone is
// the one the message was for; anything else is logged, once.
func (w *write) Failed() *stanza.Error {
	switch err := w.q.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return stanza.ErrServiceUnavailable()
	default:
		if !w.logged.Swap(true) {
			w.m.log.Error("message not archived", "user", w.user, "err", err)
		}
		return errNotArchived
	}
}

// stripForged returns st without the stanza-ids that claim to be by this
// server or one of its accounts.
func (m *Module) stripForged(st *stanza.Stanza) *stanza.Stanza {
	el := withoutIDs(st.El, m.ours)
	if el == st.El {
		return st
	}
	c := *st
	c.El = el
	return &c
}

// withoutIDs returns el without the stanza-ids whose by forged says is
// forged; el itself when it has none.
func withoutIDs(el *stanza.Element, forged func(by string) bool) *stanza.Element {
	is := func(c *stanza.Element) bool { return c.Name == "stanza-id" && c.NS == NSSID && forged(c.Attr("by")) }
	if !slices.ContainsFunc(el.Children, is) {
		return el
	}
	el = el.ShallowClone()
	el.Children = slices.DeleteFunc(el.Children, is)
	return el
}

// ours reports whether by names this server or one of its accounts,
// however it is written.
func (m *Module) ours(by string) bool {
	j, err := jid.Parse(by)
	return err != nil || j.Domain == m.domain
}

// archivable applies XEP-0313 5.1.1 and the hints of XEP-0334: chat and
// normal messages with a body, unless they ask not to be stored, and any
// that asks to be; never groupchat, headline or error messages, carbons
// or archive results.
func archivable(el *stanza.Element, typ string) bool {
	switch typ {
	case "", "normal", "chat":
	default:
		return false
	}
	return worthKeeping(el)
}

// worthKeeping applies the rest of archivable to a message of any type
// (a room's groupchat messages, XEP-0313 5.1.2): a body or a store hint,
// no hint against it, not a carbon or an archive result.
func worthKeeping(el *stanza.Element) bool {
	body, store := false, false
	for _, c := range el.Children {
		switch {
		case c.Name == "":
		case c.Name == "body" && c.NS == stanza.NSClient:
			body = true
		case c.NS == NSHints && (c.Name == "no-store" || c.Name == "no-permanent-store"):
			return false
		case c.NS == NSHints && c.Name == "store":
			store = true
		case c.NS == NSCarbons, c.NS == NS && c.Name == "result":
			return false
		}
	}
	return body || store
}
