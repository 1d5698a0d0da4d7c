package server_test

import (
	"testing"

	"hearth/server/xmpptest"
)

const errText = `<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text>`

// TestMUCEntry: members-only rooms (registration-required, membership by
// an admin's invitation), passwords (not-authorized), bans (forbidden,
// 301) and full rooms (service-unavailable).
func TestMUCEntry(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol", "dave")
	mucCreate(t, c["alice"], "club@conference.hearth.test", "Alice", "muc#roomconfig_membersonly", "1", "muc#roomconfig_allowinvites", "0")
	mucCreate(t, c["alice"], "vault@conference.hearth.test", "Alice", "muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "open-sesame", "muc#roomconfig_maxusers", "2")
	xmpptest.Play(t, c, `
bob sends: <presence to='club@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='club@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='auth'><registration-required xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
# An admin's (here the owner's) invitation makes bob a member.
alice sends: <message to='club@conference.hearth.test' id='inv1'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@hearth.test'><reason>join us</reason></invite></x></message>
bob receives: <message from='club@conference.hearth.test' to='bob@hearth.test' id='inv1'><x xmlns='http://jabber.org/protocol/muc#user'>
	<invite from='club@conference.hearth.test/Alice'><reason>join us</reason></invite></x><x xmlns='jabber:x:conference' jid='club@conference.hearth.test'/></message>
bob sends: <presence to='club@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='club@conference.hearth.test/Alice' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='owner' role='moderator'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <presence from='club@conference.hearth.test/Bob' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='member' role='participant' jid='bob@hearth.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <message from='club@conference.hearth.test' to='bob@hearth.test/pc' type='groupchat' id='subject'><subject/></message>
alice receives: <presence from='club@conference.hearth.test/Bob' to='alice@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='member' role='participant' jid='bob@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# Members may not invite here (allowinvites off).
bob sends: <message to='club@conference.hearth.test' id='inv2'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@hearth.test'/></x></message>
bob receives: <message from='club@conference.hearth.test' to='bob@hearth.test/pc' id='inv2' type='error'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@hearth.test'/></x>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></message>
# An invitee declines through the room (only someone invited may).
alice sends: <message to='club@conference.hearth.test' id='inv3'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@hearth.test'/></x></message>
carol receives: <message from='club@conference.hearth.test' to='carol@hearth.test' id='inv3'><x xmlns='http://jabber.org/protocol/muc#user'>
	<invite from='club@conference.hearth.test/Alice'/></x><x xmlns='jabber:x:conference' jid='club@conference.hearth.test'/></message>
carol sends: <message to='club@conference.hearth.test' id='dec1'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@hearth.test'><reason>busy</reason></decline></x></message>
alice receives: <message from='club@conference.hearth.test' to='alice@hearth.test' id='dec1'><x xmlns='http://jabber.org/protocol/muc#user'>
	<decline from='carol@hearth.test'><reason>busy</reason></decline></x></message>
# Taking bob's membership away removes him (321).
alice sends: <iq type='set' id='a1' to='club@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='none' jid='bob@hearth.test'/></query></iq>
bob receives: <presence from='club@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc'><actor nick='Alice'/></item><status code='110'/><status code='321'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='club@conference.hearth.test/Bob' to='alice@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='bob@hearth.test/pc'><actor nick='Alice'/></item><status code='321'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <iq type='result' id='a1' from='club@conference.hearth.test' to='alice@hearth.test/pc'/>

# A direct invitation (XEP-0249) is a message between people; the room has nothing to do with it.
alice sends: <message to='dave@hearth.test' id='di'><x xmlns='jabber:x:conference' jid='club@conference.hearth.test' reason='tea?'/></message>
dave receives: <message from='alice@hearth.test/pc' to='dave@hearth.test' id='di'><x xmlns='jabber:x:conference' jid='club@conference.hearth.test' reason='tea?'/></message>
# Passwords.
carol sends: <presence to='vault@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>
carol receives: <presence from='vault@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
carol sends: <presence to='vault@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'><password>wrong</password></x></presence>
carol receives: <presence from='vault@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'><password>wrong</password></x>
	<error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
carol sends: <presence to='vault@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'><password>open-sesame</password></x></presence>
carol receives: <presence from='vault@conference.hearth.test/Carol' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant'  jid='carol@hearth.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# Full (maxusers 2).
dave sends: <presence to='vault@conference.hearth.test/Dave'><x xmlns='http://jabber.org/protocol/muc'><password>open-sesame</password></x></presence>
dave receives: <presence from='vault@conference.hearth.test/Dave' to='dave@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'><password>open-sesame</password></x>
	<error type='wait'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
# A ban: 301 to everyone, and no way back in.
alice sends: <iq type='set' id='b1' to='vault@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='carol@hearth.test'><reason>spam</reason></item></query></iq>
carol receives: <presence from='vault@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='outcast' role='none' jid='carol@hearth.test/pc'><actor nick='Alice'/><reason>spam</reason></item><status code='110'/><status code='301'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='vault@conference.hearth.test/Carol' to='alice@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='outcast' role='none' jid='carol@hearth.test/pc'><actor nick='Alice'/><reason>spam</reason></item><status code='301'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <iq type='result' id='b1' from='vault@conference.hearth.test' to='alice@hearth.test/pc'/>
carol sends: <presence to='vault@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'><password>open-sesame</password></x></presence>
carol receives: <presence from='vault@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'><password>open-sesame</password></x>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
alice sends: <iq type='get' id='b2' to='vault@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query></iq>
alice receives: <iq type='result' id='b2' from='vault@conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'>
	<item affiliation='outcast' jid='carol@hearth.test'><reason>spam</reason></item></query></iq>
# Only admins and owners ban.
dave sends: <iq type='set' id='b3' to='vault@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='alice@hearth.test'/></query></iq>
dave receives: <iq type='error' id='b3' from='vault@conference.hearth.test' to='dave@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='alice@hearth.test'/></query>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
`)
}
