package server_test

import (
	"fmt"
	"strconv"
	"testing"

	"hearth/server/xmpptest"
)

// secret is the password the tests give user: one that does not contain
// the user's name (the password rules refuse that).
func secret(user string) string { return "silver-kettle-" + strconv.Itoa(len(user)) }

// online logs a user in and sends initial presence with a priority.
func online(t *testing.T, srv *xmpptest.Server, user, res string, prio int) *xmpptest.Client {
	t.Helper()
	c := srv.Login(t, user, secret(user), res)
	c.Send(fmt.Sprintf(`<presence><priority>%d</priority></presence>`, prio))
	c.Expect(fmt.Sprintf(`<presence from='%s' to='%s'><priority>%d</priority></presence>`, c.JID, c.JID, prio))
	return c
}

// TestDelivery checks the delivery rules of RFC 6121 8.5 for messages and
// IQs, and that the server stamps the from of every client stanza
// (RFC 6120 8.1.2.1).
func TestDelivery(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	high := online(t, srv, "bob", "high", 5)
	low := online(t, srv, "bob", "low", 1)
	high.Expect(`<presence from='bob@hearth.test/low' to='bob@hearth.test/high'><priority>1</priority></presence>`)
	low.Expect(`<presence from='bob@hearth.test/high' to='bob@hearth.test/low'><priority>5</priority></presence>`)
	neg := online(t, srv, "carol", "neg", -1)
	c := map[string]*xmpptest.Client{"alice": alice, "high": high, "low": low, "neg": neg}

	t.Run("chat to bare JID goes to the highest priority", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='chat' from='mallory@evil.example/x'><body>1</body></message>
high receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat'><body>1</body></message>
high receives nothing more
low receives nothing more`)
	})
	t.Run("normal to bare JID with equal priorities goes to both", func(t *testing.T) {
		xmpptest.Play(t, c, `
low sends: <presence><priority>5</priority></presence>
low receives: <presence from='bob@hearth.test/low' to='bob@hearth.test/low'><priority>5</priority></presence>
high receives: <presence from='bob@hearth.test/low' to='bob@hearth.test/high'><priority>5</priority></presence>
alice sends: <message to='bob@hearth.test'><body>2</body></message>
high receives: <message from='alice@hearth.test/phone' to='bob@hearth.test'><body>2</body></message>
low receives: <message from='alice@hearth.test/phone' to='bob@hearth.test'><body>2</body></message>
high receives nothing more
low receives nothing more`)
	})
	t.Run("headline to bare JID goes to all non-negative", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='carol@hearth.test' type='headline'><body>3</body></message>
neg receives nothing more
alice sends: <message to='bob@hearth.test' type='headline'><body>4</body></message>
high receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='headline'><body>4</body></message>
low receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='headline'><body>4</body></message>
alice receives nothing more`)
	})
	t.Run("full JID", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test/low' type='chat'><body>5</body></message>
low receives: <message from='alice@hearth.test/phone' to='bob@hearth.test/low' type='chat'><body>5</body></message>
high receives nothing more
alice sends: <message to='carol@hearth.test/neg' type='chat'><body>6</body></message>
neg receives: <message from='alice@hearth.test/phone' to='carol@hearth.test/neg' type='chat'><body>6</body></message>
alice sends: <iq to='bob@hearth.test/high' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>
high receives: <iq from='alice@hearth.test/phone' to='bob@hearth.test/high' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>
high sends: <iq to='alice@hearth.test/phone' type='result' id='v1'/>
alice receives: <iq from='bob@hearth.test/high' to='alice@hearth.test/phone' type='result' id='v1'/>`)
	})
	t.Run("unknown resource", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test/gone' type='chat' id='m7'><body>7</body></message>
high receives: <message from='alice@hearth.test/phone' to='bob@hearth.test/gone' type='chat' id='m7'><body>7</body></message>
low receives: <message from='alice@hearth.test/phone' to='bob@hearth.test/gone' type='chat' id='m7'><body>7</body></message>
alice sends: <message to='bob@hearth.test/gone' type='headline'><body>8</body></message>
alice sends: <iq to='bob@hearth.test/gone' type='get' id='q1'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq from='bob@hearth.test/gone' to='alice@hearth.test/phone' type='error' id='q1'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <message to='bob@hearth.test/gone' type='groupchat' id='g1'><body>9</body></message>
alice receives: <message from='bob@hearth.test/gone' to='alice@hearth.test/phone' type='error' id='g1'><body>9</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>
high receives nothing more
low receives nothing more
alice receives nothing more`)
	})
	t.Run("groupchat and error to bare JID", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='groupchat' id='g2'><body>x</body></message>
alice receives: <message from='bob@hearth.test' to='alice@hearth.test/phone' type='error' id='g2'><body>x</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>
alice sends: <message to='bob@hearth.test' type='error' id='e1'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>
high receives nothing more
alice receives nothing more`)
	})
	t.Run("no such user", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <message to='nobody@hearth.test' id='n1'><body>?</body></message>
alice receives: <message from='nobody@hearth.test' to='alice@hearth.test/phone' type='error' id='n1'><body>?</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>
alice sends: <iq to='nobody@hearth.test' type='get' id='n2'><query xmlns='urn:x-unknown'/></iq>
alice receives: <iq from='nobody@hearth.test' to='alice@hearth.test/phone' type='error' id='n2'><query xmlns='urn:x-unknown'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	})
	t.Run("bad stanzas", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='get' id='u1'><query xmlns='urn:x-unknown'/></iq>
alice receives: <iq from='alice@hearth.test' to='alice@hearth.test/phone' type='error' id='u1'><query xmlns='urn:x-unknown'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq from='alice@hearth.test' to='alice@hearth.test/phone' type='error'><ping xmlns='urn:xmpp:ping'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice sends: <message to='bob@@hearth.test' id='j1'><body>x</body></message>
alice receives: <message to='alice@hearth.test/phone' type='error' id='j1'><body>x</body><error type='modify'><jid-malformed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></message>
alice sends: <iq type='get' id='t1' to='hearth.test'><a xmlns='urn:x'/><b xmlns='urn:x'/></iq>
alice receives: <iq from='hearth.test' to='alice@hearth.test/phone' type='error' id='t1'><a xmlns='urn:x'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice receives nothing more`)
	})
}

