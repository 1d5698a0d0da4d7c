package mam

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// roomArchiver is muc.Archive (package muc defines it; mam does not import
// muc): *Rooms must satisfy it.
type roomArchiver interface {
	Enabled() bool
	Store(ctx context.Context, room jid.JID, nick string, msg *stanza.Element) (*stanza.Element, router.Durable)
	Query(ctx context.Context, st *stanza.Stanza, room jid.JID) (*stanza.Element, *stanza.Error)
	Recent(ctx context.Context, room jid.JID, max int, since time.Time) ([]*stanza.Element, error)
	Retract(ctx context.Context, room jid.JID, id string, by jid.JID, byID, reason string) error
	Delete(ctx context.Context, room jid.JID) error
}

var _ roomArchiver = (*Rooms)(nil)

// inbox is a session's connection that keeps what it is sent.
type inbox struct {
	mu  sync.Mutex
	got []*stanza.Element
}

func (c *inbox) Send(el *stanza.Element, done func(bool)) bool {
	c.mu.Lock()
	c.got = append(c.got, el)
	c.mu.Unlock()
	if done != nil {
		done(true)
	}
	return true
}
func (c *inbox) Room() (int, int)  { return 1000, 1 << 30 }
func (c *inbox) Close(_, _ string) {}

// take returns and forgets what the connection got.
func (c *inbox) take() []*stanza.Element {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

var (
	den    = jid.MustParse("den@conference.home.test")
	attic  = jid.MustParse("attic@conference.home.test")
	asker  = jid.MustParse("alice@home.test/phone")
	remote = jid.MustParse("zed@remote.test/laptop")
)

// roomsEnv is a room archive on real storage, with a router and one bound
// session (asker's).
type roomsEnv struct {
	db  *storage.DB
	m   *Module
	rs  *Rooms
	box *inbox
}

func newRoomsEnv(t testing.TB) *roomsEnv {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := router.New(router.Config{Domain: "home.test"})
	m := New(Deps{DB: db, Router: r, Domain: "home.test"})
	box := &inbox{}
	r.Bind(&router.Session{JID: asker, Conn: box})
	return &roomsEnv{db: db, m: m, rs: NewRooms(m), box: box}
}

// store archives a message of nick's in room and waits until it is
// durable; it returns the broadcast copy's stanza-id.
func (e *roomsEnv) store(t testing.TB, room jid.JID, nick, body string) string {
	t.Helper()
	msg := parse(t, `<message xmlns='jabber:client' type='groupchat' id='m-`+body+`' from='`+room.WithResource(nick).String()+`'><body>`+body+`</body>`+
		`<occupant-id xmlns='urn:xmpp:occupant-id:0' id='occ-`+nick+`'/></message>`)
	out, d := e.rs.Store(t.Context(), room, nick, msg)
	<-d.Done()
	if f := d.Failed(); f != nil {
		t.Fatalf("store %s: %v", body, f)
	}
	sids := stanzaIDs(out, room.String())
	if len(sids) != 1 {
		t.Fatalf("broadcast copy %s has stanza-ids %v", out, sids)
	}
	return sids[0]
}

func stanzaIDs(el *stanza.Element, by string) []string {
	var out []string
	for _, c := range el.Elements() {
		if c.Name == "stanza-id" && c.NS == NSSID && c.Attr("by") == by {
			out = append(out, c.Attr("id"))
		}
	}
	return out
}

// page is one answer to a query: the results' ids and bodies, and the fin.
type page struct {
	ids, bodies []string
	msgs        []*stanza.Element // the forwarded messages
	fin         *stanza.Element
}

// query asks room's archive with the form fields and RSM given as XML.
func (e *roomsEnv) query(t testing.TB, room jid.JID, from jid.JID, typ, inner string) (page, *stanza.Error) {
	t.Helper()
	el := parse(t, `<iq xmlns='jabber:client' type='`+typ+`' id='q1' from='`+from.String()+`' to='`+room.String()+`'>`+inner+`</iq>`)
	st, se := stanza.Parse(el)
	if se != nil {
		t.Fatal(se)
	}
	res, qe := e.rs.Query(t.Context(), st, room)
	var p page
	p.fin = res
	for _, got := range e.box.take() {
		if got.Attr("from") != room.String() || got.Attr("to") != from.String() {
			t.Errorf("result from %q to %q", got.Attr("from"), got.Attr("to"))
		}
		r := got.Child("result", NS)
		fwd := r.Child("forwarded", NSForward)
		msg := fwd.Child("message", stanza.NSClient)
		if r.Attr("queryid") != "q" || fwd.Child("delay", stanza.NSDelay) == nil || msg == nil {
			t.Fatalf("result %s", got)
		}
		p.ids = append(p.ids, r.Attr("id"))
		p.bodies = append(p.bodies, msg.ChildText("body", stanza.NSClient))
		p.msgs = append(p.msgs, msg)
	}
	return p, qe
}

func form(with string) string {
	if with == "" {
		return ""
	}
	return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>` +
		`<field var='with'><value>` + with + `</value></field></x>`
}

func rsm(max int, after string) string {
	s := `<set xmlns='http://jabber.org/protocol/rsm'><max>` + strconv.Itoa(max) + `</max>`
	if after != "" {
		s += `<after>` + after + `</after>`
	}
	return s + `</set>`
}

// all pages through room's archive max at a time, as a client does.
func (e *roomsEnv) all(t testing.TB, room jid.JID, with string, max int) (ids, bodies []string) {
	t.Helper()
	after := ""
	for range 100 {
		p, qe := e.query(t, room, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'>`+form(with)+rsm(max, after)+`</query>`)
		if qe != nil {
			t.Fatal(qe)
		}
		ids, bodies = append(ids, p.ids...), append(bodies, p.bodies...)
		if p.fin.Attr("complete") == "true" {
			return ids, bodies
		}
		after = p.fin.Child("set", NSRSM).ChildText("last", NSRSM)
	}
	t.Fatal("the pages never end")
	return nil, nil
}

