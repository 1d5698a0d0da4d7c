package mam

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Namespaces of retraction (XEP-0424) and moderation (XEP-0425).
const (
	NSRetract    = "urn:xmpp:message-retract:1"
	NSModerate   = "urn:xmpp:message-moderate:1"
	NSOccupantID = "urn:xmpp:occupant-id:0" // XEP-0421
)

// maxRecent bounds the messages Recent returns.
const maxRecent = 1000

// Rooms keeps the archives of group chat rooms (XEP-0313 5.1.2 with
// XEP-0045) for package muc, which reaches it through its own interface
// (muc.Archive); this package knows nothing of muc. A room's archive is
// kept like an account's, in the same storage, under the room's bare JID;
// each message is filed under its occupant's JID in the room
// (room@service/nick), so that a query's 'with' field selects one
// occupant's messages and the room's bare JID all of them. The retention
// time (mam.retention) applies to rooms as to accounts.
//
// mam.enabled switches room archives too: while it is off, Store keeps
// nothing (the message goes out as it came, with no stanza-id) and Query
// answers service-unavailable; Recent, Retract and Delete still work on
// what was archived before.
type Rooms struct {
	m *Module
}

// NewRooms returns the room archives kept by m (its storage, router,
// log, switch and retention).
func NewRooms(m *Module) *Rooms { return &Rooms{m: m} }

// Enabled reports whether room messages are archived now (mam.enabled):
// while they are not, a room should not advertise urn:xmpp:mam:2.
func (rs *Rooms) Enabled() bool { return rs.m.on.Load() }

// Features are the disco features of an archived room while archiving is
// on (XEP-0313 7, XEP-0359 6, and the #extended queries).
func (rs *Rooms) Features() []string { return []string{NS, NSExtended, NSSID} }

// done is the Durable of a message not archived: nothing to wait for.
type done struct{}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (done) Done() <-chan struct{} { return closed }
func (done) Failed() *stanza.Error { return nil }

// Store archives a groupchat message as the room sends it out (from =
// room@service/nick) and returns the copy to broadcast, with the
// message's XEP-0359 stanza-id by the room (any stanza-id that claims to
// be by the room removed first: it would be forged). The Durable is done
// once the message is committed, in storage's group commit. A message
// without a body (chat states, receipts), or one that asks not to be
// stored (XEP-0334), is not archived and gets no stanza-id.
func (rs *Rooms) Store(ctx context.Context, room jid.JID, nick string, msg *stanza.Element) (*stanza.Element, router.Durable) {
	m := rs.m
	by := room.Bare().String()
	msg = withoutIDs(msg, func(s string) bool { return sameJID(s, by) })
	if !m.on.Load() || !worthKeeping(msg) {
		return msg, done{}
	}
	var tag [8]byte
	rand.Read(tag[:])
	rows := [1]storage.ArchiveRow{{
		User:   by,
		With:   room.WithResource(nick).String(),
		Tag:    int64(binary.BigEndian.Uint64(tag[:])),
		Stanza: msg.Bytes(),
	}}
	w := &write{q: m.db.QueueArchive(rows[:], nil), m: m, user: by}
	if rows[0].ID == 0 { // the database is closed: the write failed
		return msg, w
	}
	return new(stamped).stamp(msg, by, publicID(rows[0].ID, rows[0].Tag)), w
}

// sameJID reports whether s, however it is written, is the bare JID bare;
// an unreadable by counts as the same (it claims something we cannot
// check).
func sameJID(s, bare string) bool {
	if s == bare {
		return true
	}
	j, err := jid.Parse(s)
	return err != nil || j.String() == bare
}

// Query answers a XEP-0313 query IQ addressed to the room (muc checked
// that the asker may read the archive): the form, a query (results from
// the room's bare JID to the asker), or the #extended metadata.
func (rs *Rooms) Query(ctx context.Context, st *stanza.Stanza, room jid.JID) (*stanza.Element, *stanza.Error) {
	m := rs.m
	if !m.on.Load() {
		return nil, stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "message archives are switched off on this server")
	}
	p := st.Payload()
	if p == nil || p.NS != NS {
		return nil, stanza.ErrBadRequest("the request is not a message archive query")
	}
	o := roomArchive(room)
	switch {
	case p.Name == "query" && st.Type == "get":
		return formElement(), nil
	case p.Name == "query" && st.Type == "set":
		return m.answer(ctx, st, o)
	case p.Name == "metadata" && st.Type == "get":
		return m.ends(ctx, o)
	case p.Name == "prefs":
		return nil, stanza.NewError(stanza.Cancel, stanza.FeatureNotImplemented, "a room's archive has no preferences")
	}
	return nil, stanza.ErrBadRequest("the server does not know this archive request: " + p.Name)
}

