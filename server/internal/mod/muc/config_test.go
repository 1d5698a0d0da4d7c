package muc

import (
	"strings"
	"testing"

	"hearth/server/internal/mod/modtest"
)

// conf submits the configuration fields (XML) as alice, the owner of tea,
// and returns what alice got.
func (e *env) conf(fields string) string {
	e.send("alice", `<iq type='set' id='c2' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+fields+`</x></query></iq>`)
	return e.take("alice")
}

func (e *env) cfg(local string) Config {
	r := e.m.room(local)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// TestPasswordField: a room secret given without passwordprotectedroom
// protects the room; only an explicit 0 takes the password away.
func TestPasswordField(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), nil, "alice")
	e.create("alice", "tea", "Alice")
	has(t, e.conf(`<field var='muc#roomconfig_roomsecret'><value>biscuits</value></field>`), `type="result"`)
	if c := e.cfg("tea"); c.Password != "biscuits" {
		t.Fatalf("the secret alone was dropped: %+v", c)
	}
	has(t, e.conf(`<field var='muc#roomconfig_roomname'><value>Tea</value></field>`), `type="result"`)
	if c := e.cfg("tea"); c.Password != "biscuits" {
		t.Errorf("another change dropped the password: %+v", c)
	}
	has(t, e.conf(`<field var='muc#roomconfig_passwordprotectedroom'><value>0</value></field>`), `type="result"`)
	if c := e.cfg("tea"); c.Password != "" {
		t.Errorf("an explicit 0 kept the password: %+v", c)
	}
	if got := e.conf(`<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>`); !strings.Contains(got, "not-acceptable") {
		t.Errorf("protected without a secret: %s", got)
	}
}

// TestModeratorRevoke: a moderator who is not admin or owner cannot take
// another moderator's role away (nor kick one); an admin can.
func TestModeratorRevoke(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob", "carol", "dave"), nil, "alice", "bob", "carol", "dave")
	e.create("alice", "tea", "Alice")
	for _, u := range []string{"bob", "carol", "dave"} {
		e.join(u, "tea", strings.ToUpper(u[:1])+u[1:])
	}
	role := func(from, nick, role, id string) string {
		e.send(from, `<iq type='set' id='`+id+`' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='`+nick+`' role='`+role+`'/></query></iq>`)
		return e.take(from)
	}
	has(t, role("alice", "Bob", "moderator", "r1"), `type="result" id="r1"`)
	has(t, role("alice", "Carol", "moderator", "r2"), `type="result" id="r2"`)
	has(t, role("bob", "Carol", "participant", "r3"), `id="r3"`, `<not-allowed`)
	has(t, role("bob", "Carol", "none", "r4"), `id="r4"`, `<not-allowed`)
	has(t, role("bob", "Dave", "visitor", "r5"), `type="result" id="r5"`) // participants remain his to change
	has(t, role("alice", "Carol", "participant", "r6"), `type="result" id="r6"`)
}

// TestOwnersAdminsFields: an owner listed only among the admins becomes
// an admin, every time (the fields are applied in one order); an empty
// roomowners changes nothing.
func TestOwnersAdminsFields(t *testing.T) {
	for i := range 20 {
		e := newEnv(t, modtest.DB(t, "alice", "bob"), nil, "alice")
		e.create("alice", "tea", "Alice")
		has(t, e.conf(`<field var='muc#roomconfig_roomowners'><value>alice@example.org</value><value>bob@example.org</value></field>`), `type="result"`)
		has(t, e.conf(`<field var='muc#roomconfig_roomowners'><value>alice@example.org</value></field><field var='muc#roomconfig_roomadmins'><value>bob@example.org</value></field>`), `type="result"`)
		if affs, _ := e.m.Affiliations(t.Context(), "tea"); affs["bob@example.org"] != affAdmin {
			t.Fatalf("try %d: bob is %q, want admin", i, affs["bob@example.org"])
		}
		has(t, e.conf(`<field var='muc#roomconfig_roomowners'><value/></field>`), `type="result"`)
		if affs, _ := e.m.Affiliations(t.Context(), "tea"); affs["alice@example.org"] != affOwner {
			t.Fatalf("an empty roomowners: %v", affs)
		}
	}
}

// TestDestroyAlternate: an owner's destroy with an alternate room that is
// not an address is refused (jid-malformed) and the room stays.
func TestDestroyAlternate(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), nil, "alice")
	e.create("alice", "tea", "Alice")
	e.send("alice", `<iq type='set' id='z' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='@@not an address'/></query></iq>`)
	has(t, e.take("alice"), `id="z"`, `<jid-malformed`)
	if e.m.room("tea") == nil {
		t.Error("the room was destroyed")
	}
}

// TestForwardAllowPM: queries between occupants follow allowpm as private
// messages do.
func TestForwardAllowPM(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob"), nil, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_allowpm", "moderators")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	e.send("bob", `<iq type='get' id='v' to='tea@conference.example.org/Alice'><query xmlns='jabber:iq:version'/></iq>`)
	has(t, e.take("bob"), `id="v"`, `<not-allowed`)
	if got := e.take("alice"); strings.Contains(got, "jabber:iq:version") {
		t.Errorf("forwarded: %s", got)
	}
	e.conf(`<field var='muc#roomconfig_allowpm'><value>none</value></field>`)
	e.send("alice", `<iq type='get' id='v2' to='tea@conference.example.org/Bob'><query xmlns='jabber:iq:version'/></iq>`)
	has(t, e.take("alice"), `id="v2"`, `<not-allowed`)
}

// TestEnsureRoomKeeps: EnsureRoom on a room that exists applies the
// switches (NonAnonymous too) and leaves the name and description its
// owner set.
func TestEnsureRoomKeeps(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), &fakeArchive{}, "alice")
	want := RoomConfig{Name: "Family", Description: "Everyone at home", Persistent: true, MembersOnly: true, Archived: true, NonAnonymous: true}
	if err := e.m.EnsureRoom(t.Context(), "tea", want); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetAffiliation(t.Context(), "tea", "alice@example.org", affOwner, ""); err != nil {
		t.Fatal(err)
	}
	if c := e.cfg("tea"); !c.WhoisAnyone || !c.MembersOnly || !c.Archive || c.Name != "Family" {
		t.Fatalf("made as %+v", c)
	}
	e.join("alice", "tea", "Alice")
	has(t, e.conf(`<field var='muc#roomconfig_roomname'><value>The Smiths</value></field><field var='muc#roomconfig_roomdesc'><value>us</value></field><field var='muc#roomconfig_whois'><value>moderators</value></field>`), `type="result"`)
	e2 := newEnv(t, e.db, &fakeArchive{}) // a restart
	if err := e2.m.EnsureRoom(t.Context(), "tea", want); err != nil {
		t.Fatal(err)
	}
	if c := e2.cfg("tea"); c.Name != "The Smiths" || c.Description != "us" || !c.WhoisAnyone || !c.Persistent {
		t.Errorf("after EnsureRoom again: %+v", c)
	}
}

// TestEmptiedRoomHistory: an archived room that empties drops the history
// it kept in memory; the next to join gets it from the archive.
func TestEmptiedRoomHistory(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob"), &fakeArchive{}, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablearchiving", "1")
	e.send("alice", `<message to='tea@conference.example.org' type='groupchat' id='m1'><body>kept</body></message>`)
	e.send("alice", `<presence to='tea@conference.example.org/Alice' type='unavailable'/>`)
	r := e.m.room("tea")
	r.mu.Lock()
	n := len(r.history.items)
	r.mu.Unlock()
	if n != 0 {
		t.Errorf("an empty archived room keeps %d messages in memory", n)
	}
	has(t, e.join("bob", "tea", "Bob"), `id="m1"`, `<body>kept</body>`)
}

// TestEnsureRoomTemporary: EnsureRoom makes no temporary room (nobody
// would own or remove it); one made temporary with nobody in it goes.
func TestEnsureRoomTemporary(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice"), nil, "alice")
	if err := e.m.EnsureRoom(t.Context(), "tea", RoomConfig{Name: "Tea"}); err == nil || e.m.room("tea") != nil {
		t.Errorf("a temporary room was made: %v", err)
	}
	if err := e.m.EnsureRoom(t.Context(), "tea", RoomConfig{Persistent: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.EnsureRoom(t.Context(), "tea", RoomConfig{}); err != nil {
		t.Fatal(err)
	}
	if e.m.room("tea") != nil {
		t.Error("an empty room made temporary stayed")
	}
}
