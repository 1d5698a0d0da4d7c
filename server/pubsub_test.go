package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
)

// pubsubTrio starts a server with alice, bob (alice's contact, in her
// group "Friends") and carol, a stranger, each online.
func pubsubTrio(t *testing.T) (*xmpptest.Server, map[string]*xmpptest.Client) {
	t.Helper()
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	if err := srv.Admin.MakeMutual(context.Background(), "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "laptop", 0)
	alice.Expect(`<presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'><priority>0</priority></presence>`)
	bob.Expect(`<presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'><priority>0</priority></presence>`)
	// A probe's answer may repeat a presence the broadcast brought.
	for _, cl := range []*xmpptest.Client{alice, bob} {
		cl.Receive(200*time.Millisecond, func(el *stanza.Element) {
			if el.Name != "presence" {
				t.Errorf("%s received %s", cl.JID, el)
			}
		})
	}
	carol := online(t, srv, "carol", "tablet", 0)
	return srv, map[string]*xmpptest.Client{"alice": alice, "bob": bob, "carol": carol}
}

// TestPubsubService walks the service on pubsub.<domain>: disco, node
// creation and configuration, subscriptions with options, publishing with
// and without payloads, the last item on subscription, retract, purge,
// delete, and the errors of each.
func TestPubsubService(t *testing.T) {
	_, c := pubsubTrio(t)
	alice := c["alice"]
	t.Run("disco", func(t *testing.T) {
		alice.Send(`<iq type='get' id='d1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
		el := alice.Expect(`<iq type='result' id='d1' from='hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#items'>*</query></iq>`)
		if !strings.Contains(el.String(), `jid="pubsub.hearth.test"`) {
			t.Errorf("the server's items lack the service: %s", el)
		}
		alice.Send(`<iq type='get' id='d2' to='pubsub.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		el = alice.Expect(`<iq type='result' id='d2' from='pubsub.hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#info'>*</query></iq>`)
		for _, want := range []string{`category="pubsub" type="service"`, `var="http://jabber.org/protocol/pubsub#subscribe"`,
			`var="http://jabber.org/protocol/pubsub#access-whitelist"`, `var="http://jabber.org/protocol/pubsub#rsm"`} {
			if !strings.Contains(el.String(), want) {
				t.Errorf("disco#info lacks %s: %s", want, el)
			}
		}
	})
	t.Run("create, subscribe, publish", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='c1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub></iq>
alice receives: <iq type='result' id='c1' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='set' id='c2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub></iq>
alice receives: <iq type='error' id='c2' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>a node with this name exists already; choose another name</text></error></iq>
bob sends: <iq type='set' id='s1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='s1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='news' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
# carol subscribes her full JID, without deliveries at first.
carol sends: <iq type='set' id='s2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='carol@hearth.test/tablet'/>
  <options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='pubsub#deliver'><value>0</value></field></x></options></pubsub></iq>
carol receives: <iq type='result' id='s2' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='news' jid='carol@hearth.test/tablet' subscription='subscribed' subid='*'/></pubsub></iq>
# Subscribing someone else is refused.
carol sends: <iq type='set' id='s3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
carol receives: <iq type='error' id='s3' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>subscribe with your own JID</text><invalid-jid xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='p1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='one'><entry xmlns='http://www.w3.org/2005/Atom'><title>Hello</title></entry></item></publish></pubsub></iq>
alice receives: <iq type='result' id='p1' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='one'/></publish></pubsub></iq>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='one'><entry xmlns='http://www.w3.org/2005/Atom'><title>Hello</title></entry></item></items></event></message>
carol receives nothing more
# Only owners and publishers publish.
bob sends: <iq type='set' id='p2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item><x xmlns='urn:x'/></item></publish></pubsub></iq>
bob receives: <iq type='error' id='p2' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only the node's owners and publishers may publish to it</text></error></iq>
# carol turns deliveries on.
carol sends: <iq type='get' id='o1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='carol@hearth.test/tablet'/></pubsub></iq>
carol receives: <iq type='result' id='o1' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='carol@hearth.test/tablet' subid='*'><x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='pubsub#deliver' type='boolean' label='Send me notifications'><value>0</value></field></x></options></pubsub></iq>
carol sends: <iq type='set' id='o2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='carol@hearth.test/tablet'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver'><value>true</value></field></x></options></pubsub></iq>
carol receives: <iq type='result' id='o2' from='pubsub.hearth.test' to='carol@hearth.test/tablet'/>
carol sends: <iq type='set' id='o3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='carol@hearth.test/tablet'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#digest'><value>true</value></field></x></options></pubsub></iq>
carol receives: <iq type='error' id='o3' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this service does not have the subscription option pubsub#digest</text><invalid-options xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
# Notifications without payloads.
alice sends: <iq type='set' id='f1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='news'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#deliver_payloads'><value>0</value></field></x></configure></pubsub></iq>
alice receives: <iq type='result' id='f1' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='set' id='p3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='two'><entry xmlns='http://www.w3.org/2005/Atom'><title>Two</title></entry></item></publish></pubsub></iq>
alice receives: <iq type='result' id='p3' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='two'/></publish></pubsub></iq>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='two'/></items></event></message>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test/tablet' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='two'/></items></event></message>
# Retract reaches the subscribers.
alice sends: <iq type='set' id='r1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='news'><item id='one'/></retract></pubsub></iq>
alice receives: <iq type='result' id='r1' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><retract id='one'/></items></event></message>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test/tablet' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><retract id='one'/></items></event></message>
bob sends: <iq type='set' id='u1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='u1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'/>
bob sends: <iq type='set' id='u2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='error' id='u2' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>you have no subscription to this node</text><not-subscribed xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
# A new subscriber gets the last item (with payloads on again).
alice sends: <iq type='set' id='f2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='news'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver_payloads'><value>1</value></field></x></configure></pubsub></iq>
alice receives: <iq type='result' id='f2' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
bob sends: <iq type='set' id='s4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='s4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='news' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='news'><item id='two'><entry xmlns='http://www.w3.org/2005/Atom'><title>Two</title></entry></item></items></event></message>
bob sends: <iq type='get' id='l1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/></pubsub></iq>
bob receives: <iq type='result' id='l1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions><subscription node='news' jid='bob@hearth.test' subscription='subscribed' subid='*'/></subscriptions></pubsub></iq>
alice sends: <iq type='get' id='l2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations/></pubsub></iq>
alice receives: <iq type='result' id='l2' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations><affiliation node='news' affiliation='owner'/></affiliations></pubsub></iq>
alice sends: <iq type='get' id='l3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='news'/></pubsub></iq>
alice receives: <iq type='result' id='l3' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='news'><subscription jid='bob@hearth.test' subscription='subscribed' subid='*'/><subscription jid='carol@hearth.test/tablet' subscription='subscribed' subid='*'/></subscriptions></pubsub></iq>
bob sends: <iq type='get' id='l4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='news'/></pubsub></iq>
bob receives: <iq type='error' id='l4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only the node's owners may do this</text></error></iq>
# Purge and delete reach the subscribers.
alice sends: <iq type='set' id='x1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='news'/></pubsub></iq>
alice receives: <iq type='result' id='x1' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='news'/></event></message>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test/tablet' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><purge node='news'/></event></message>
alice sends: <iq type='set' id='x2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='news'/></pubsub></iq>
alice receives: <iq type='result' id='x2' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='news'/></event></message>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test/tablet' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='news'/></event></message>
bob sends: <iq type='get' id='x3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='news'/></pubsub></iq>
bob receives: <iq type='error' id='x3' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='news'/></pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more`)
	})
}

// TestSlixmppPubsub: slixmpp's own XEP-0060 plugin against the service
// (xmpptest/interop/slix_pubsub.py): a node created with a form, two
// subscribers notified of an Atom entry (XEP-0472), a late subscriber
// given the last item, a retraction reaching all three, and a whitelist
// node refusing a stranger.
func TestSlixmppPubsub(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	srv := xmpptest.Start(t)
	users := []string{"alice", "bob", "carol", "dave"}
	args := []string{"xmpptest/interop/slix_pubsub.py", "--ca", srv.CertFile}
	host, port := splitAddr(t, srv.Addr)
	args = append(args, host, port, srv.Domain)
	for _, u := range users {
		srv.AddUser(t, u, secret(u))
		args = append(args, u, secret(u))
	}
	runPeer(t, py, args...)
}