// TestOffline checks XEP-0160: a message for an account with no available
// resource is stored and delivered, stamped with XEP-0203 delay, when the
// account next sends available presence; chat states alone are not kept.
func TestOffline(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	c := map[string]*xmpptest.Client{"alice": alice}
	xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='chat' id='o1'><body>while you were out</body></message>
alice sends: <message to='bob@hearth.test' type='chat' id='o2'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
alice receives nothing more`)
	if n, err := srv.DB.CountOffline(t.Context(), "bob"); err != nil || n != 1 {
		t.Fatalf("offline count = %d, %v; want 1", n, err)
	}
	bob := srv.Login(t, "bob", secret("bob"), "pc")
	c["bob"] = bob
	xmpptest.Play(t, c, `
bob receives nothing more
bob sends: <presence/>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'/>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test/pc' type='chat' id='o1'><body>while you were out</body><delay xmlns='urn:xmpp:delay' from='hearth.test' stamp='*'>Offline storage</delay></message>
bob receives nothing more`)
	srv.WaitOffline(t, "bob", 0)
}

// TestPresenceBroadcast: mutual subscription through the protocol, then
// presence both ways, and unavailable when a client disconnects.
func TestPresenceBroadcast(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "pc", 0)
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	xmpptest.Play(t, c, `
alice sends: <iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq to='alice@hearth.test/phone' type='result' id='r' from='alice@hearth.test'><query xmlns='jabber:iq:roster' ver='*'/></iq>
alice sends: <presence to='bob@hearth.test' type='subscribe'/>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' subscription='none' ask='subscribe'/></query></iq>
bob receives: <presence from='alice@hearth.test' to='bob@hearth.test' type='subscribe'/>
bob sends: <presence to='alice@hearth.test' type='subscribed'/>
alice receives: <presence from='bob@hearth.test' to='alice@hearth.test' type='subscribed'/>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' subscription='to'/></query></iq>
alice receives: <presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'><priority>0</priority></presence>
bob sends: <presence to='alice@hearth.test' type='subscribe'/>
alice receives: <presence from='bob@hearth.test' to='alice@hearth.test' type='subscribe'/>
alice sends: <presence to='bob@hearth.test' type='subscribed'/>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' subscription='both'/></query></iq>
bob receives: <presence from='alice@hearth.test' to='bob@hearth.test' type='subscribed'/>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/pc'><priority>0</priority></presence>
alice receives nothing more
bob receives nothing more
bob sends: <presence><show>away</show></presence>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'><show>away</show></presence>
alice receives: <presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'><show>away</show></presence>`)
	bob.Close()
	alice.Expect(`<presence from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='unavailable'/>`)
	alice.Sync()
}
