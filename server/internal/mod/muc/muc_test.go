package muc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// fakeArchive is an in-memory Archive for the room engine's unit tests
// (the real one is mod/mam's).
type fakeArchive struct {
	mu        sync.Mutex
	msgs      map[string][]*stanza.Element // by room
	n         int
	retracted []string
	queried   int
	deleted   []string
	off       bool          // mam.enabled off
	gate      chan struct{} // non-nil: stores are committed when it closes
	fail      *stanza.Error // non-nil: stores fail
	delGate   chan struct{} // non-nil: Delete returns when it closes
}

func (a *fakeArchive) Enabled() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.off
}

type done struct {
	ch  chan struct{}
	err *stanza.Error
}

func (d done) Done() <-chan struct{} { return d.ch }
func (d done) Failed() *stanza.Error { return d.err }

func (a *fakeArchive) Store(_ context.Context, room jid.JID, _ string, msg *stanza.Element) (*stanza.Element, router.Durable) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	c := msg.ShallowClone()
	c.RemoveChildren("stanza-id", nsSID)
	c.Append(stanza.New("stanza-id", nsSID, "id", fmt.Sprintf("sid%d", a.n), "by", room.String()))
	if a.msgs == nil {
		a.msgs = map[string][]*stanza.Element{}
	}
	a.msgs[room.String()] = append(a.msgs[room.String()], c)
	if a.gate != nil {
		return c, done{a.gate, a.fail}
	}
	ch := make(chan struct{})
	close(ch)
	return c, done{ch, a.fail}
}

func (a *fakeArchive) Query(_ context.Context, st *stanza.Stanza, room jid.JID) (*stanza.Element, *stanza.Error) {
	a.mu.Lock()
	a.queried++
	a.mu.Unlock()
	return stanza.New("fin", nsMAM, "complete", "true"), nil
}

func (a *fakeArchive) Recent(_ context.Context, room jid.JID, max int, since time.Time) ([]*stanza.Element, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*stanza.Element
	for _, m := range a.msgs[room.String()] {
		c := m.ShallowClone()
		c.Append(stanza.New("delay", stanza.NSDelay, "from", room.String(), "stamp", "2026-01-02T03:04:05Z"))
		out = append(out, c)
	}
	return out, nil
}

func (a *fakeArchive) Retract(_ context.Context, room jid.JID, id string, by jid.JID, byID, reason string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range a.msgs[room.String()] {
		if m.Child("stanza-id", nsSID).Attr("id") == id {
			a.retracted = append(a.retracted, id)
			return nil
		}
	}
	return storage.ErrNotFound
}