func TestRoomsStoreQuery(t *testing.T) {
	e := newRoomsEnv(t)
	var ids, bodies []string
	for i := range 7 {
		nick := []string{"ann", "ben"}[i%2]
		body := fmt.Sprintf("%s-%d", nick, i)
		ids, bodies = append(ids, e.store(t, den, nick, body)), append(bodies, body)
	}
	e.store(t, attic, "ann", "elsewhere")
	pick := func(want ...int) (out []string) {
		for _, i := range want {
			out = append(out, bodies[i])
		}
		return out
	}
	for _, tc := range []struct {
		name, with string
		max        int
		want       []string
	}{
		{"all, in pages of three", "", 3, bodies},
		{"all, one page", "", 50, bodies},
		{"the whole room as with", den.String(), 2, bodies},
		{"one occupant", den.String() + "/ann", 2, pick(0, 2, 4, 6)},
		{"the other occupant", den.String() + "/ben", 10, pick(1, 3, 5)},
		{"nobody of that name", den.String() + "/cy", 10, nil},
		{"someone else's JID", "ann@home.test", 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotIDs, got := e.all(t, den, tc.with, tc.max)
			if !slices.Equal(got, tc.want) {
				t.Errorf("bodies %v, want %v", got, tc.want)
			}
			if tc.with == "" && !slices.Equal(gotIDs, ids) {
				t.Errorf("ids %v, want the stanza-ids %v", gotIDs, ids)
			}
		})
	}

	t.Run("count and messages", func(t *testing.T) {
		p, qe := e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'>`+rsm(1, "")+`</query>`)
		if qe != nil {
			t.Fatal(qe)
		}
		set := p.fin.Child("set", NSRSM)
		if set.ChildText("count", NSRSM) != "7" || p.fin.Attr("complete") == "true" {
			t.Errorf("fin %s", p.fin)
		}
		msg := p.msgs[0]
		if msg.Attr("from") != den.String()+"/ann" || msg.Attr("type") != "groupchat" || msg.Child("occupant-id", NSOccupantID) == nil {
			t.Errorf("archived message %s", msg)
		}
	})

	t.Run("ids and before-id", func(t *testing.T) {
		inner := `<query xmlns='urn:xmpp:mam:2' queryid='q'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='ids'><value>` + ids[5] + `</value><value>` + ids[1] + `</value></field></x></query>`
		p, qe := e.query(t, den, asker, "set", inner)
		if qe != nil || !slices.Equal(p.bodies, pick(1, 5)) {
			t.Errorf("ids: %v, %v", p.bodies, qe)
		}
		inner = `<query xmlns='urn:xmpp:mam:2' queryid='q'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='before-id'><value>` + ids[2] + `</value></field></x></query>`
		p, qe = e.query(t, den, asker, "set", inner)
		if qe != nil || !slices.Equal(p.bodies, pick(0, 1)) {
			t.Errorf("before-id: %v, %v", p.bodies, qe)
		}
		// An id of another room's archive is not in this one.
		other := e.store(t, attic, "ben", "other")
		inner = `<query xmlns='urn:xmpp:mam:2' queryid='q'>` + rsm(5, other) + `</query>`
		if _, qe := e.query(t, den, asker, "set", inner); qe == nil || qe.Condition != stanza.ItemNotFound {
			t.Errorf("after another room's id: %v", qe)
		}
	})

	t.Run("form and metadata", func(t *testing.T) {
		p, qe := e.query(t, den, asker, "get", `<query xmlns='urn:xmpp:mam:2'/>`)
		if qe != nil || p.fin.Child("x", stanza.NSDataForms) == nil {
			t.Errorf("form: %v, %v", p.fin, qe)
		}
		p, qe = e.query(t, den, asker, "get", `<metadata xmlns='urn:xmpp:mam:2'/>`)
		if qe != nil || p.fin.Child("start", NS).Attr("id") != ids[0] || p.fin.Child("end", NS).Attr("id") != ids[6] {
			t.Errorf("metadata: %v, %v", p.fin, qe)
		}
		if _, qe := e.query(t, den, asker, "get", `<prefs xmlns='urn:xmpp:mam:2'/>`); qe == nil || qe.Condition != stanza.FeatureNotImplemented {
			t.Errorf("prefs: %v", qe)
		}
		if _, qe := e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'><bogus/></query>`); qe == nil || qe.Condition != stanza.BadRequest {
			t.Errorf("bad query: %v", qe)
		}
	})
}

