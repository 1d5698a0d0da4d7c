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

// TestMUCModerationArchived: over the real room archive, a moderator's
// retraction goes out with the room's stanza-id and is in the room's
// archive after the tombstone, for those who catch up through MAM.
func TestMUCModerationArchived(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	alice, bob := c["alice"], c["bob"]
	const room = "log@conference.hearth.test"
	mucCreate(t, alice, room, "Alice", "muc#roomconfig_enablearchiving", "1")
	mucJoin(t, bob, room, "Bob")
	alice.ExpectLike(`<presence from='log@conference.hearth.test/Bob'/>`, 5*time.Second)
	bob.Send(`<message to='log@conference.hearth.test' type='groupchat' id='m1'><body>oops</body></message>`)
	msg := alice.ExpectLike(`<message from='log@conference.hearth.test/Bob' id='m1'/>`, 5*time.Second)
	bob.ExpectLike(`<message from='log@conference.hearth.test/Bob' id='m1'/>`, 5*time.Second)
	sid := msg.Child("stanza-id", "urn:xmpp:sid:0").Attr("id")
	alice.Send(`<iq type='set' id='x1' to='log@conference.hearth.test'><moderate xmlns='urn:xmpp:message-moderate:1' id='` + sid + `'>
		<retract xmlns='urn:xmpp:message-retract:1'/><reason>typo</reason></moderate></iq>`)
	notice := bob.ExpectLike(`<message from='log@conference.hearth.test' type='groupchat'><retract xmlns='urn:xmpp:message-retract:1' id='`+sid+`'/>
		<stanza-id xmlns='urn:xmpp:sid:0' by='log@conference.hearth.test'/></message>`, 5*time.Second)
	if notice.Child("stanza-id", "urn:xmpp:sid:0").Attr("id") == sid {
		t.Errorf("the notice has the retracted message's stanza-id: %s", notice)
	}
	bob.Send(`<iq type='set' id='q1' to='log@conference.hearth.test'><query xmlns='urn:xmpp:mam:2' queryid='q1'/></iq>`)
	var got []string
	for {
		el := bob.Next()
		if el.Name == "iq" && el.Attr("id") == "q1" {
			if el.Attr("type") != "result" {
				t.Fatalf("the archive query: %s", el)
			}
			break
		}
		got = append(got, el.String())
	}
	if len(got) != 2 || !strings.Contains(got[0], "<retracted") || strings.Contains(got[0], "oops") || !strings.Contains(got[1], `<retract xmlns="urn:xmpp:message-retract:1" id="`+sid+`"`) {
		t.Errorf("the room's archive after the retraction:\n%s", strings.Join(got, "\n"))
	}
}