func (a *fakeArchive) Delete(_ context.Context, room jid.JID) error {
	a.mu.Lock()
	g := a.delGate
	a.mu.Unlock()
	if g != nil {
		<-g
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deleted = append(a.deleted, room.String())
	delete(a.msgs, room.String())
	return nil
}

var roomJID = jid.MustParse("room@conference.example.org")

type env struct {
	t     testing.TB
	db    *storage.DB
	r     *router.Router
	m     *Module
	conns map[string]*modtest.Conn
}

func newEnv(t *testing.T, db *storage.DB, a Archive, users ...string) *env {
	t.Helper()
	return newEnvTB(t, db, a, users...)
}

func newEnvTB(t testing.TB, db *storage.DB, a Archive, users ...string) *env {
	t.Helper()
	r := modtest.Router()
	var arch Archive
	if a != nil {
		arch = a
	}
	m := New(Deps{DB: db, Router: r, Domain: modtest.Domain, Archive: arch})
	m.Register(r.Mux())
	e := &env{t: t, db: db, r: r, m: m, conns: map[string]*modtest.Conn{}}
	for _, u := range users {
		_, c := modtest.Bind(t, r, u+"@"+modtest.Domain+"/pc")
		e.conns[u] = c
	}
	return e
}

// send routes xml from user's session.
func (e *env) send(user, xml string) {
	e.t.Helper()
	st := modtest.Stanza(e.t, xml)
	st = st.WithAddrs(jid.MustParse(user+"@"+modtest.Domain+"/pc"), st.To)
	e.r.Route(context.Background(), st)
}

// take returns what user was sent since the last take, joined.
func (e *env) take(user string) string { return strings.Join(e.conns[user].Take(), "\n") }

func (e *env) create(user, room, nick string, fields ...string) {
	e.t.Helper()
	e.send(user, `<presence to='`+room+`@conference.example.org/`+nick+`'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	var f strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&f, `<field var='%s'><value>%s</value></field>`, fields[i], fields[i+1])
	}
	e.send(user, `<iq type='set' id='c' to='`+room+`@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+f.String()+`</x></query></iq>`)
	if got := e.take(user); !strings.Contains(got, `type="result" id="c"`) {
		e.t.Fatalf("room %s not configured: %s", room, got)
	}
}

func (e *env) join(user, room, nick string) string {
	e.send(user, `<presence to='`+room+`@conference.example.org/`+nick+`'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	return e.take(user)
}

func has(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("missing %s in:\n%s", w, got)
		}
	}
}

// TestArchived: with an archive and a room that archives, messages carry
// the room's stanza-id, joiners get 170, a restarted service fills the
// history from the archive, moderators retract (XEP-0425), MAM queries
// are let through to occupants only, and destroying deletes the archive.
func TestArchived(t *testing.T) {
	db := modtest.DB(t, "alice", "bob", "carol")
	a := &fakeArchive{}
	e := newEnv(t, db, a, "alice", "bob", "carol")
	e.create("alice", "log", "Alice", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablearchiving", "1")
	has(t, e.join("bob", "log", "Bob"), `<status code="110"/><status code="170"/>`)
	e.take("alice")
	e.send("bob", `<message to='log@conference.example.org' type='groupchat' id='m1'><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='log@conference.example.org'/></message>`)
	got := e.take("alice")
	has(t, got, `<stanza-id xmlns="urn:xmpp:sid:0" id="sid1" by="log@conference.example.org"/>`)
	if strings.Contains(got, "forged") {
		t.Errorf("a forged stanza-id went out: %s", got)
	}
	e.send("alice", `<iq type='get' id='d' to='log@conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	has(t, e.take("alice"), `var="urn:xmpp:mam:2"`, `var="urn:xmpp:sid:0"`, `var="urn:xmpp:message-moderate:1"`, `var="muc_persistent"`)

	// MAM: bob (an occupant) may query; carol (not in) may not.
	e.send("bob", `<iq type='set' id='q1' to='log@conference.example.org'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	has(t, e.take("bob"), `type="result" id="q1"`, `<fin xmlns="urn:xmpp:mam:2" complete="true"/>`)
	e.send("bob", `<iq type='get' id='q3' to='log@conference.example.org'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
	has(t, e.take("bob"), `type="result" id="q3"`)
	e.send("carol", `<iq type='set' id='q2' to='log@conference.example.org'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	has(t, e.take("carol"), `id="q2"`, `<forbidden`)

	// Moderation: bob may not, alice may; unknown ids are item-not-found.
	mod := `<iq type='set' id='%s' to='log@conference.example.org'><moderate xmlns='urn:xmpp:message-moderate:1' id='%s'><retract xmlns='urn:xmpp:message-retract:1'/><reason>spam</reason></moderate></iq>`
	e.send("bob", fmt.Sprintf(mod, "x1", "sid1"))
	has(t, e.take("bob"), `id="x1"`, `<forbidden`)
	e.send("alice", fmt.Sprintf(mod, "x2", "nope"))
	has(t, e.take("alice"), `id="x2"`, `<item-not-found`)
	e.send("alice", fmt.Sprintf(mod, "x3", "sid1"))
	has(t, e.take("bob"), `<retract xmlns="urn:xmpp:message-retract:1" id="sid1"><moderated xmlns="urn:xmpp:message-moderate:1" by="log@conference.example.org/Alice">`, `<reason>spam</reason>`)
	if len(a.retracted) != 1 {
		t.Errorf("retracted: %v", a.retracted)
	}
	// The notice is archived (with a store hint) and went out with its stanza-id.
	has(t, e.take("alice"), `<retract xmlns="urn:xmpp:message-retract:1" id="sid1">`, `<stanza-id xmlns="urn:xmpp:sid:0" id="sid2" by="log@conference.example.org"/>`)
	if ms := a.msgs["log@conference.example.org"]; len(ms) != 2 || ms[1].Child("retract", nsRetract) == nil || ms[1].Child("store", nsHints) == nil {
		t.Errorf("the moderation notice was not archived: %v", ms)
	}
	e.send("bob", `<message to='log@conference.example.org' type='groupchat' id='m2'><body>again</body></message>`)

	// A new service on the same database (a restart): history from the
	// archive, with the archive's delay.
	e2 := newEnv(t, db, a, "dave")
	got = e2.join("dave", "log", "Dave")
	has(t, got, `id="m2"`, `<delay xmlns="urn:xmpp:delay" from="log@conference.example.org" stamp="2026-01-02T03:04:05Z"/>`)

	// Destroying deletes the archive.
	e2.send("alice", `<iq type='set' id='z' to='log@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>`)
	e2.m.Close() // waits for the delete
	if len(a.deleted) != 1 {
		t.Errorf("archives deleted: %v", a.deleted)
	}
}

// TestNoArchive: without an archive there is no stanza-id, no MAM, no
// archiving field, and moderation is not offered.
func TestNoArchive(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), nil, "alice")
	e.create("alice", "plain", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.send("alice", `<message to='plain@conference.example.org' type='groupchat' id='m1'><body>hi</body></message>`)
	if got := e.take("alice"); strings.Contains(got, "stanza-id") || !strings.Contains(got, "<body>hi</body>") {
		t.Errorf("message without archive: %s", got)
	}
	e.send("alice", `<iq type='set' id='q1' to='plain@conference.example.org'><query xmlns='urn:xmpp:mam:2'/></iq>`)
	has(t, e.take("alice"), `id="q1"`, `<forbidden`)
	e.send("alice", `<iq type='get' id='d' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := e.take("alice"); strings.Contains(got, "mam") {
		t.Errorf("MAM advertised without an archive: %s", got)
	}
}

// TestAdminAPI: the admin side's calls (contract section 2).
func TestAdminAPI(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice", "bob")
	e := newEnv(t, db, nil, "alice", "bob")
	m := e.m
	if m.Service() != "conference.example.org" {
		t.Errorf("Service: %s", m.Service())
	}
	if err := m.EnsureRoom(ctx, "family", RoomConfig{Name: "Family", Persistent: true, MembersOnly: true, Public: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetAffiliation(ctx, "family@conference.example.org", "alice@example.org", "owner", ""); err != nil {
		t.Fatal(err)
	}
	if err := m.SetAffiliation(ctx, "family", "bob@example.org/phone", "member", "kin"); err != nil {
		t.Fatal(err)
	}
	if err := m.SetAffiliation(ctx, "family", "bob@example.org", "king", ""); err == nil {
		t.Error("affiliation king accepted")
	}
	affs, err := m.Affiliations(ctx, "family")
	if err != nil || affs["alice@example.org"] != "owner" || affs["bob@example.org"] != "member" || len(affs) != 2 {
		t.Errorf("Affiliations: %v, %v", affs, err)
	}
	has(t, e.join("bob", "family", "Bob"), `affiliation="member" role="participant"`)
	occ, err := m.Occupants("family")
	if err != nil || len(occ) != 1 || occ[0] != (OccupantInfo{Nick: "Bob", JID: "bob@example.org/pc", Role: "participant", Affiliation: "member"}) {
		t.Errorf("Occupants: %+v, %v", occ, err)
	}
	rooms := m.Rooms()
	if len(rooms) != 1 || rooms[0] != (RoomInfo{JID: "family@conference.example.org", Name: "Family", Persistent: true, Public: true, MembersOnly: true, Occupants: 1}) {
		t.Errorf("Rooms: %+v", rooms)
	}
	// Reconfiguring tells the occupants (104).
	if err := m.EnsureRoom(ctx, "family", RoomConfig{Name: "Family", Persistent: true, MembersOnly: true, Description: "us"}); err != nil {
		t.Fatal(err)
	}
	has(t, e.take("bob"), `<status code="104"/>`)
	// Removing a member of a members-only room puts him out (321).
	if err := m.SetAffiliation(ctx, "family", "bob@example.org", "none", ""); err != nil {
		t.Fatal(err)
	}
	has(t, e.take("bob"), `type="unavailable"`, `<status code="321"/>`)
	if err := m.SetAffiliation(ctx, "family", "alice@example.org", "none", ""); err == nil {
		t.Error("the last owner was removed")
	}
	// Stored: a new service sees the room.
	e2 := newEnv(t, db, nil)
	if rooms := e2.m.Rooms(); len(rooms) != 1 || rooms[0].Public || rooms[0].Description != "" {
		t.Errorf("after a restart: %+v", rooms)
	}
	has(t, e.join("bob", "family", "Bob"), `<registration-required`)
	if err := m.Destroy(ctx, "family", "done", "other@conference.example.org"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		m.Destroy(ctx, "family", "", ""),
		func() error { _, err := m.Occupants("family"); return err }(),
		func() error { _, err := m.Affiliations(ctx, "nothing@conference.example.org"); return err }(),
	} {
		if !errors.Is(err, ErrNoRoom) {
			t.Errorf("no room: %v", err)
		}
	}
	if _, err := m.Occupants("x@elsewhere.example"); err == nil || errors.Is(err, ErrNoRoom) {
		t.Errorf("a room of another service: %v", err)
	}
	if stored, _ := db.MUCRooms(ctx); len(stored) != 0 {
		t.Errorf("destroyed room still stored: %+v", stored)
	}
}

// TestUserRemoved: a deleted account keeps no affiliation anywhere.
func TestUserRemoved(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice", "bob")
	e := newEnv(t, db, nil, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_persistentroom", "1")
	if err := e.m.SetAffiliation(ctx, "tea", "bob@example.org", "admin", ""); err != nil {
		t.Fatal(err)
	}
	e.m.UserRemoved(ctx, "bob")
	affs, err := e.m.Affiliations(ctx, "tea")
	if err != nil || len(affs) != 1 || affs["alice@example.org"] != "owner" {
		t.Errorf("after bob's deletion: %v, %v", affs, err)
	}
	rooms, _ := db.MUCRooms(ctx)
	if len(rooms) != 1 || len(rooms[0].Affiliations) != 1 {
		t.Errorf("stored: %+v", rooms)
	}
}

// TestConfigCodes: a configuration change tells the occupants 104, and
// 172/173 when the room becomes non-anonymous or semi-anonymous, 170/171
// when archiving starts or stops; a room made members-only puts out
// those who are not members (322).
func TestConfigCodes(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob", "carol"), &fakeArchive{}, "alice", "bob", "carol")
	e.create("alice", "tea", "Alice")
	e.join("bob", "tea", "Bob")
	e.join("carol", "tea", "Carol")
	if err := e.m.SetAffiliation(context.Background(), "tea", "bob@example.org", "member", ""); err != nil {
		t.Fatal(err)
	}
	e.take("bob")
	conf := func(fields string) {
		e.send("alice", `<iq type='set' id='c2' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+fields+`</x></query></iq>`)
	}
	conf(`<field var='muc#roomconfig_whois'><value>anyone</value></field><field var='muc#roomconfig_enablearchiving'><value>1</value></field>`)
	has(t, e.take("bob"), `<status code="104"/><status code="172"/><status code="170"/>`)
	conf(`<field var='muc#roomconfig_whois'><value>moderators</value></field><field var='mam'><value>0</value></field>`)
	has(t, e.take("bob"), `<status code="104"/><status code="173"/><status code="171"/>`)
	conf(`<field var='muc#roomconfig_membersonly'><value>1</value></field>`)
	has(t, e.take("carol"), `type="unavailable"`, `<status code="110"/><status code="322"/>`)
	got := e.take("bob")
	has(t, got, `from="tea@conference.example.org/Carol" type="unavailable"`, `<status code="322"/>`, `<status code="104"/>`)
	e.take("alice")
	conf(`<field var='muc#roomconfig_maxusers'><value>100000</value></field>`)
	has(t, e.take("alice"), `<not-acceptable`)
	// An empty list of owners leaves them as they are.
	conf(`<field var='muc#roomconfig_roomowners'></field>`)
	has(t, e.take("alice"), `type="result" id="c2"`)
	if affs, _ := e.m.Affiliations(context.Background(), "tea"); affs["alice@example.org"] != affOwner {
		t.Errorf("an empty roomowners changed the owners: %v", affs)
	}
}

// TestRing: the history kept in memory is bounded by count and by memory.
func TestRing(t *testing.T) {
	var g ring
	small := modtest.Element(t, `<message type='groupchat'><body>hi</body></message>`)
	for range historyKeep + 10 {
		g.add(entry{el: small})
	}
	if len(g.items) != historyKeep {
		t.Errorf("%d kept, want %d", len(g.items), historyKeep)
	}
	big := modtest.Element(t, `<message type='groupchat'><body>`+strings.Repeat("x", 300_000)+`</body></message>`)
	for range 5 {
		g.add(entry{el: big})
	}
	if g.bytes > historyBytes || len(g.items) != 3 {
		t.Errorf("%d messages in %d bytes kept", len(g.items), g.bytes)
	}
	huge := modtest.Element(t, `<message type='groupchat'><body>`+strings.Repeat("x", 2<<20)+`</body></message>`)
	g.add(entry{el: huge})
	if len(g.items) != 1 {
		t.Errorf("a message above the bound: %d kept", len(g.items))
	}
}

// TestArchivingField: the form offers one archiving field; mam counts
// only when muc#roomconfig_enablearchiving is absent.
func TestArchivingField(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), &fakeArchive{}, "alice")
	e.create("alice", "tea", "Alice")
	e.send("alice", `<iq type='get' id='f' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`)
	got := e.take("alice")
	if strings.Count(got, "enablearchiving") != 1 || strings.Contains(got, `var="mam"`) {
		t.Errorf("archiving fields: %s", got)
	}
	conf := func(fields string) string {
		e.send("alice", `<iq type='set' id='c2' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+fields+`</x></query></iq>`)
		return e.take("alice")
	}
	for range 20 { // map order was random: try it often
		conf(`<field var='muc#roomconfig_enablearchiving'><value>0</value></field>`)
		has(t, conf(`<field var='muc#roomconfig_enablearchiving'><value>1</value></field><field var='mam'><value>0</value></field>`), `<status code="170"/>`)
		r := e.m.room("tea")
		r.mu.Lock()
		on := r.cfg.Archive
		r.mu.Unlock()
		if !on {
			t.Fatal("mam overrode muc#roomconfig_enablearchiving")
		}
	}
	has(t, conf(`<field var='mam'><value>0</value></field>`), `<status code="171"/>`)
}

// TestArchiveSwitchedOff: while the server's archives are off (mam.enabled),
// an archiving room promises nothing: no MAM in its disco, no 170, no
// stanza-id; the service itself never advertises MAM or moderation.
func TestArchiveSwitchedOff(t *testing.T) {
	a := &fakeArchive{}
	e := newEnv(t, modtest.DB(t, "alice", "bob"), a, "alice", "bob")
	e.create("alice", "log", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.send("alice", `<iq type='get' id='d' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := e.take("alice"); strings.Contains(got, "mam") || strings.Contains(got, "moderate") {
		t.Errorf("the service advertises what only rooms answer: %s", got)
	}
	e.send("alice", `<iq type='get' id='d' to='log@conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	has(t, e.take("alice"), `var="urn:xmpp:mam:2"`, `var="urn:xmpp:mam:2#extended"`)
	a.mu.Lock()
	a.off = true
	a.mu.Unlock()
	e.send("alice", `<iq type='get' id='d' to='log@conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := e.take("alice"); strings.Contains(got, "mam") {
		t.Errorf("MAM advertised while archives are off: %s", got)
	}
	if got := e.join("bob", "log", "Bob"); strings.Contains(got, `code="170"`) {
		t.Errorf("170 while archives are off: %s", got)
	}
	e.send("bob", `<message to='log@conference.example.org' type='groupchat' id='m1'><body>hi</body></message>`)
	if got := e.take("bob"); strings.Contains(got, "stanza-id") || a.n != 0 {
		t.Errorf("stored while archives are off: %s", got)
	}
}

// TestForgedChildren: what an occupant puts in its message that only
// the room may say (someone's real JID in muc#user, status codes, a
// delay, stanza-ids whatever their by) does not go out, in groupchat or
// private messages, nor into the archive; a private message carries
// one empty muc#user <x/>.
func TestForgedChildren(t *testing.T) {
	a := &fakeArchive{}
	e := newEnv(t, modtest.DB(t, "alice", "bob"), a, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	forged := `<x xmlns='http://jabber.org/protocol/muc#user'><item jid='carol@example.org/pc' affiliation='owner'/><status code='110'/></x>` +
		`<delay xmlns='urn:xmpp:delay' stamp='2001-01-01T00:00:00Z'/><stanza-id xmlns='urn:xmpp:sid:0' id='fake' by='example.org'/>` +
		`<stanza-id xmlns='urn:xmpp:sid:0' id='fake2' by='bob@example.org'/><origin-id xmlns='urn:xmpp:sid:0' id='o1'/>`
	e.send("bob", `<message to='tea@conference.example.org' type='groupchat' id='m1'><body>hi</body>`+forged+`</message>`)
	got := e.take("alice")
	has(t, got, `<body>hi</body>`, `<origin-id xmlns="urn:xmpp:sid:0" id="o1"/>`, `id="sid1" by="tea@conference.example.org"`)
	for _, bad := range []string{"carol", "muc#user", "delay", "fake"} {
		if strings.Contains(got, bad) {
			t.Errorf("forged %s went out: %s", bad, got)
		}
	}
	if s := a.msgs["tea@conference.example.org"][0].String(); strings.Contains(s, "carol") || strings.Contains(s, "fake") {
		t.Errorf("forged children archived: %s", s)
	}
	e.send("bob", `<message to='tea@conference.example.org/Alice' type='chat' id='p1'><body>psst</body>`+forged+`</message>`)
	got = e.take("alice")
	has(t, got, `<body>psst</body>`, `<x xmlns="http://jabber.org/protocol/muc#user"/>`)
	if strings.Contains(got, "carol") || strings.Contains(got, "110") || strings.Count(got, "muc#user") != 1 {
		t.Errorf("a private message kept forged children: %s", got)
	}
}

// TestRingRemoveByRoom: only a stanza-id by the room names a message of
// the history; one by someone else, even first, does not.
func TestRingRemoveByRoom(t *testing.T) {
	var g ring
	g.add(entry{el: modtest.Element(t, `<message><body>x</body><stanza-id xmlns='urn:xmpp:sid:0' id='a' by='mallory@example.org'/><stanza-id xmlns='urn:xmpp:sid:0' id='b' by='room@conference.example.org'/></message>`)})
	g.remove("a", roomJID)
	if len(g.items) != 1 {
		t.Fatal("removed by a stanza-id not by the room")
	}
	g.remove("b", roomJID)
	if len(g.items) != 0 || g.bytes != 0 {
		t.Errorf("not removed by the room's stanza-id: %d left", len(g.items))
	}
}
