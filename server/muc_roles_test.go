package server_test

import (
	"testing"

	"hearth/server/xmpptest"
)

// TestMUCRoles: moderated rooms (visitors are forbidden to speak until a
// moderator gives them voice), the subject (moderators only, unless the
// room lets occupants), private messages, kicks (307) and the rules of
// who may change whom.
func TestMUCRoles(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	mucCreate(t, c["alice"], "stage@conference.hearth.test", "Alice", "muc#roomconfig_moderatedroom", "1")
	mucJoin(t, c["bob"], "stage@conference.hearth.test", "Bob")
	c["alice"].ExpectLike(`<presence from='stage@conference.hearth.test/Bob'/>`, 5e9)
	mucJoin(t, c["carol"], "stage@conference.hearth.test", "Carol")
	c["alice"].ExpectLike(`<presence from='stage@conference.hearth.test/Carol'/>`, 5e9)
	c["bob"].ExpectLike(`<presence from='stage@conference.hearth.test/Carol'/>`, 5e9)
	xmpptest.Play(t, c, `
bob sends: <message to='stage@conference.hearth.test' type='groupchat' id='v1'><body>may I?</body></message>
bob receives: <message from='stage@conference.hearth.test' to='bob@hearth.test/pc' type='error' id='v1'><body>may I?</body>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></message>
# A visitor cannot give voice.
bob sends: <iq type='set' id='r0' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='participant'/></query></iq>
bob receives: <iq type='error' id='r0' from='stage@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='participant'/></query>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
# A voice request (XEP-0045 7.13) reaches the moderators; Alice approves it.
bob sends: <message to='stage@conference.hearth.test' id='vr'><x xmlns='jabber:x:data' type='submit'>
	<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>
	<field var='muc#role' type='list-single'><value>participant</value></field></x></message>
alice receives: <message from='stage@conference.hearth.test' to='alice@hearth.test/pc' id='vr'><x xmlns='jabber:x:data' type='form'>
	<title>Voice request</title>
	<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#request</value></field>
	<field var='muc#role' type='list-single' label='Requested role'><value>participant</value></field>
	<field var='muc#jid' type='jid-single' label='User'><value>bob@hearth.test/pc</value></field>
	<field var='muc#roomnick' type='text-single' label='Nickname'><value>Bob</value></field>
	<field var='muc#request_allow' type='boolean' label='Give voice to this person?'><value>0</value></field></x></message>
carol sends: <message to='stage@conference.hearth.test' id='vr2'><x xmlns='jabber:x:data' type='submit'>
	<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>
	<field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Carol</value></field><field var='muc#request_allow'><value>true</value></field></x></message>
carol receives: <message from='stage@conference.hearth.test' to='carol@hearth.test/pc' id='vr2' type='error'><x xmlns='jabber:x:data' type='submit'>*</x>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></message>
alice sends: <message to='stage@conference.hearth.test' id='va'><x xmlns='jabber:x:data' type='submit'>
	<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>
	<field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Bob</value></field><field var='muc#request_allow'><value>true</value></field></x></message>
bob receives: <presence from='stage@conference.hearth.test/Bob' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'><actor nick='Alice'/></item><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol receives: <presence from='stage@conference.hearth.test/Bob' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant'><actor nick='Alice'/></item></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# And a moderator gives voice through muc#admin.
alice sends: <iq type='set' id='r1' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='participant'/></query></iq>
carol receives: <presence from='stage@conference.hearth.test/Carol' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='carol@hearth.test/pc'><actor nick='Alice'/></item><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <iq type='result' id='r1' from='stage@conference.hearth.test' to='alice@hearth.test/pc'/>
bob sends: <message to='stage@conference.hearth.test' type='groupchat' id='v2'><body>thanks</body></message>
carol receives: <message from='stage@conference.hearth.test/Bob' to='carol@hearth.test/pc' type='groupchat' id='v2'><body>thanks</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
alice receives: <message from='stage@conference.hearth.test/Bob' to='alice@hearth.test/pc' type='groupchat' id='v2'><body>thanks</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
bob receives: <message from='stage@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='groupchat' id='v2'><body>thanks</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
# The subject: moderators only here.
bob sends: <message to='stage@conference.hearth.test' type='groupchat' id='s1'><subject>mine</subject></message>
bob receives: <message from='stage@conference.hearth.test' to='bob@hearth.test/pc' type='error' id='s1'><subject>mine</subject>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></message>
alice sends: <message to='stage@conference.hearth.test' type='groupchat' id='s2'><subject>Rehearsal</subject></message>
bob receives: <message from='stage@conference.hearth.test/Alice' to='bob@hearth.test/pc' type='groupchat' id='s2'><subject>Rehearsal</subject><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
carol receives: <message from='stage@conference.hearth.test/Alice' to='carol@hearth.test/pc' type='groupchat' id='s2'><subject>Rehearsal</subject><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
alice receives: <message from='stage@conference.hearth.test/Alice' to='alice@hearth.test/pc' type='groupchat' id='s2'><subject>Rehearsal</subject><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
# Private messages, marked with muc#user; to nobody: item-not-found.
carol sends: <message to='stage@conference.hearth.test/Bob' type='chat' id='p1'><body>psst</body></message>
bob receives: <message from='stage@conference.hearth.test/Carol' to='bob@hearth.test/pc' type='chat' id='p1'><body>psst</body>
	<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/><x xmlns='http://jabber.org/protocol/muc#user'/></message>
carol sends: <message to='stage@conference.hearth.test/Nobody' type='chat' id='p2'><body>hello?</body></message>
carol receives: <message from='stage@conference.hearth.test/Nobody' to='carol@hearth.test/pc' type='error' id='p2'><body>hello?</body>
	<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></message>
# A moderator who is no admin cannot kick the owner.
alice sends: <iq type='set' id='r2' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='admin' jid='bob@hearth.test'/></query></iq>
alice receives: <iq type='result' id='r2' from='stage@conference.hearth.test' to='alice@hearth.test/pc'/>
bob receives: <presence from='stage@conference.hearth.test/Bob' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='admin' role='moderator' jid='bob@hearth.test/pc'><actor nick='Alice'/></item><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol receives: <presence from='stage@conference.hearth.test/Bob' to='carol@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='admin' role='moderator'><actor nick='Alice'/></item></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
# A new moderator of a semi-anonymous room now sees everyone's real JID.
bob receives: <presence from='stage@conference.hearth.test/Alice' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='owner' role='moderator' jid='alice@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <presence from='stage@conference.hearth.test/Carol' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='carol@hearth.test/pc'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob sends: <iq type='set' id='k0' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Alice' role='none'/></query></iq>
bob receives: <iq type='error' id='k0' from='stage@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Alice' role='none'/></query>
	<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
# An admin cannot take an owner's affiliation.
bob sends: <iq type='set' id='k1' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@hearth.test' affiliation='member'/></query></iq>
bob receives: <iq type='error' id='k1' from='stage@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@hearth.test' affiliation='member'/></query>
	<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
# A kick: 307.
bob sends: <iq type='set' id='k2' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Carol' role='none'><reason>noise</reason></item></query></iq>
carol receives: <presence from='stage@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='carol@hearth.test/pc'><actor nick='Bob'/><reason>noise</reason></item><status code='110'/><status code='307'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <presence from='stage@conference.hearth.test/Carol' to='alice@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none' jid='carol@hearth.test/pc'><actor nick='Bob'/><reason>noise</reason></item><status code='307'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <iq type='result' id='k2' from='stage@conference.hearth.test' to='bob@hearth.test/pc'/>
# The room's last owner stays.
alice sends: <iq type='set' id='k3' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@hearth.test' affiliation='admin'/></query></iq>
alice receives: <iq type='error' id='k3' from='stage@conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'><item jid='alice@hearth.test' affiliation='admin'/></query>
	<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
# Role lists for moderators.
alice sends: <iq type='get' id='l1' to='stage@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item role='moderator'/></query></iq>
alice receives: <iq type='result' id='l1' from='stage@conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#admin'>
	<item affiliation='owner' role='moderator' nick='Alice' jid='alice@hearth.test/pc'/><item affiliation='admin' role='moderator' nick='Bob' jid='bob@hearth.test/pc'/></query></iq>
`)
}

