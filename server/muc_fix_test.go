package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestMUCPrivateArchived: a private message through a room is a message
// to the account like any other: it reaches the recipient's own archive
// (and carries its stanza-id), with nothing the sender put in that only
// the room may say.
func TestMUCPrivateArchived(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	alice, bob := c["alice"], c["bob"]
	mucCreate(t, alice, "tea@conference.hearth.test", "Alice")
	mucJoin(t, bob, "tea@conference.hearth.test", "Bob")
	alice.ExpectLike(`<presence from='tea@conference.hearth.test/Bob'/>`, 5*time.Second)
	bob.Send(`<message to='tea@conference.hearth.test/Alice' type='chat' id='p1'><body>psst</body>
		<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='alice@hearth.test'/></message>`)
	got := alice.ExpectLike(`<message from='tea@conference.hearth.test/Bob' type='chat' id='p1'><body>psst</body>
		<x xmlns='http://jabber.org/protocol/muc#user'/><stanza-id xmlns='urn:xmpp:sid:0' by='alice@hearth.test'/></message>`, 5*time.Second)
	if s := got.String(); strings.Count(s, "stanza-id") != 1 || strings.Count(s, "forged") != 0 {
		t.Errorf("the private message's stanza-ids: %s", s)
	}
	res, iq := mamQuery(t, alice, with("tea@conference.hearth.test/Bob"), "")
	fin(t, iq)
	if len(res) != 1 || res[0].body() != "psst" {
		t.Errorf("alice's archive holds %d messages from the room, want the private one: %+v", len(res), res)
	}
}