// Recent returns up to max of the room's last messages (oldest first)
// archived at or after since (zero: no bound), each with its delay
// (XEP-0203, from the room) and its stanza-id: history for those who
// join after a restart. Retracted messages are left out (as muc leaves
// them out of the history it keeps), so it may return fewer than max
// when some of the last max were retracted.
func (rs *Rooms) Recent(ctx context.Context, room jid.JID, max int, since time.Time) ([]*stanza.Element, error) {
	m := rs.m
	if max <= 0 {
		return nil, nil
	}
	o := roomArchive(room)
	rows, err := m.db.ArchivePage(ctx, storage.ArchiveQuery{User: o.key, After: afterAt(since), Last: true, Max: min(max, maxRecent)})
	if err != nil {
		return nil, fmt.Errorf("recent messages of %s: %w", o.key, err)
	}
	out := make([]*stanza.Element, 0, len(rows))
	for _, r := range rows {
		el := m.unmarshal(o.key, r)
		if el == nil || el.Child("retracted", NSRetract) != nil {
			continue // unreadable, or retracted: history leaves it out
		}
		el.Append(stanza.New("delay", stanza.NSDelay, "from", o.key, "stamp", stamp(r.ID)),
			stanza.New("stanza-id", NSSID, "by", o.key, "id", publicID(r.ID, r.Tag)))
		out = append(out, el)
	}
	return out, nil
}

// Retract replaces the archived message whose stanza-id is id with a
// tombstone (XEP-0424 6, XEP-0425 6): the message keeps its place, its
// attributes, its occupant-id and origin-id; its body and every other
// payload give way to <retracted/>, naming the moderator and the reason
// (no moderator when by is the message's own sender). The tombstone is
// durable before Retract returns; storage.ErrNotFound: no such message.
func (rs *Rooms) Retract(ctx context.Context, room jid.JID, id string, by jid.JID, byID, reason string) error {
	m := rs.m
	o := roomArchive(room)
	aid, tag, ok := parseID(id)
	if !ok {
		return fmt.Errorf("retract %s in %s: %w", id, o.key, storage.ErrNotFound)
	}
	rows, err := m.db.ArchivePage(ctx, storage.ArchiveQuery{User: o.key, IDs: []int64{aid}, Max: 1})
	switch {
	case err != nil:
		return fmt.Errorf("retract %s in %s: %w", id, o.key, err)
	case len(rows) == 0 || rows[0].Tag != tag:
		return fmt.Errorf("retract %s in %s: %w", id, o.key, storage.ErrNotFound)
	}
	old, err := stream.Unmarshal(rows[0].Stanza)
	if err != nil {
		// Unreadable: the tombstone names the occupant from the index.
		old = stanza.New("message", stanza.NSClient, "from", rows[0].With, "type", "groupchat")
	}
	if err := m.db.QueueReplaceArchived(o.key, aid, tag, tombstone(old, by, byID, reason, time.Now()).Bytes()).Wait(); err != nil {
		return fmt.Errorf("retract %s in %s: %w", id, o.key, err)
	}
	return nil
}

// tombstone is what is left of a retracted message.
func tombstone(old *stanza.Element, by jid.JID, byID, reason string, now time.Time) *stanza.Element {
	el := &stanza.Element{Name: old.Name, NS: old.NS, Attrs: old.Attrs}
	r := stanza.New("retracted", NSRetract, "stamp", now.UTC().Format(time.RFC3339), "by", by.String())
	if by.String() != old.Attr("from") {
		mod := stanza.New("moderated", NSModerate, "by", by.String())
		if byID != "" {
			mod.Append(stanza.New("occupant-id", NSOccupantID, "id", byID))
		}
		r.Append(mod)
	}
	if reason != "" {
		r.Append(stanza.New("reason", NSRetract).AppendText(xmlText(reason)))
	}
	el.Append(r)
	for _, c := range old.Elements() {
		if (c.Name == "occupant-id" && c.NS == NSOccupantID) || (c.Name == "origin-id" && c.NS == NSSID) {
			el.Append(c)
		}
	}
	return el
}

// xmlText is s with what XML cannot hold (XML 1.0 2.2) left out: the
// reason may come from the admin's command line, not from a stanza.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return -1
	}, s)
}

// Delete forgets the room's whole archive (the room is destroyed), a
// chunk of messages per commit.
func (rs *Rooms) Delete(ctx context.Context, room jid.JID) error {
	return rs.m.db.DeleteArchive(ctx, room.Bare().String())
}
