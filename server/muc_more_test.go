package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
)

// TestMUCDestroy: the owner destroys a room with a reason and an
// alternate venue; every occupant gets the unavailable presence with
// <destroy/>, and the room is gone.
func TestMUCDestroy(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	mucCreate(t, c["alice"], "old@conference.hearth.test", "Alice")
	mucJoin(t, c["bob"], "old@conference.hearth.test", "Bob")
	xmpptest.Play(t, c, `
bob sends: <iq type='set' id='d0' to='old@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>
bob receives: <iq type='error' id='d0' from='old@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query>
	<error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
alice sends: <iq type='set' id='d1' to='old@conference.hearth.test'><query xmlns='http://jabber.org/protocol/muc#owner'>
	<destroy jid='new@conference.hearth.test'><reason>moved</reason></destroy></query></iq>
bob receives: <presence from='old@conference.hearth.test/Bob' to='bob@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none'/><destroy jid='new@conference.hearth.test'><reason>moved</reason></destroy><status code='110'/></x></presence>
alice receives: <presence from='old@conference.hearth.test/Alice' to='alice@hearth.test/pc' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='none'/><destroy jid='new@conference.hearth.test'><reason>moved</reason></destroy><status code='110'/></x></presence>
alice receives: <iq type='result' id='d1' from='old@conference.hearth.test' to='alice@hearth.test/pc'/>
bob sends: <iq type='get' id='d2' to='old@conference.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
bob receives: <iq type='error' id='d2' from='old@conference.hearth.test' to='bob@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info'/>
	<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
`)
}

// TestMUCHistory: the history a joining occupant gets, with
// maxstanzas, maxchars, seconds and since; each message with its delay.
func TestMUCHistory(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	alice, bob := c["alice"], c["bob"]
	mucCreate(t, alice, "log@conference.hearth.test", "Alice")
	for i := 1; i <= 25; i++ {
		alice.Send(fmt.Sprintf(`<message to='log@conference.hearth.test' type='groupchat' id='h%d'><body>line %d</body></message>`, i, i))
		alice.ExpectLike(fmt.Sprintf(`<message id='h%d'/>`, i), 5*time.Second)
		if i == 20 {
			time.Sleep(1100 * time.Millisecond) // the last five are newer than "since"
		}
	}
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	join := func(hist string) []string {
		t.Helper()
		bob.Send(fmt.Sprintf(`<presence to='log@conference.hearth.test/Bob'><x xmlns='http://jabber.org/protocol/muc'>%s</x></presence>`, hist))
		var ids []string
		for {
			el := bob.Next()
			if el.Name == "message" {
				if el.Attr("id") == "subject" {
					break
				}
				if el.Child("delay", "urn:xmpp:delay") == nil {
					t.Fatalf("history without delay: %s", el)
				}
				ids = append(ids, el.Attr("id"))
			}
		}
		bob.Send(`<presence to='log@conference.hearth.test/Bob' type='unavailable'/>`)
		bob.ExpectLike(`<presence type='unavailable'/>`, 5*time.Second)
		return ids
	}
	for _, tc := range []struct {
		hist  string
		first string
		n     int
	}{
		{``, "h6", 20}, // the default: 20
		{`<history maxstanzas='3'/>`, "h23", 3},
		{`<history maxstanzas='0'/>`, "", 0},
		{`<history since='` + since + `'/>`, "h21", 5},
		{`<history seconds='3600' maxstanzas='2'/>`, "h24", 2},
		{`<history maxchars='0'/>`, "", 0},
		{`<history maxstanzas='many'/>`, "h6", 20}, // not a number: as if not given
	} {
		ids := join(tc.hist)
		if len(ids) != tc.n || tc.n > 0 && (ids[0] != tc.first || ids[len(ids)-1] != "h25") {
			t.Errorf("history %s: %v, want %d from %s to h25", tc.hist, ids, tc.n, tc.first)
		}
	}
}

