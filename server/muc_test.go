package server_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// mucUsers makes accounts and logs each in on resource "pc" with initial
// presence; the clients are named after the accounts.
func mucUsers(t *testing.T, srv *xmpptest.Server, names ...string) map[string]*xmpptest.Client {
	t.Helper()
	c := map[string]*xmpptest.Client{}
	for _, n := range names {
		srv.AddUser(t, n, secret(n))
		c[n] = online(t, srv, n, "pc", 0)
	}
	return c
}

// mucCreate has owner make an instant room (XEP-0045 10.1.2) with nick and
// then configure it with the fields given (var=value pairs), if any.
func mucCreate(t *testing.T, owner *xmpptest.Client, room, nick string, fields ...string) {
	t.Helper()
	owner.Send(fmt.Sprintf(`<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room, nick))
	owner.Expect(fmt.Sprintf(`<presence from='%s/%s' to='%s'><x xmlns='http://jabber.org/protocol/muc#user'>
		<item affiliation='owner' role='moderator' jid='%s'/><status code='110'/><status code='201'/></x>
		<occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>`, room, nick, owner.JID, owner.JID))
	owner.Expect(fmt.Sprintf(`<message from='%s' to='%s' type='groupchat' id='subject'><subject/></message>`, room, owner.JID))
	var form strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&form, `<field var='%s'><value>%s</value></field>`, fields[i], fields[i+1])
	}
	owner.Send(fmt.Sprintf(`<iq type='set' id='create' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'>
		<x xmlns='jabber:x:data' type='submit'>%s</x></query></iq>`, room, form.String()))
	owner.Expect(fmt.Sprintf(`<iq type='result' id='create' from='%s' to='%s'/>`, room, owner.JID))
}

// mucJoin has c join room as nick and reads everything up to the
// subject, which comes last (XEP-0045 7.2.15); it returns what came.
func mucJoin(t *testing.T, c *xmpptest.Client, room, nick string) []*stanza.Element {
	t.Helper()
	c.Send(fmt.Sprintf(`<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room, nick))
	var got []*stanza.Element
	for {
		el := c.Next()
		got = append(got, el)
		if el.Name == "message" && el.Child("subject", stanza.NSClient) != nil && el.Child("body", stanza.NSClient) == nil {
			return got
		}
	}
}