// An asker on another server gets its results through the router, which
// here has no federation: they bounce, and the query still ends.
func TestRoomsQueryFromRemote(t *testing.T) {
	e := newRoomsEnv(t)
	e.store(t, den, "ann", "hello")
	p, qe := e.query(t, den, remote, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`)
	if qe != nil || p.fin == nil || p.fin.Attr("complete") != "true" {
		t.Errorf("remote query: %v, %v", p.fin, qe)
	}
	// An asker here without a session is answered by nobody.
	gone := jid.MustParse("alice@home.test/tablet")
	if _, qe := e.query(t, den, gone, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`); qe != router.ErrAnswered {
		t.Errorf("query from a gone session: %v", qe)
	}
}

func TestRoomsForgedStanzaID(t *testing.T) {
	e := newRoomsEnv(t)
	msg := parse(t, `<message xmlns='jabber:client' type='groupchat' from='den@conference.home.test/ann'><body>hi</body>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' by='den@conference.home.test' id='forged'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' by='DEN@conference.home.test' id='forged2'/>`+
		`<stanza-id xmlns='urn:xmpp:sid:0' by='ann@home.test' id='kept'/></message>`)
	out, d := e.rs.Store(t.Context(), den, "ann", msg)
	<-d.Done()
	if d.Failed() != nil {
		t.Fatal(d.Failed())
	}
	if got := stanzaIDs(out, den.String()); len(got) != 1 || got[0] == "forged" {
		t.Errorf("stanza-ids by the room: %v in %s", got, out)
	}
	if got := stanzaIDs(out, "ann@home.test"); !slices.Equal(got, []string{"kept"}) {
		t.Errorf("other stanza-ids: %v", got)
	}
	if len(msg.Elements()) != 4 {
		t.Errorf("the message handed in was changed: %s", msg)
	}
	// Not archived: no body, or asked not to be.
	for _, s := range []string{
		`<message xmlns='jabber:client' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
		`<message xmlns='jabber:client' type='groupchat'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>`,
	} {
		out, d := e.rs.Store(t.Context(), den, "ann", parse(t, s))
		<-d.Done()
		if d.Failed() != nil || len(stanzaIDs(out, den.String())) != 0 {
			t.Errorf("%s: %s, %v", s, out, d.Failed())
		}
	}
	if ids, _ := e.all(t, den, "", 10); len(ids) != 1 {
		t.Errorf("archived %d messages, want 1", len(ids))
	}
}

func TestRoomsRecent(t *testing.T) {
	e := newRoomsEnv(t)
	var ids []string
	for i := range 6 {
		ids = append(ids, e.store(t, den, "ann", strconv.Itoa(i)))
	}
	e.store(t, attic, "ann", "elsewhere")
	bodies := func(els []*stanza.Element) (out []string) {
		for _, el := range els {
			out = append(out, el.ChildText("body", stanza.NSClient))
		}
		return out
	}
	got, err := e.rs.Recent(t.Context(), den, 4, time.Time{})
	if err != nil || !slices.Equal(bodies(got), []string{"2", "3", "4", "5"}) {
		t.Fatalf("recent 4: %v, %v", bodies(got), err)
	}
	for i, el := range got {
		d := el.Child("delay", stanza.NSDelay)
		if d == nil || d.Attr("from") != den.String() || d.Attr("stamp") == "" {
			t.Errorf("message %d has delay %v", i, d)
		}
		if sid := stanzaIDs(el, den.String()); !slices.Equal(sid, []string{ids[i+2]}) {
			t.Errorf("message %d has stanza-ids %v, want %s", i, sid, ids[i+2])
		}
	}
	// since: at or after the time of the fourth message (to the
	// millisecond, the time an id tells).
	id3, _, _ := parseID(ids[3])
	since := timeOf(id3)
	var want []string
	for i, public := range ids {
		if id, _, _ := parseID(public); !timeOf(id).Before(since) {
			want = append(want, strconv.Itoa(i))
		}
	}
	got, err = e.rs.Recent(t.Context(), den, 10, since)
	if err != nil || !slices.Equal(bodies(got), want) {
		t.Errorf("recent since: %v, %v; want %v", bodies(got), err, want)
	}
	got, err = e.rs.Recent(t.Context(), den, 10, time.Now().Add(time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("recent since the future: %v, %v", bodies(got), err)
	}
	if got, err := e.rs.Recent(t.Context(), jid.MustParse("new@conference.home.test"), 10, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("recent of a new room: %v, %v", got, err)
	}
}

func TestRoomsRetract(t *testing.T) {
	e := newRoomsEnv(t)
	var ids []string
	for i := range 3 {
		ids = append(ids, e.store(t, den, "ann", strconv.Itoa(i)))
	}
	mod := den.WithResource("mod")
	if err := e.rs.Retract(t.Context(), den, ids[1], mod, "mod-occupant-id", "not for this room"); err != nil {
		t.Fatal(err)
	}
	p, qe := e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`)
	if qe != nil || !slices.Equal(p.ids, ids) {
		t.Fatalf("after retraction: %v, %v", p.ids, qe)
	}
	tomb := p.msgs[1]
	r := tomb.Child("retracted", NSRetract)
	if tomb.Child("body", stanza.NSClient) != nil || r == nil || r.Attr("stamp") == "" ||
		r.Child("moderated", NSModerate).Attr("by") != mod.String() || r.ChildText("reason", NSRetract) != "not for this room" ||
		r.Child("moderated", NSModerate).Child("occupant-id", NSOccupantID).Attr("id") != "mod-occupant-id" {
		t.Errorf("tombstone %s", tomb)
	}
	if tomb.Attr("id") != "m-1" || tomb.Attr("from") != den.String()+"/ann" || tomb.Attr("type") != "groupchat" ||
		tomb.Child("occupant-id", NSOccupantID) == nil {
		t.Errorf("the tombstone lost the message's attributes or occupant-id: %s", tomb)
	}
	if p.bodies[0] != "0" || p.bodies[2] != "2" {
		t.Errorf("the other messages changed: %v", p.bodies)
	}
	// The sender's own retraction (XEP-0424) names no moderator.
	if err := e.rs.Retract(t.Context(), den, ids[2], den.WithResource("ann"), "", ""); err != nil {
		t.Fatal(err)
	}
	p, _ = e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`)
	if r := p.msgs[2].Child("retracted", NSRetract); r == nil || r.Child("moderated", NSModerate) != nil || p.bodies[2] != "" {
		t.Errorf("self-retracted %s", p.msgs[2])
	}
	// History on join leaves retracted messages out.
	recent, err := e.rs.Recent(t.Context(), den, 3, time.Time{})
	if err != nil || len(recent) != 1 || recent[0].ChildText("body", stanza.NSClient) != "0" {
		t.Errorf("recent after retractions: %v, %v", recent, err)
	}
	for _, tc := range []struct{ name, id string }{
		{"not an id", "bogus"},
		{"an id of another room", e.store(t, attic, "ann", "x")},
		{"a forged tag", ids[0][:12] + "AAAAAAAAAA"},
	} {
		if err := e.rs.Retract(t.Context(), den, tc.id, mod, "", ""); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestRoomsDelete(t *testing.T) {
	e := newRoomsEnv(t)
	for i := range 3 {
		e.store(t, den, "ann", strconv.Itoa(i))
	}
	e.store(t, attic, "ann", "kept")
	if err := e.rs.Delete(t.Context(), den); err != nil {
		t.Fatal(err)
	}
	p, qe := e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`)
	if qe != nil || len(p.ids) != 0 || p.fin.Child("set", NSRSM).ChildText("count", NSRSM) != "0" {
		t.Errorf("after delete: %v, %v", p.bodies, qe)
	}
	if _, bodies := e.all(t, attic, "", 10); !slices.Equal(bodies, []string{"kept"}) {
		t.Errorf("the other room's archive: %v", bodies)
	}
	// A room archived again after its archive went starts afresh.
	e.store(t, den, "ben", "again")
	if _, bodies := e.all(t, den, "", 10); !slices.Equal(bodies, []string{"again"}) {
		t.Errorf("after a new message: %v", bodies)
	}
}

