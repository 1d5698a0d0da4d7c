package muc

import (
	"fmt"
	"strings"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
)

// TestInviteLimits: invitations cost the sender's tokens, one message
// holds at most maxInvites of them, and only someone invited may decline
// (once, to whoever invited them).
func TestInviteLimits(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob", "carol"), nil, "alice", "bob", "carol")
	for _, u := range []string{"alice", "carol"} { // available: messages to the bare JID reach them
		e.r.Session(jid.MustParse(u+"@example.org/pc")).SetPresence(modtest.Element(t, `<presence/>`), 0)
	}
	e.create("alice", "tea", "Alice")
	var many strings.Builder
	for i := range maxInvites + 1 {
		fmt.Fprintf(&many, `<invite to='x%d@example.net'/>`, i)
	}
	e.send("alice", `<message to='tea@conference.example.org' id='i1'><x xmlns='http://jabber.org/protocol/muc#user'>`+many.String()+`</x></message>`)
	has(t, e.take("alice"), `id="i1"`, `<policy-violation`)
	// Decline without an invitation.
	e.send("carol", `<message to='tea@conference.example.org' id='d1'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@example.org'/></x></message>`)
	has(t, e.take("carol"), `id="d1"`, `<not-acceptable`)
	if got := e.take("alice"); strings.Contains(got, "decline") {
		t.Errorf("an uninvited decline went through: %s", got)
	}
	// Invited: the decline reaches the inviter, once.
	e.send("alice", `<message to='tea@conference.example.org' id='i2'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.org'/></x></message>`)
	has(t, e.take("carol"), `<invite from="tea@conference.example.org/Alice"/>`)
	e.send("carol", `<message to='tea@conference.example.org' id='d2'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='bob@example.org'><reason>busy</reason></decline></x></message>`)
	has(t, e.take("alice"), `<decline from="carol@example.org"><reason>busy</reason></decline>`)
	e.send("carol", `<message to='tea@conference.example.org' id='d3'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@example.org'/></x></message>`)
	has(t, e.take("carol"), `id="d3"`, `<not-acceptable`)
	// Rate: with one message a second (two at once), the third
	// invitation in a row is refused.
	e.m.SetRate(1)
	e.send("alice", `<message to='tea@conference.example.org' id='i3'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='a@example.net'/><invite to='b@example.net'/><invite to='c@example.net'/></x></message>`)
	has(t, e.take("alice"), `id="i3"`, `<resource-constraint`)
}

// TestForwardLimits: a query to another occupant costs the asker's
// tokens, and one session has at most maxPerAsker under way.
func TestForwardLimits(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob"), nil, "alice", "bob")
	e.create("alice", "tea", "Alice")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	e.m.SetRate(0)
	for i := range maxPerAsker {
		e.send("bob", fmt.Sprintf(`<iq type='get' id='v%d' to='tea@conference.example.org/Alice'><query xmlns='jabber:iq:version'/></iq>`, i))
	}
	if got := e.take("bob"); got != "" {
		t.Fatalf("refused below the bound: %s", got)
	}
	e.send("bob", `<iq type='get' id='over' to='tea@conference.example.org/Alice'><query xmlns='jabber:iq:version'/></iq>`)
	has(t, e.take("bob"), `id="over"`, `<resource-constraint`)
	e.m.fmu.Lock()
	e.m.forwards = map[string]forwarded{}
	e.m.fmu.Unlock()
	e.m.SetRate(1)
	for i := range 3 {
		e.send("bob", fmt.Sprintf(`<iq type='get' id='r%d' to='tea@conference.example.org/Alice'><query xmlns='jabber:iq:version'/></iq>`, i))
	}
	has(t, e.take("bob"), `id="r2"`, `<resource-constraint`)
}

// TestAdminAllOrNothing: a muc#admin set whose save fails changes
// nothing: an occupant kicked by an earlier item is still in, and nobody
// heard of anything.
func TestAdminAllOrNothing(t *testing.T) {
	db := modtest.DB(t, "alice", "bob", "carol")
	e := newEnv(t, db, nil, "alice", "bob", "carol")
	e.create("alice", "tea", "Alice", "muc#roomconfig_persistentroom", "1")
	e.join("bob", "tea", "Bob")
	e.join("carol", "tea", "Carol")
	e.take("alice")
	e.take("bob")
	db.Close() // every save fails from now on
	e.send("alice", `<iq type='set' id='a1' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#admin'>
		<item nick='Bob' role='none'/><item jid='carol@example.org' affiliation='outcast'/></query></iq>`)
	has(t, e.take("alice"), `id="a1"`, `<internal-server-error`)
	if got := e.take("bob"); got != "" {
		t.Errorf("bob heard of a change that was not made: %s", got)
	}
	occ, _ := e.m.Occupants("tea")
	if len(occ) != 3 {
		t.Errorf("occupants after the failed change: %+v", occ)
	}
	if affs, _ := e.m.Affiliations(t.Context(), "tea"); affs["carol@example.org"] != "" {
		t.Errorf("carol's affiliation changed: %v", affs)
	}
}

// TestBouncedOccupant: an error from an occupant's session saying it is
// gone takes it out of the room, the others told with 333; other errors
// (a client refusing one message) do not.
func TestBouncedOccupant(t *testing.T) {
	e := newEnv(t, modtest.DB(t, "alice", "bob"), nil, "alice", "bob")
	e.create("alice", "tea", "Alice")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	e.send("bob", `<message to='tea@conference.example.org' type='error' id='x'><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
	if occ, _ := e.m.Occupants("tea"); len(occ) != 2 {
		t.Fatalf("a not-acceptable took bob out: %+v", occ)
	}
	e.send("bob", `<message to='tea@conference.example.org/Alice' type='error' id='y'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
	has(t, e.take("alice"), `from="tea@conference.example.org/Bob" type="unavailable"`, `<status code="333"/>`)
	if occ, _ := e.m.Occupants("tea"); len(occ) != 1 {
		t.Errorf("bob is still in: %+v", occ)
	}
	if got := e.take("alice"); strings.Contains(got, "error") {
		t.Errorf("the room answered an error: %s", got)
	}
}
