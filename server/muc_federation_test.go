package server_test

import (
	"testing"

	"hearth/server/xmpptest"
)

// TestMUCFederation: bob@b.test joins a room on conference.a.test over
// federation, sees the room as a local occupant does, talks, gets and
// sends private messages, and leaves when his session ends.
func TestMUCFederation(t *testing.T) {
	p := federate(t, true)
	p.dns.mu.Lock()
	p.dns.servers["conference.a.test"] = p.a
	p.dns.mu.Unlock()
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
	for _, c := range []*xmpptest.Client{alice, bob} {
		c.Send(`<presence/>`)
		c.Expect(`<presence from='` + c.JID + `' to='` + c.JID + `'/>`)
	}
	mucCreate(t, alice, "tea@conference.a.test", "Alice")
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	xmpptest.Play(t, c, `
bob sends: <presence to='tea@conference.a.test/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='tea@conference.a.test/Alice' to='bob@b.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='owner' role='moderator'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <presence from='tea@conference.a.test/Bob' to='bob@b.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@b.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <message from='tea@conference.a.test' to='bob@b.test/pc' type='groupchat' id='subject'><subject/></message>
alice receives: <presence from='tea@conference.a.test/Bob' to='alice@a.test/phone'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@b.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob sends: <message to='tea@conference.a.test' type='groupchat' id='m1'><body>hello from b</body></message>
alice receives: <message from='tea@conference.a.test/Bob' to='alice@a.test/phone' type='groupchat' id='m1'><body>hello from b</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
bob receives: <message from='tea@conference.a.test/Bob' to='bob@b.test/pc' type='groupchat' id='m1'><body>hello from b</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
alice sends: <message to='tea@conference.a.test/Bob' type='chat' id='p1'><body>psst</body></message>
bob receives: <message from='tea@conference.a.test/Alice' to='bob@b.test/pc' type='chat' id='p1'><body>psst</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/><x xmlns='http://jabber.org/protocol/muc#user'/></message>
bob sends: <iq type='get' id='sp' to='tea@conference.a.test/Bob'><ping xmlns='urn:xmpp:ping'/></iq>
bob receives: <iq type='result' id='sp' from='tea@conference.a.test/Bob' to='bob@b.test/pc'/>
`)
	bob.Close()
	alice.ExpectLike(`<presence from='tea@conference.a.test/Bob' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/></x></presence>`, 10e9)
}