// TestMUCBlocking: someone who blocks an occupant (XEP-0191) gets
// nothing from that occupant's room JID, and the rest of the room still.
func TestMUCBlocking(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	mucCreate(t, c["alice"], "b@conference.hearth.test", "Alice")
	mucJoin(t, c["bob"], "b@conference.hearth.test", "Bob")
	mucJoin(t, c["carol"], "b@conference.hearth.test", "Carol")
	drain(t, c["carol"], "d0")
	xmpptest.Play(t, c, `
carol sends: <iq type='set' id='bl'><block xmlns='urn:xmpp:blocking'><item jid='b@conference.hearth.test/Bob'/></block></iq>
carol receives: <iq type='result' id='bl' from='carol@hearth.test' to='carol@hearth.test/pc'/>
bob sends: <message to='b@conference.hearth.test' type='groupchat' id='m1'><body>hi all</body></message>
alice receives: <message from='b@conference.hearth.test/Bob' to='alice@hearth.test/pc' type='groupchat' id='m1'><body>hi all</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
alice sends: <message to='b@conference.hearth.test' type='groupchat' id='m2'><body>hello</body></message>
carol receives: <message from='b@conference.hearth.test/Alice' to='carol@hearth.test/pc' type='groupchat' id='m2'><body>hello</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
carol receives nothing more
`)
}