// TestMUCSelfPing: XEP-0410, and the occupant id (XEP-0421): stable for
// a person across nicks and sessions, different for someone else.
func TestMUCSelfPing(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob")
	mucCreate(t, c["alice"], "ping@conference.hearth.test", "Alice")
	xmpptest.Play(t, c, `
bob sends: <iq type='get' id='p1' to='ping@conference.hearth.test/Bob'><ping xmlns='urn:xmpp:ping'/></iq>
bob receives: <iq type='error' id='p1' from='ping@conference.hearth.test/Bob' to='bob@hearth.test/pc'><ping xmlns='urn:xmpp:ping'/>
	<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
alice sends: <iq type='get' id='p2' to='ping@conference.hearth.test/Alice'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq type='result' id='p2' from='ping@conference.hearth.test/Alice' to='alice@hearth.test/pc'/>
`)
	id := func(c *xmpptest.Client, nick string) string {
		t.Helper()
		c.Send(fmt.Sprintf(`<presence to='ping@conference.hearth.test/%s'/>`, nick))
		el := c.ExpectLike(fmt.Sprintf(`<presence from='ping@conference.hearth.test/%s'><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></presence>`, nick), 5*time.Second)
		return el.Child("occupant-id", "urn:xmpp:occupant-id:0").Attr("id")
	}
	a1 := id(c["alice"], "Alice")
	a2 := id(c["alice"], "Ally") // a nick change
	b := id(c["bob"], "Bob")
	if a1 == "" || a1 != a2 || a1 == b {
		t.Errorf("occupant ids: alice %q then %q, bob %q", a1, a2, b)
	}
	// A second session of alice's under her nick: the same id, and it
	// alone hears of its joining.
	phone := online(t, srv, "alice", "phone", 0)
	if a3 := id(phone, "Ally"); a3 != a1 {
		t.Errorf("alice's phone has occupant id %q, her pc %q", a3, a1)
	}
	phone.Send(`<message to='ping@conference.hearth.test' type='groupchat' id='m1'><body>from the phone</body></message>`)
	c["alice"].ExpectLike(`<message from='ping@conference.hearth.test/Ally' id='m1'/>`, 5*time.Second)
	phone.ExpectLike(`<message from='ping@conference.hearth.test/Ally' id='m1'/>`, 5*time.Second)
	c["bob"].ExpectLike(`<message from='ping@conference.hearth.test/Ally' id='m1'/>`, 5*time.Second)
	// A client that lost track joins again from the same session: it
	// gets the room as on joining; the others hear nothing.
	drain(t, c["bob"], "d1")
	drain(t, phone, "d1")
	got := mucJoin(t, phone, "ping@conference.hearth.test", "Ally")
	var self bool
	for _, el := range got {
		if el.Name == "presence" && strings.Contains(el.String(), `code="110"`) && el.Attr("from") == "ping@conference.hearth.test/Ally" {
			self = true
		}
	}
	if !self {
		t.Errorf("joining again gave no self-presence: %v", got)
	}
	if more := drain(t, c["bob"], "d2"); len(more) > 0 {
		t.Errorf("bob heard of alice's joining again: %v", more)
	}
	// The pc leaves; alice stays in through the phone.
	c["alice"].Send(`<presence to='ping@conference.hearth.test/Ally' type='unavailable'/>`)
	c["alice"].ExpectLike(`<presence type='unavailable'/>`, 5*time.Second)
	xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone}, `
phone sends: <iq type='get' id='p3' to='ping@conference.hearth.test/Ally'><ping xmlns='urn:xmpp:ping'/></iq>
phone receives: <iq type='result' id='p3' from='ping@conference.hearth.test/Ally' to='alice@hearth.test/phone'/>`)
}

