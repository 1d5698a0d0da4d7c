package server_test

import (
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestCSI walks XEP-0352: while alice's phone says it is inactive, bob's
// presence updates wait (only the latest of them is sent) and so do his
// chat states; a message with a body goes out at once, after what waited;
// becoming active sends what waits.
func TestCSI(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	phone := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "pc", 0)
	c := map[string]*xmpptest.Client{"phone": phone, "bob": bob}
	// alice and bob see each other's presence (RFC 6121 3).
	xmpptest.SubscribeBoth(phone, phone.JID, bob, bob.JID, 5*time.Second)

	t.Run("held until a message", func(t *testing.T) {
		xmpptest.Play(t, c, `
phone sends: <inactive xmlns='urn:xmpp:csi:0'/>
phone sends: <iq type='get' id='s1'><ping xmlns='urn:xmpp:ping'/></iq>
phone receives: <iq type='result' id='s1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob sends: <presence><show>away</show></presence>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'><show>away</show></presence>
bob sends: <presence><show>xa</show></presence>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'><show>xa</show></presence>
bob sends: <message to='alice@hearth.test/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
bob receives nothing more
phone receives nothing yet
bob sends: <message to='alice@hearth.test/phone' type='chat' id='m1'><body>wake up</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>
phone receives: <presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'><show>xa</show></presence>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m1'><body>wake up</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>
phone receives nothing more`)
	})
	t.Run("held until active", func(t *testing.T) {
		xmpptest.Play(t, c, `
bob sends: <presence><show>dnd</show></presence>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'><show>dnd</show></presence>
bob sends: <message to='alice@hearth.test' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>
bob receives nothing more
phone receives nothing yet
phone sends: <active xmlns='urn:xmpp:csi:0'/>
phone receives: <presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'><show>dnd</show></presence>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>
bob sends: <presence><show>chat</show></presence>
bob receives: <presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'><show>chat</show></presence>
phone receives: <presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'><show>chat</show></presence>
phone receives nothing more`)
	})
	t.Run("what cannot wait", func(t *testing.T) {
		xmpptest.Play(t, c, `
phone sends: <inactive xmlns='urn:xmpp:csi:0'/>
phone sends: <iq type='get' id='s2'><ping xmlns='urn:xmpp:ping'/></iq>
phone receives: <iq type='result' id='s2' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob sends: <presence to='alice@hearth.test' type='unsubscribe'/>
phone receives: <presence from='bob@hearth.test' to='alice@hearth.test' type='unsubscribe'/>
phone sends: <active xmlns='urn:xmpp:csi:0'/>`)
	})
}