// TestMUCCreate: an instant room (XEP-0045 10.1.2) is locked until its
// owner submits the empty form; a reserved room (10.1.3) gets the
// configuration form first; the service lists public rooms.
func TestMUCCreate(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	xmpptest.Play(t, c, `
alice sends: <presence to='tea@conference.hearth.test/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>
alice receives: <presence from='tea@conference.hearth.test/Alice' to='alice@hearth.test/pc'>
	<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator' jid='alice@hearth.test/pc'/>
	<status code='110'/><status code='201'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
alice receives: <message from='tea@conference.hearth.test' to='alice@hearth.test/pc' type='groupchat' id='subject'><subject/></message>
# Locked: nobody else gets in, and it is not listed.
bob sends: <presence to='tea@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='tea@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></presence>
bob sends: <iq type='get' id='i1' to='conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
bob receives: <iq type='result' id='i1' from='conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice sends: <iq type='set' id='c1' to='tea@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>
alice receives: <iq type='result' id='c1' from='tea@conference.hearth.test' to='alice@hearth.test/pc'/>
alice receives nothing more
bob sends: <iq type='get' id='i2' to='conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
bob receives: <iq type='result' id='i2' from='conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'>
	<item jid='tea@conference.hearth.test' name='tea'/></query></iq>
`)
	// A reserved room: the owner asks for the form, fills it, and the
	// room is configured as asked.
	xmpptest.Play(t, c, `
bob sends: <presence to='plans@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='plans@conference.hearth.test/Bob' to='bob@hearth.test/pc'>
	<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator' jid='bob@hearth.test/pc'/>
	<status code='110'/><status code='201'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
bob receives: <message from='plans@conference.hearth.test' to='bob@hearth.test/pc' type='groupchat' id='subject'><subject/></message>
bob sends: <iq type='get' id='f1' to='plans@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>
`)
	form := c["bob"].ExpectLike(`<iq type='result' id='f1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'>
		<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>
		<field var='muc#roomconfig_roomname'/><field var='muc#roomconfig_persistentroom'/><field var='muc#roomconfig_membersonly'/>
		<field var='muc#roomconfig_roomsecret'/><field var='muc#roomconfig_whois'/><field var='muc#roomconfig_roomowners' type='jid-multi'><value>bob@hearth.test</value></field>
		</x></query></iq>`, 5e9)
	// The server archives rooms (mam.Rooms): the form offers archiving
	// once, off for a new room, under the field XEP-0045 names.
	if fs := form.String(); strings.Count(fs, `var="muc#roomconfig_enablearchiving"`) != 1 ||
		!strings.Contains(fs, `var="muc#roomconfig_enablearchiving" type="boolean" label="Archive the room&apos;s messages"><value>0</value>`) ||
		strings.Contains(fs, `var="mam"`) {
		t.Errorf("the form's archiving field: %s", form)
	}
	xmpptest.Play(t, c, `
bob sends: <iq type='set' id='f2' to='plans@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'>
	<x xmlns='jabber:x:data' type='submit'>
	<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>
	<field var='muc#roomconfig_roomname'><value>Plans</value></field>
	<field var='muc#roomconfig_roomdesc'><value>What we do next</value></field>
	<field var='muc#roomconfig_publicroom'><value>0</value></field>
	<field var='muc#roomconfig_moderatedroom'><value>1</value></field>
	<field var='muc#roomconfig_whois'><value>anyone</value></field>
	</x></query></iq>
bob receives: <iq type='result' id='f2' from='plans@conference.hearth.test' to='bob@hearth.test/pc'/>
alice sends: <iq type='get' id='d1' to='plans@conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
alice receives: <iq type='result' id='d1' from='plans@conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info'>
	<identity category='conference' type='text' name='Plans'/>
	<feature var='http://jabber.org/protocol/muc'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>
	<feature var='jabber:iq:register'/><feature var='vcard-temp'/><feature var='urn:xmpp:occupant-id:0'/>
	<feature var='http://jabber.org/protocol/muc#self-ping-optimization'/><feature var='http://jabber.org/protocol/muc#stable_id'/>
	<feature var='muc_temporary'/><feature var='muc_open'/><feature var='muc_unsecured'/><feature var='muc_moderated'/><feature var='muc_hidden'/><feature var='muc_nonanonymous'/>
	<x xmlns='jabber:x:data' type='result'>
	<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roominfo</value></field>
	<field var='muc#roominfo_description' type='text-single' label='Description'><value>What we do next</value></field>
	<field var='muc#roominfo_occupants' type='text-single' label='Number of occupants'><value>1</value></field>
	<field var='muc#roominfo_subject' type='text-single' label='Subject'><value></value></field>
	<field var='muc#roominfo_changesubject' type='boolean' label='Occupants may change the subject'><value>0</value></field>
	<field var='muc#roomconfig_roomname' type='text-single' label='Name'><value>Plans</value></field>
	</x></query></iq>
# Hidden: not in the list.
alice sends: <iq type='get' id='i3' to='conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice receives: <iq type='result' id='i3' from='conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'>
	<item jid='tea@conference.hearth.test' name='tea'/></query></iq>
# The service is among the server's items, and says what it is.
alice sends: <iq type='get' id='i4' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice receives: <iq type='result' id='i4' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'>
	<item jid='conference.hearth.test'/><item jid='pubsub.hearth.test'/><item jid='upload.hearth.test'/></query></iq>
alice sends: <iq type='get' id='i5' to='conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
alice receives: <iq type='result' id='i5' from='conference.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info'>
	<identity category='conference' type='text' name='Chat rooms'/>
	<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/>
	<feature var='urn:xmpp:ping'/><feature var='urn:xmpp:occupant-id:0'/><feature var='http://jabber.org/protocol/muc#self-ping-optimization'/>
	</query></iq>
# Each feature works: a ping to the service.
alice sends: <iq type='get' id='i6' to='conference.hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq type='result' id='i6' from='conference.hearth.test' to='alice@hearth.test/pc'/>
`)
}

func mustParse(t *testing.T, s string) *stanza.Element {
	t.Helper()
	el, err := stream.Unmarshal([]byte(s))
	if err != nil {
		t.Fatalf("bad XML %q: %v", s, err)
	}
	return el
}

// TestSlixmppMUC: slixmpp's XEP-0045 plugin creates and configures a
// room, joins with history, chats, changes the subject, lists members,
// kicks and destroys.
func TestSlixmppMUC(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0045").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0045")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_muc.py", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

// TestNbxmppMUC: Gajim's library, nbxmpp, with its MUC module
// (xmpptest/interop/nbx_muc.py): a new room (201), its configuration form
// read and submitted, its disco#info, a message with its occupant id, the
// member list, the subject, and the room destroyed.
func TestNbxmppMUC(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import nbxmpp").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/nbxmpp")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/nbx_muc.py", host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}
