package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/xmpptest"
)

// TestPush walks XEP-0357 against a push service on another server (a
// client of b.test stands in for the app server, reached over
// federation): alice's phone registers; a message while it is connected
// wakes nobody; one while its session is held for resumption, and one
// stored offline, reach the service as notifications with the phone's
// publish options, carrying the sender and the text only when push.content
// says so; an error from the service turns the registration off.
func TestPush(t *testing.T) {
	p := federate(t, true, func(c *server.Config) { c.ResumeTimeout = time.Second })
	a, b := p.a, p.b
	a.AddUser(t, "carol", "amber-teapot-pw")
	b.AddUser(t, "appserver", "quiet-harbor-pw")
	svc := b.Login(t, "appserver", "quiet-harbor-pw", "push")
	carol := a.Login(t, "carol", "amber-teapot-pw", "pc")
	phone := a.Login(t, "alice", "silver-kettle-pw", "phone")
	phone.Send(`<presence/>`)
	phone.Expect(`<presence from='alice@a.test/phone' to='alice@a.test/phone'/>`)
	c := map[string]*xmpptest.Client{"phone": phone, "carol": carol, "svc": svc}

	phone.Send(`<iq type='get' id='d1' to='alice@a.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if el := phone.Next(); !strings.Contains(el.String(), `var="urn:xmpp:push:0"`) {
		t.Fatalf("the account's disco#info lacks urn:xmpp:push:0: %s", el)
	}
	xmpptest.Play(t, c, `
carol sends: <iq type='set' id='x1' to='alice@a.test'><enable xmlns='urn:xmpp:push:0' jid='appserver@b.test/push' node='n1'/></iq>
carol receives: <iq type='error' id='x1' from='alice@a.test' to='carol@a.test/pc'><enable xmlns='urn:xmpp:push:0' jid='appserver@b.test/push' node='n1'/><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>push notifications are turned on and off by the device itself</text></error></iq>
phone sends: <iq type='set' id='x2'><enable xmlns='urn:xmpp:push:0' jid='appserver@b.test/push'/></iq>
phone receives: <iq type='error' id='x2' from='alice@a.test' to='alice@a.test/phone'><enable xmlns='urn:xmpp:push:0' jid='appserver@b.test/push'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>'node' must name the push service's node for this device</text></error></iq>
phone sends: <iq type='set' id='e1'><enable xmlns='urn:xmpp:push:0' jid='appserver@b.test/push' node='n1'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x></enable></iq>
phone receives: <iq type='result' id='e1' from='alice@a.test' to='alice@a.test/phone'/>
carol sends: <message to='alice@a.test' type='chat' id='m1'><body>you are here</body></message>
phone receives: <message from='carol@a.test/pc' to='alice@a.test' type='chat' id='m1'><body>you are here</body></message>
svc receives nothing yet`)
	id := enableSM(t, phone, "1")
	if id == "" {
		t.Fatal("no resumption id")
	}
	phone.Abort()
	// The session is held: the next message wakes the phone.
	notification := func(id, count, extra string) string {
		return `<iq type='set' id='*' from='alice@a.test' to='appserver@b.test/push'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n1'><item><notification xmlns='urn:xmpp:push:0'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:push:summary</value></field><field var='message-count'><value>` + count + `</value></field>` + extra + `</x></notification></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s3cr3t</value></field></x></publish-options></pubsub></iq>`
	}
	answer := func(iq, body string) {
		svc.Send(`<iq type='` + body + `' id='` + iq + `' to='alice@a.test'/>`)
	}
	time.Sleep(100 * time.Millisecond) // the server sees the connection go
	carol.Send(`<message to='alice@a.test/phone' type='chat' id='m2'><body>wake up</body></message>`)
	el := svc.Expect(notification("*", "1", ""))
	answer(el.Attr("id"), "result")

	setSetting(t, a, "push.content", "body")
	carol.Send(`<message to='alice@a.test' type='chat' id='m3'><body>dinner at seven</body></message>`)
	el = svc.Expect(notification("*", "2", `<field var='last-message-sender'><value>carol@a.test</value></field><field var='last-message-body'><value>dinner at seven</value></field>`))
	answer(el.Attr("id"), "result")
	setSetting(t, a, "push.content", "sender")
	carol.Send(`<message to='alice@a.test' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	svc.Quiet(300 * time.Millisecond) // a chat state wakes nobody

	// The held session ends; messages now go to offline storage, and the
	// phone is still woken for them.
	a.WaitOffline(t, "alice", 2)
	carol.Send(`<message to='alice@a.test' type='chat' id='m4'><body>stored</body></message>`)
	el = svc.Expect(notification("*", "3", `<field var='last-message-sender'><value>carol@a.test</value></field>`))
	// The service refuses: the registration is turned off.
	svc.Send(`<iq type='error' id='` + el.Attr("id") + `' to='alice@a.test'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		regs, err := a.DB.Pushes(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(regs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration still there after the service refused: %+v", regs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	carol.Send(`<message to='alice@a.test' type='chat' id='m5'><body>nobody is told</body></message>`)
	svc.Quiet(300 * time.Millisecond)
	a.WaitOffline(t, "alice", 4)
}
