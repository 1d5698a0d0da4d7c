package server_test

import (
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

// TestCarbons walks XEP-0280: alice on her phone and her pc, both with
// carbons on, and bob. What alice sends from one device reaches the other
// as a sent carbon; what bob sends to one of her devices reaches the other
// as a received carbon; a message to her bare JID that reaches both needs
// no carbon; private, no-copy, groupchat and bodiless normal messages are
// not copied; a device that disabled carbons gets none; and another
// device of the account is the only one that gets them.
func TestCarbons(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	phone := online(t, srv, "alice", "phone", 1)
	pc := online(t, srv, "alice", "pc", 0)
	phone.Expect(`<presence from='alice@hearth.test/pc' to='alice@hearth.test/phone'><priority>0</priority></presence>`)
	pc.Expect(`<presence from='alice@hearth.test/phone' to='alice@hearth.test/pc'><priority>1</priority></presence>`)
	bob := online(t, srv, "bob", "laptop", 0)
	carol := online(t, srv, "carol", "tablet", 0)
	c := map[string]*xmpptest.Client{"phone": phone, "pc": pc, "bob": bob, "carol": carol}

	phone.Send(`<iq type='get' id='d1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	el := phone.Expect(`<iq type='result' id='d1' from='hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#info'>*</query></iq>`)
	if !strings.Contains(el.String(), `var="urn:xmpp:carbons:2"`) {
		t.Fatalf("disco#info lacks urn:xmpp:carbons:2: %s", el)
	}

	t.Run("enable", func(t *testing.T) {
		xmpptest.Play(t, c, `
phone sends: <iq type='set' id='e1'><enable xmlns='urn:xmpp:carbons:2'/></iq>
phone receives: <iq type='result' id='e1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
pc sends: <iq type='set' id='e2'><enable xmlns='urn:xmpp:carbons:2'/></iq>
pc receives: <iq type='result' id='e2' from='alice@hearth.test' to='alice@hearth.test/pc'/>`)
	})
	t.Run("sent", func(t *testing.T) {
		xmpptest.Play(t, c, `
phone sends: <message to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message>
pc receives: <message from='alice@hearth.test' to='alice@hearth.test/pc' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message></forwarded></sent></message>
phone receives nothing more
pc receives nothing more`)
	})
	t.Run("received", func(t *testing.T) {
		xmpptest.Play(t, c, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='r1'><body>see you</body></message>
phone receives: <message from='bob@hearth.test/laptop' to='alice@hearth.test/phone' type='chat' id='r1'><body>see you</body></message>
pc receives: <message from='alice@hearth.test' to='alice@hearth.test/pc' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/phone' type='chat' id='r1'><body>see you</body></message></forwarded></received></message>
bob sends: <message to='alice@hearth.test' type='chat' id='r2'><body>to the bare JID</body></message>
phone receives: <message from='bob@hearth.test/laptop' to='alice@hearth.test' type='chat' id='r2'><body>to the bare JID</body></message>
pc receives: <message from='alice@hearth.test' to='alice@hearth.test/pc' type='chat'><received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test' type='chat' id='r2'><body>to the bare JID</body></message></forwarded></received></message>
phone receives nothing more
pc receives nothing more`)
	})
	t.Run("not copied", func(t *testing.T) {
		xmpptest.Play(t, c, `
phone sends: <message to='bob@hearth.test' type='chat' id='p1'><body>just here</body><private xmlns='urn:xmpp:carbons:2'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='p1'><body>just here</body></message>
phone sends: <message to='bob@hearth.test' type='chat' id='p2'><body>no copy</body><no-copy xmlns='urn:xmpp:hints'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='p2'><body>no copy</body><no-copy xmlns='urn:xmpp:hints'/></message>
phone sends: <message to='bob@hearth.test' id='p3'><subject>no body</subject></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' id='p3'><subject>no body</subject></message>
bob sends: <message to='alice@hearth.test/phone' type='headline' id='p4'><body>news</body></message>
phone receives: <message from='bob@hearth.test/laptop' to='alice@hearth.test/phone' type='headline' id='p4'><body>news</body></message>
phone receives nothing more
pc receives nothing more`)
	})
	t.Run("disable", func(t *testing.T) {
		xmpptest.Play(t, c, `
pc sends: <iq type='set' id='x1'><disable xmlns='urn:xmpp:carbons:2'/></iq>
pc receives: <iq type='result' id='x1' from='alice@hearth.test' to='alice@hearth.test/pc'/>
phone sends: <message to='bob@hearth.test' type='chat' id='d2'><body>after disable</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='d2'><body>after disable</body></message>
pc receives nothing more`)
	})
	t.Run("only the account's own", func(t *testing.T) {
		xmpptest.Play(t, c, `
carol sends: <iq type='set' id='c1' to='alice@hearth.test'><enable xmlns='urn:xmpp:carbons:2'/></iq>
carol receives: <iq type='error' id='c1' from='alice@hearth.test' to='carol@hearth.test/tablet'><enable xmlns='urn:xmpp:carbons:2'/><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
bob sends: <message to='alice@hearth.test/phone' type='chat' id='c2'><body>for alice</body></message>
phone receives: <message from='bob@hearth.test/laptop' to='alice@hearth.test/phone' type='chat' id='c2'><body>for alice</body></message>
carol receives nothing more
pc receives nothing more`)
	})
}
