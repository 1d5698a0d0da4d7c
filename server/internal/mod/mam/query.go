package mam

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// errRead is what a client hears when its archive could not be read.
var errRead = stanza.NewError(stanza.Wait, stanza.InternalServerError, "the archive could not be read; try again later")

// owner is an archive the queries read, and the JID that answers for it:
// an account's archive, answered from the account's bare JID, or a room's,
// answered from the room's (XEP-0313 4 and 5.1.2). The code that reads and
// pages is the same for both.
type owner struct {
	key  string  // the archive's name in storage: the account, or the room's bare JID
	jid  jid.JID // bare
	room bool
}

// account is the archive of a local account.
func (m *Module) account(user string) owner {
	return owner{key: user, jid: jid.JID{Local: user, Domain: m.domain}}
}

// roomArchive is the archive of a room (a key with '@', never an account's).
func roomArchive(room jid.JID) owner {
	b := room.Bare()
	return owner{key: b.String(), jid: b, room: true}
}

// filter is the list and resource a 'with' JID selects (XEP-0313 4.1.1):
// in an account's archive the contact's bare JID and its resource; in a
// room's, an occupant (room@service/nick, its list) or the whole room.
func (o owner) filter(with jid.JID) (list, res string) {
	if !o.room {
		return with.Bare().String(), with.Resource
	}
	if with == o.jid {
		return "", ""
	}
	return with.String(), ""
}

// form answers a request for the query form (XEP-0313 4.1.1).
func (m *Module) form(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if e := m.own(st); e != nil {
		return nil, e
	}
	return formElement(), nil
}

// metadata answers an account's request for its first and last message.
func (m *Module) metadata(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if e := m.own(st); e != nil {
		return nil, e
	}
	return m.ends(ctx, m.account(st.To.Local))
}

// ends answers with the first and last message of the archive (XEP-0313
// 5.1, urn:xmpp:mam:2#extended).
func (m *Module) ends(ctx context.Context, o owner) (*stanza.Element, *stanza.Error) {
	if e := m.flush(ctx); e != nil {
		return nil, e
	}
	first, last, ok, err := m.db.ArchiveEnds(ctx, o.key)
	if err != nil {
		m.log.Error("archive not read", "archive", o.key, "err", err)
		return nil, errRead
	}
	el := stanza.New("metadata", NS)
	if ok {
		el.Append(stanza.New("start", NS, "id", publicID(first.ID, first.Tag), "timestamp", stamp(first.ID)),
			stanza.New("end", NS, "id", publicID(last.ID, last.Tag), "timestamp", stamp(last.ID)))
	}
	return el, nil
}

// query runs an account's query on its own archive.
func (m *Module) query(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if e := m.own(st); e != nil {
		return nil, e
	}
	return m.answer(ctx, st, m.account(st.To.Local))
}

// remoteBudget bounds the bytes of a page sent to an asker on another
// server (a room's archive), whose queue we cannot see.
const remoteBudget = 1 << 20

// answer runs a query (XEP-0313 4) on o's archive: the page's messages go
// to the asker, each in a <result/> from o's JID, then the IQ result with
// <fin/>. A local asker gets them through its session; one on another
// server (a room's occupant) through the router.
func (m *Module) answer(ctx context.Context, st *stanza.Stanza, o owner) (*stanza.Element, *stanza.Error) {
	req, e := parseQuery(st.Payload())
	if e != nil {
		return nil, e
	}
	if e := m.flush(ctx); e != nil {
		return nil, e
	}
	user := o.key
	whole, q, e := m.selection(ctx, o, req)
	if e != nil {
		return nil, e
	}
	max := DefaultPage
	if req.max >= 0 {
		max = min(req.max, MaxPage)
	}
	sess := m.r.Session(st.From)
	bytes := 2 * remoteBudget
	switch {
	case sess != nil:
		// A page never takes more than half of what the session's queue
		// has room for, so that asking for it cannot get the client cut off.
		var room int
		room, bytes = sess.Conn.Room()
		if max > 0 && room/2 < 1 {
			return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "the connection is busy; ask again in a moment")
		}
		max = min(max, room/2)
	case !o.room || m.r.IsLocal(st.From):
		return nil, router.ErrAnswered // gone: nobody to answer
	}

	fin := stanza.New("fin", NS)
	set := stanza.New("set", NSRSM)
	var page []result
	complete := true
	if max > 0 || len(q.IDs) > 0 {
		q.Max = max + 1
		rows, err := m.db.ArchivePage(ctx, q)
		if err != nil {
			m.log.Error("archive not read", "archive", user, "err", err)
			return nil, errRead
		}
		if len(rows) > max {
			complete = false
			if q.Last {
				rows = rows[1:]
			} else {
				rows = rows[:max]
			}
		}
		page, complete = m.fit(user, rows, bytes/2, q.Last, complete)
	}
	// The count is of the whole result set, whatever the page (XEP-0059
	// 2.5); past countLimit it is left out.
	count, err := m.db.CountArchive(ctx, whole, countLimit)
	if err != nil {
		m.log.Error("archive not counted", "archive", user, "err", err)
		return nil, errRead
	}
	if req.flip {
		slices.Reverse(page)
	}
	bare, to := o.jid.String(), st.From.String()
	for _, r := range page {
		res := stanza.New("result", NS, "queryid", req.queryID, "id", r.id)
		res.Append(stanza.New("forwarded", NSForward).Append(
			stanza.New("delay", stanza.NSDelay, "stamp", stamp(r.row.ID)), r.el))
		msg := stanza.New("message", stanza.NSClient, "from", bare, "to", to).Append(res)
		if sess == nil {
			m.r.Route(ctx, &stanza.Stanza{El: msg, Kind: stanza.KindMessage, From: o.jid, To: st.From})
			continue
		}
		if !m.r.Deliver(ctx, sess, msg) {
			return nil, router.ErrAnswered // the session is closing
		}
	}
	if len(page) > 0 {
		set.Append(stanza.New("first", NSRSM).AppendText(page[0].id), stanza.New("last", NSRSM).AppendText(page[len(page)-1].id))
	}
	if max == 0 && len(q.IDs) == 0 {
		complete = count == 0 // a count alone (XEP-0059 2.6)
	}
	if count < countLimit {
		set.Append(stanza.New("count", NSRSM).AppendText(strconv.Itoa(count)))
	}
	if complete {
		fin.SetAttr("complete", "true")
	}
	fin.SetAttr("queryid", req.queryID)
	return fin.Append(set), nil
}

