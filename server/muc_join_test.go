package server_test

import (
	"testing"

	"hearth/server/xmpptest"
)

// TestMUCJoin: XEP-0045 7.2's order (the others' presence, one's own with
// 110, the history, the subject last), status codes 100 and 210, nick
// conflicts, nick changes (303) and leaving.
func TestMUCJoin(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	mucCreate(t, c["alice"], "tea@conference.hearth.test", "Alice", "muc#roomconfig_whois", "anyone")
	alice, bob := c["alice"], c["bob"]
	alice.Send(`<message to='tea@conference.hearth.test' type='groupchat' id='m1'><body>first</body></message>`)
	alice.Expect(`<message from='tea@conference.hearth.test/Alice' to='alice@hearth.test/pc' type='groupchat' id='m1'><body>first</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>`)
	alice.Send(`<message to='tea@conference.hearth.test' type='groupchat' id='s1'><subject>Biscuits</subject></message>`)
	alice.Expect(`<message from='tea@conference.hearth.test/Alice' to='alice@hearth.test/pc' type='groupchat' id='s1'><subject>Biscuits</subject><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>`)

	// Bob's nick is normalised (PRECIS Nickname: trailing space): 210.
	bob.Send(`<presence to='tea@conference.hearth.test/Bob '><x xmlns='http://jabber.org/protocol/muc'/><show>away</show></presence>`)
	for i, want := range []string{
		`<presence from='tea@conference.hearth.test/Alice' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
			<item affiliation='owner' role='moderator' jid='alice@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>`,
		`<presence from='tea@conference.hearth.test/Bob' to='bob@hearth.test/pc'><show>away</show><x xmlns='http://jabber.org/protocol/muc#user'>
			<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/><status code='110'/><status code='100'/><status code='210'/></x>
			<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>`,
		`<message from='tea@conference.hearth.test/Alice' to='bob@hearth.test/pc' type='groupchat' id='m1'><body>first</body>
			<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/><delay xmlns='urn:xmpp:delay' from='tea@conference.hearth.test' stamp='*'/></message>`,
		`<message from='tea@conference.hearth.test/Alice' to='bob@hearth.test/pc' type='groupchat' id='subject'><subject>Biscuits</subject></message>`,
	} {
		got := bob.Next()
		if !xmpptest.Match(mustParse(t, want), got) {
			t.Fatalf("bob's stanza %d:\n got %s\nwant %s", i+1, got, want)
		}
	}
	xmpptest.Play(t, c, `
alice receives: <presence from='tea@conference.hearth.test/Bob' to='alice@hearth.test/pc'><show>away</show><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# Nick conflict (case-insensitive, as PRECIS compares nicknames).
carol sends: <presence to='tea@conference.hearth.test/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
carol receives: <presence from='tea@conference.hearth.test/bob' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></presence>
# Nicks are at most muc.max_nick (64) characters.
carol sends: <presence to='tea@conference.hearth.test/nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'/>
carol receives: <presence from='tea@conference.hearth.test/nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn' to='carol@hearth.test/pc' type='error'>
	<error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></presence>
# A nick change: unavailable with 303 and the new nick, then available.
bob sends: <presence to='tea@conference.hearth.test/Robert'/>
bob receives: <presence from='tea@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc' nick='Robert'/><status code='110'/><status code='303'/></x>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <presence from='tea@conference.hearth.test/Robert' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/><status code='110'/></x>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='tea@conference.hearth.test/Bob' to='alice@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc' nick='Robert'/><status code='303'/></x>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='tea@conference.hearth.test/Robert' to='alice@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/></x>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# Bob's old nick is free now.
carol sends: <presence to='tea@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>
carol receives: <presence from='tea@conference.hearth.test/Alice' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='owner' role='moderator' jid='alice@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol receives: <presence from='tea@conference.hearth.test/Robert' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol receives: <presence from='tea@conference.hearth.test/Bob' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='carol@hearth.test/pc'/><status code='110'/><status code='100'/></x>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol receives: <message from='tea@conference.hearth.test/Alice' to='carol@hearth.test/pc' type='groupchat' id='subject'><subject>Biscuits</subject></message>
carol receives nothing more
# Leaving.
alice receives: <presence from='tea@conference.hearth.test/Bob' to='alice@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='carol@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob sends: <presence to='tea@conference.hearth.test/Robert' type='unavailable'><status>bye</status></presence>
bob receives: <presence from='tea@conference.hearth.test/Robert' to='bob@hearth.test/pc' type='unavailable'><status>bye</status><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='tea@conference.hearth.test/Robert' to='alice@hearth.test/pc' type='unavailable'><status>bye</status><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
`)
	// A session that ends leaves the rooms it was in.
	c["carol"].Close()
	alice.ExpectLike(`<presence from='tea@conference.hearth.test/Bob' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'><item role='none'/></x></presence>`, 5e9)
}