// mam.retention deletes a room's old messages as it does an account's.
func TestRoomsRetention(t *testing.T) {
	e := newRoomsEnv(t)
	for i := range 3 {
		e.store(t, den, "ann", strconv.Itoa(i))
	}
	if err := e.m.SetRetention(t.Context(), -1); err != nil { // forever
		t.Fatal(err)
	}
	if ids, _ := e.all(t, den, "", 10); len(ids) != 3 {
		t.Fatalf("kept forever: %d messages", len(ids))
	}
	// Wait for the clock to pass the last message's millisecond, then
	// keep messages one millisecond.
	last := time.Now()
	for time.Since(last) < 3*time.Millisecond {
		time.Sleep(time.Millisecond)
	}
	if err := e.m.SetRetention(t.Context(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ids, _ := e.all(t, den, "", 10); len(ids) != 0 {
		t.Errorf("%d messages older than the retention time left", len(ids))
	}
	if got, _ := e.rs.Recent(t.Context(), den, 10, time.Time{}); len(got) != 0 {
		t.Errorf("recent: %d messages", len(got))
	}
}

// mam.enabled off: nothing is archived, queries are refused; what was
// archived before can still be retracted and deleted.
func TestRoomsDisabled(t *testing.T) {
	e := newRoomsEnv(t)
	id := e.store(t, den, "ann", "before")
	e.m.SetEnabled(false)
	msg := parse(t, `<message xmlns='jabber:client' type='groupchat'><body>off</body></message>`)
	out, d := e.rs.Store(t.Context(), den, "ann", msg)
	select {
	case <-d.Done():
	default:
		t.Error("the Durable of a message not archived is not done")
	}
	if out != msg || d.Failed() != nil || e.rs.Enabled() {
		t.Errorf("store while off: %s, %v", out, d.Failed())
	}
	if _, qe := e.query(t, den, asker, "set", `<query xmlns='urn:xmpp:mam:2' queryid='q'/>`); qe == nil || qe.Condition != stanza.ServiceUnavailable {
		t.Errorf("query while off: %v", qe)
	}
	if err := e.rs.Retract(t.Context(), den, id, den.WithResource("mod"), "", ""); err != nil {
		t.Errorf("retract while off: %v", err)
	}
	e.m.SetEnabled(true)
	if _, bodies := e.all(t, den, "", 10); len(bodies) != 1 || bodies[0] != "" {
		t.Errorf("archive after being off: %q", bodies)
	}
}

// Rooms are used from many goroutines at once (every room's and every
// asker's): stores, queries, recent history and retractions together lose
// nothing and mix no rooms.
func TestRoomsConcurrent(t *testing.T) {
	e := newRoomsEnv(t)
	rooms := []jid.JID{den, attic}
	var wg sync.WaitGroup
	ids := make([][]string, 4)
	for g := range 4 {
		wg.Go(func() {
			room := rooms[g%2]
			for i := range 25 {
				id := e.store(t, room, "n"+strconv.Itoa(g), fmt.Sprintf("%d-%d", g, i))
				ids[g] = append(ids[g], id)
				if i%5 == 0 {
					if err := e.rs.Retract(t.Context(), room, id, room.WithResource("mod"), "", "test"); err != nil {
						t.Error(err)
					}
				}
				if _, err := e.rs.Recent(t.Context(), room, 5, time.Time{}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for r, room := range rooms {
		got, _ := e.all(t, room, "", 100)
		var want []string
		for g := r; g < 4; g += 2 {
			want = append(want, ids[g]...)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d messages, want %d", room, len(got), len(want))
		}
	}
}
