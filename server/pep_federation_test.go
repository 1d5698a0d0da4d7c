package server_test

import (
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestPEPFederation: personal eventing between two Hearth servers. A
// remote contact's presence, arriving over federation, makes the
// account's server learn its caps (a disco#info query over the link) and
// send it notifications and, for a new device, the last item; a remote
// user with no roster relation reads an open node and is refused a
// presence one.
func TestPEPFederation(t *testing.T) {
	p := federate(t, true)
	p.b.AddUser(t, "carol", secret("carol"))
	alice := withCaps(p.a.Login(t, "alice", "silver-kettle-pw", "phone"), true, nickNotify)
	bob := withCaps(p.b.Login(t, "bob", "copper-lantern-pw", "pc"), true, nickNotify, "urn:example:bob")
	carol := p.b.Login(t, "carol", secret("carol"), "tablet")
	xmpptest.SubscribeBoth(alice.Client, "alice@a.test/phone", bob.Client, "bob@b.test/pc", 5*time.Second)
	// Each server asks the other's client what its caps mean.
	bob.AnswerCaps("alice@a.test")
	alice.AnswerCaps("bob@b.test")
	alice.Sync()
	bob.Sync()
	c := map[string]*xmpptest.Client{"alice": alice.Client, "bob": bob.Client, "carol": carol}
	xmpptest.Play(t, c, `
alice sends: <iq type='set' id='n1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></publish></pubsub></iq>
alice receives: <message from='alice@a.test' to='alice@a.test/phone' type='headline' id='*'>`+nickEvent+`</message>
alice receives: <iq type='result' id='n1' from='alice@a.test' to='alice@a.test/phone'>*</iq>
bob receives: <message from='alice@a.test' to='bob@b.test/pc' type='headline' id='*'>`+nickEvent+`</message>
alice sends: <iq type='set' id='o1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='31'/></list></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='o1' from='alice@a.test' to='alice@a.test/phone'>*</iq>
carol sends: <iq type='get' id='f1' to='alice@a.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'/></pubsub></iq>
carol receives: <iq type='result' id='f1' from='alice@a.test' to='carol@b.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='31'/></list></item></items></pubsub></iq>
carol sends: <iq type='get' id='f2' to='alice@a.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>
carol receives: <iq type='error' id='f2' from='alice@a.test' to='carol@b.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><presence-subscription-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
bob sends: <iq type='get' id='f3' to='alice@a.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>
bob receives: <iq type='result' id='f3' from='alice@a.test' to='bob@b.test/pc'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></items></pubsub></iq>
bob receives nothing more
carol receives nothing more`)
	// bob's new device: its presence reaches a.test, whose caps cache
	// knows it, and alice's last nick comes back at once.
	tablet := withCaps(p.b.Login(t, "bob", "copper-lantern-pw", "tablet"), false, nickNotify, "urn:example:bob")
	tablet.Expect(`<message from='alice@a.test' to='bob@b.test/tablet' type='headline' id='*'>` + nickEvent + `</message>`)
}