// flush waits for the archive writes under way: a client asks for what
// it was delivered, and it was delivered as its archive row was queued.
func (m *Module) flush(ctx context.Context) *stanza.Error {
	if err := m.db.Flush(ctx); err != nil {
		m.log.Error("archive not read", "err", err)
		return errRead
	}
	return nil
}

// result is one message of a page.
type result struct {
	row storage.ArchiveRow
	id  string
	el  *stanza.Element
}

// fit reads a page's messages and keeps those whose trees fit in budget
// bytes, from the start of the page (or its end, for a page counted from
// the end); a page cut short is not complete.
func (m *Module) fit(user string, rows []storage.ArchiveRow, budget int, last, complete bool) ([]result, bool) {
	out := make([]result, 0, len(rows))
	for _, r := range rows {
		if el := m.unmarshal(user, r); el != nil {
			out = append(out, result{row: r, id: publicID(r.ID, r.Tag), el: el})
		}
	}
	n, used := 0, 0
	for i := range out {
		k := i
		if last {
			k = len(out) - 1 - i
		}
		used += out[k].el.Footprint()
		if i > 0 && used > budget {
			break
		}
		n++
	}
	if n < len(out) {
		complete = false
		if last {
			out = out[len(out)-n:]
		} else {
			out = out[:n]
		}
	}
	return out, complete
}

// unmarshal reads an archived message; nil if it is unreadable, which is
// logged and skipped, not failed on at every query.
func (m *Module) unmarshal(archive string, r storage.ArchiveRow) *stanza.Element {
	el, err := stream.Unmarshal(r.Stanza)
	if err != nil {
		m.log.Error("an archived message could not be read; it is skipped", "archive", archive, "id", r.ID, "err", err)
		return nil
	}
	return el
}

// selection turns a request into the rows it selects: the whole result
// set (the form's filters) and the page's range in it, every id checked
// to be in the archive.
func (m *Module) selection(ctx context.Context, o owner, req request) (whole, page storage.ArchiveQuery, e *stanza.Error) {
	user := o.key
	q := storage.ArchiveQuery{User: user, Last: req.last}
	if !req.with.IsZero() {
		q.With, q.Res = o.filter(req.with)
	}
	above := func(id int64) {
		q.After = max(q.After, id)
	}
	below := func(id int64) {
		if q.Before == 0 || id < q.Before {
			q.Before = id
		}
	}
	if id := afterAt(req.start); id > 0 {
		above(id)
	}
	if !req.end.IsZero() {
		// At or before end: up to its millisecond's last id.
		if id := idAt(req.end.Truncate(time.Millisecond).Add(time.Millisecond)); id > 0 {
			below(id)
		} else {
			below(1) // before any message
		}
	}
	bounds := func(after, before string) *stanza.Error {
		for _, b := range []struct {
			public string
			set    func(int64)
		}{{after, above}, {before, below}} {
			if b.public == "" {
				continue
			}
			id, e := m.lookup(ctx, user, b.public)
			if e != nil {
				return e
			}
			b.set(id)
		}
		return nil
	}
	if e := bounds(req.afterID, req.beforeID); e != nil {
		return q, q, e
	}
	for _, public := range req.ids {
		id, e := m.lookup(ctx, user, public)
		if e != nil {
			return q, q, e
		}
		q.IDs = append(q.IDs, id)
	}
	whole = q
	e = bounds(req.after, req.before)
	return whole, q, e
}

// afterAt is the exclusive lower bound of the ids at or after t (0: none,
// for a zero t or one before any id): from t's millisecond, rounded up.
func afterAt(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	r := t.Truncate(time.Millisecond)
	if r.Before(t) {
		r = r.Add(time.Millisecond)
	}
	return max(idAt(r)-1, 0)
}

// lookup finds a public id in user's archive; item-not-found if it is
// not there (XEP-0313 4.1.2, XEP-0059 2.4).
func (m *Module) lookup(ctx context.Context, user, public string) (int64, *stanza.Error) {
	id, tag, ok := parseID(public)
	if !ok {
		return 0, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "no message "+public+" in the archive")
	}
	got, err := m.db.ArchiveTag(ctx, user, id)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && got != tag:
		return 0, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "no message "+public+" in the archive")
	case err != nil:
		m.log.Error("archive not read", "archive", user, "err", err)
		return 0, errRead
	}
	return id, nil
}
