package server_test

import (
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

const bookmarksOptions = `<publish-options><x xmlns='jabber:x:data' type='submit'>
<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>
<field var='pubsub#persist_items'><value>true</value></field>
<field var='pubsub#max_items'><value>max</value></field>
<field var='pubsub#send_last_published_item'><value>never</value></field>
<field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>`

// TestPEPBookmarks: XEP-0402 bookmarks (one item per room, the owner's
// alone) and XEP-0411's conversion: XEP-0048 bookmarks set in private XML
// storage become XEP-0402 items, told to the account's sessions that ask;
// XEP-0402 items published and retracted show in private storage.
func TestPEPBookmarks(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	alice := pepOnline(t, srv, "alice", "phone", true, "urn:xmpp:bookmarks:1+notify")
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	c := map[string]*xmpptest.Client{"alice": alice.Client, "bob": bob}

	alice.Send(`<iq type='get' id='d1' to='alice@hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if el := alice.Expect(`<iq type='result' id='d1' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>`); !strings.Contains(el.String(), `var="urn:xmpp:bookmarks-conversion:0"`) {
		t.Fatalf("disco#info lacks urn:xmpp:bookmarks-conversion:0: %s", el)
	}
	xmpptest.Play(t, c, `
# XEP-0048 in private storage becomes XEP-0402.
alice sends: <iq type='set' id='b1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>
  <conference jid='tea@conference.hearth.test' name='Tea' autojoin='1'><nick>Ally</nick></conference>
  <url name='Hearth' url='https://hearth.example/'/></storage></query></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><item id='tea@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Tea' autojoin='true'><nick>Ally</nick></conference></item></items></event></message>
alice receives: <iq type='result' id='b1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='get' id='b2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>
alice receives: <iq type='result' id='b2' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'><item id='tea@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Tea' autojoin='true'><nick>Ally</nick></conference></item></items></pubsub></iq>
# XEP-0402 as a client publishes it (XEP-0402 3.3), shown in private storage.
alice sends: <iq type='set' id='b3'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='games@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Games' autojoin='false'/></item></publish>`+bookmarksOptions+`</pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><item id='games@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Games' autojoin='false'/></item></items></event></message>
alice receives: <iq type='result' id='b3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='games@conference.hearth.test'/></publish></pubsub></iq>
alice sends: <iq type='get' id='b4'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>
alice receives: <iq type='result' id='b4' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><url name='Hearth' url='https://hearth.example/'/><conference jid='tea@conference.hearth.test' name='Tea' autojoin='true'><nick>Ally</nick></conference><conference jid='games@conference.hearth.test' name='Games' autojoin='false'/></storage></query></iq>
alice sends: <iq type='set' id='b5'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:xmpp:bookmarks:1' notify='true'><item id='tea@conference.hearth.test'/></retract></pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><retract id='tea@conference.hearth.test'/></items></event></message>
alice receives: <iq type='result' id='b5' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='get' id='b6'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>
alice receives: <iq type='result' id='b6' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><url name='Hearth' url='https://hearth.example/'/><conference jid='games@conference.hearth.test' name='Games' autojoin='false'/></storage></query></iq>
# Removing a room in XEP-0048 retracts it.
alice sends: <iq type='set' id='b7'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><retract id='games@conference.hearth.test'/></items></event></message>
alice receives: <iq type='result' id='b7' from='alice@hearth.test' to='alice@hearth.test/phone'/>
# XEP-0048 over PEP (XEP-0048 3.2) too.
alice sends: <iq type='set' id='b9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='storage:bookmarks'><item id='current'><storage xmlns='storage:bookmarks'><conference jid='book@conference.hearth.test' autojoin='true'/></storage></item></publish>`+bookmarksOptions+`</pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><item id='book@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' autojoin='true'/></item></items></event></message>
alice receives: <iq type='result' id='b9' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>
alice sends: <iq type='get' id='b10'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>
alice receives: <iq type='result' id='b10' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='book@conference.hearth.test' autojoin='true'/></storage></query></iq>
# Bookmarks are alice's alone.
bob sends: <iq type='get' id='b8' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>
bob receives: <iq type='error' id='b8' from='alice@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><closed-node xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice receives nothing more
bob receives nothing more`)
}
