package server_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestMUCPersistent: a persistent room keeps its configuration,
// affiliations, reserved nicks, subject and vCard across a restart of the
// server on the same data directory; a temporary room does not.
func TestMUCPersistent(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	mucCreate(t, c["alice"], "home@conference.hearth.test", "Alice",
		"muc#roomconfig_persistentroom", "1", "muc#roomconfig_roomname", "Home", "muc#roomconfig_membersonly", "1")
	mucCreate(t, c["alice"], "brief@conference.hearth.test", "Alice")
	photo := base64.StdEncoding.EncodeToString([]byte("not really a PNG"))
	xmpptest.Play(t, c, `
alice sends: <iq type='set' id='a1' to='home@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#admin'>
	<item affiliation='member' jid='bob@hearth.test'/><item affiliation='outcast' jid='carol@hearth.test'/></query></iq>
alice receives: <iq type='result' id='a1' from='home@conference.hearth.test' to='alice@hearth.test/pc'/>
# Those not in the room hear of their new affiliation (101).
bob receives: <message from='home@conference.hearth.test' to='bob@hearth.test'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='member' jid='bob@hearth.test'><actor nick='Alice'/></item><status code='101'/></x></message>
carol receives: <message from='home@conference.hearth.test' to='carol@hearth.test'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='outcast' jid='carol@hearth.test'><actor nick='Alice'/></item><status code='101'/></x></message>
alice sends: <message to='home@conference.hearth.test' type='groupchat' id='s1'><subject>Dinner at 7</subject></message>
alice receives: <message from='home@conference.hearth.test/Alice' type='groupchat' id='s1' to='alice@hearth.test/pc'><subject>Dinner at 7</subject><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></message>
# Bob registers his nick (a member's reserved nick).
bob sends: <iq type='get' id='r1' to='home@conference.hearth.test'><query xmlns='jabber:iq:register'/></iq>
bob receives: <iq type='result' id='r1' from='home@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='jabber:iq:register'>
	<x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#register</value></field>
	<field var='muc#register_roomnick' type='text-single' label='Nickname'/></x></query></iq>
bob sends: <iq type='set' id='r2' to='home@conference.hearth.test'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>
	<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#register</value></field><field var='muc#register_roomnick'><value>Bobby</value></field></x></query></iq>
bob receives: <iq type='result' id='r2' from='home@conference.hearth.test' to='bob@hearth.test/pc'/>
alice sends: <iq type='set' id='v1' to='home@conference.hearth.test'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>`+photo+`</BINVAL></PHOTO></vCard></iq>
alice receives: <message from='home@conference.hearth.test' to='alice@hearth.test/pc' type='groupchat'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>
alice receives: <presence from='home@conference.hearth.test' to='alice@hearth.test/pc'><x xmlns='vcard-temp:x:update'><photo>*</photo></x></presence>
alice receives: <iq type='result' id='v1' from='home@conference.hearth.test' to='alice@hearth.test/pc'/>
`)
	srv = srv.Restart(t)
	alice := online(t, srv, "alice", "pc", 0)
	bob := online(t, srv, "bob", "pc", 0)
	carol := online(t, srv, "carol", "pc", 0)
	c = map[string]*xmpptest.Client{"alice": alice, "bob": bob, "carol": carol}
	xmpptest.Play(t, c, `
carol sends: <iq type='get' id='i1' to='conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
carol receives: <iq type='result' id='i1' from='conference.hearth.test' to='carol@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'>
	<item jid='home@conference.hearth.test' name='Home'/></query></iq>
carol sends: <presence to='home@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>
carol receives: <presence from='home@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
bob sends: <iq type='get' id='n1' to='home@conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>
bob receives: <iq type='result' id='n1' from='home@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'>
	<identity category='conference' type='text' name='Bobby'/></query></iq>
# The reserved nick is bob's alone.
alice sends: <presence to='home@conference.hearth.test/bobby'><x xmlns='http://jabber.org/protocol/muc'/></presence>
alice receives: <presence from='home@conference.hearth.test/bobby' to='alice@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
bob sends: <presence to='home@conference.hearth.test/Bobby'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='home@conference.hearth.test/Bobby' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='member' role='participant' jid='bob@hearth.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <message from='home@conference.hearth.test/Alice' to='bob@hearth.test/pc' type='groupchat' id='subject'><subject>Dinner at 7</subject></message>
bob sends: <iq type='get' id='v2' to='home@conference.hearth.test'><vCard xmlns='vcard-temp'/></iq>
bob receives: <iq type='result' id='v2' from='home@conference.hearth.test' to='bob@hearth.test/pc'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>*</BINVAL></PHOTO></vCard></iq>
# The temporary room is gone.
bob sends: <iq type='get' id='d1' to='brief@conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
bob receives: <iq type='error' id='d1' from='brief@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info'/>
	<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
`)
	// The owner finds her configuration as she left it.
	alice.Send(`<iq type='get' id='f1' to='home@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>`)
	form := alice.ExpectLike(`<iq type='result' id='f1'/>`, 5*time.Second).String()
	for _, want := range []string{`var="muc#roomconfig_roomname" type="text-single" label="Name"><value>Home</value>`, `var="muc#roomconfig_membersonly" type="boolean" label="Members only"><value>1</value>`} {
		if !strings.Contains(form, want) {
			t.Errorf("the form after a restart lacks %s: %s", want, form)
		}
	}
	// Making it temporary again removes it from storage once empty.
	alice.Send(`<iq type='set' id='f2' to='home@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>
		<field var='muc#roomconfig_persistentroom'><value>0</value></field></x></query></iq>`)
	alice.ExpectLike(`<iq type='result' id='f2'/>`, 5*time.Second)
	bob.ExpectLike(`<message from='home@conference.hearth.test'><x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x></message>`, 5*time.Second)
	// The family room (muc.family_room), when the test server has one,
	// is not this test's: no other room is stored.
	rooms, err := srv.DB.MUCRooms(t.Context())
	var left []string
	for _, r := range rooms {
		if r.JID != "family@conference.hearth.test" {
			left = append(left, r.JID)
		}
	}
	if err != nil || len(left) != 0 {
		t.Errorf("stored rooms after the room became temporary: %v, %v", left, err)
	}
}