// TestMUCLimits: a person sending too fast gets resource-constraint; the
// rooms one may own (muc.max_rooms_per_user), the people in a room
// (muc.max_occupants), the length of nicks (muc.max_nick) and an
// occupant's rate (muc.message_rate) are bounded, each setting applying at
// once on a running server.
func TestMUCLimits(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	alice := c["alice"]
	mucCreate(t, alice, "fast@conference.hearth.test", "Alice")
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `<message to='fast@conference.hearth.test' type='groupchat' id='f%d'><body>%d</body></message>`, i, i)
	}
	alice.Send(b.String())
	alice.ExpectLike(`<message type='error'><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`, 5*time.Second)
	// muc.message_rate 0 lifts the bound (load tests).
	if _, err := srv.Admin.SetSetting(t.Context(), "muc.message_rate", "0"); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, `<message to='fast@conference.hearth.test' type='groupchat' id='g%d'><body>%d</body></message>`, i, i)
	}
	alice.Send(b.String())
	for {
		el := alice.Next()
		if el.Name == "message" && el.Attr("type") == "error" && strings.HasPrefix(el.Attr("id"), "g") {
			t.Fatalf("refused with muc.message_rate 0: %s", el)
		}
		if el.Attr("id") == "g99" {
			break
		}
	}
	if _, err := srv.Admin.SetSetting(t.Context(), "muc.max_rooms_per_user", "2"); err != nil {
		t.Fatal(err)
	}
	mucCreate(t, alice, "second@conference.hearth.test", "Alice")
	xmpptest.Play(t, c, `
alice sends: <presence to='third@conference.hearth.test/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>
alice receives: <presence from='third@conference.hearth.test/Alice' to='alice@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>`)
	for k, v := range map[string]string{"muc.max_occupants": "2", "muc.max_nick": "5"} {
		if _, err := srv.Admin.SetSetting(t.Context(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	xmpptest.Play(t, c, `
bob sends: <presence to='fast@conference.hearth.test/Bobby'><x xmlns='http://jabber.org/protocol/muc'/></presence>
bob receives: <presence from='fast@conference.hearth.test/Bobby' to='bob@hearth.test/pc'><x xmlns='http://jabber.org/protocol/muc#user'>
	<item affiliation='none' role='participant' jid='bob@hearth.test/pc'/><status code='110'/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='*'/></presence>
carol sends: <presence to='fast@conference.hearth.test/Carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>
carol receives: <presence from='fast@conference.hearth.test/Carol' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='wait'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></presence>
carol sends: <presence to='second@conference.hearth.test/Caroline'><x xmlns='http://jabber.org/protocol/muc'/></presence>
carol receives: <presence from='second@conference.hearth.test/Caroline' to='carol@hearth.test/pc' type='error'><x xmlns='http://jabber.org/protocol/muc'/>
	<error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>nicknames are at most 5 characters here</text></error></presence>
`)
}

// TestMUCQueries: IQs between occupants go through the room under their
// room JIDs (a vCard request to the occupant's account), answers come
// back the same way; strangers and unknown nicks get errors.
func TestMUCQueries(t *testing.T) {
	srv := xmpptest.Start(t)
	c := mucUsers(t, srv, "alice", "bob", "carol")
	alice, bob := c["alice"], c["bob"]
	mucCreate(t, alice, "q@conference.hearth.test", "Alice")
	mucJoin(t, bob, "q@conference.hearth.test", "Bob")
	bob.Send(`<iq type='get' id='v1' to='q@conference.hearth.test/Alice'><query xmlns='jabber:iq:version'/></iq>`)
	got := alice.Expect(`<iq type='get' id='*' from='q@conference.hearth.test/Bob' to='alice@hearth.test/pc'><query xmlns='jabber:iq:version'/></iq>`)
	alice.Send(fmt.Sprintf(`<iq type='result' id='%s' to='q@conference.hearth.test/Bob'><query xmlns='jabber:iq:version'><name>tea client</name></query></iq>`, got.Attr("id")))
	xmpptest.Play(t, c, `
bob receives: <iq type='result' id='v1' from='q@conference.hearth.test/Alice' to='bob@hearth.test/pc'><query xmlns='jabber:iq:version'><name>tea client</name></query></iq>
# A vCard request goes to the account, which the server answers.
alice sends: <iq type='set' id='vs'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>
alice receives: <iq type='result' id='vs' from='alice@hearth.test' to='alice@hearth.test/pc'/>
bob sends: <iq type='get' id='v2' to='q@conference.hearth.test/Alice'><vCard xmlns='vcard-temp'/></iq>
bob receives: <iq type='result' id='v2' from='q@conference.hearth.test/Alice' to='bob@hearth.test/pc'><vCard xmlns='vcard-temp'><FN>Alice</FN></vCard></iq>
bob sends: <iq type='get' id='v3' to='q@conference.hearth.test/Nobody'><query xmlns='jabber:iq:version'/></iq>
bob receives: <iq type='error' id='v3' from='q@conference.hearth.test/Nobody' to='bob@hearth.test/pc'><query xmlns='jabber:iq:version'/>
	<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
carol sends: <iq type='get' id='v4' to='q@conference.hearth.test/Alice'><query xmlns='jabber:iq:version'/></iq>
carol receives: <iq type='error' id='v4' from='q@conference.hearth.test/Alice' to='carol@hearth.test/pc'><query xmlns='jabber:iq:version'/>
	<error type='cancel'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`+errText+`</error></iq>
# An answer nobody asked for is dropped.
carol sends: <iq type='result' id='muc-0000' to='q@conference.hearth.test/Bob'/>
bob receives nothing more
`)
}

// drain returns what c received before the answer to a ping it sends now.
func drain(t *testing.T, c *xmpptest.Client, id string) []*stanza.Element {
	t.Helper()
	c.Send(`<iq type='get' id='` + id + `'><ping xmlns='urn:xmpp:ping'/></iq>`)
	var got []*stanza.Element
	for {
		el := c.Next()
		if el.Name == "iq" && el.Attr("id") == id {
			return got
		}
		got = append(got, el)
	}
}
