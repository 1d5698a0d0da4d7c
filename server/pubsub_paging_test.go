package server_test

import (
	"context"
	"strings"
	"testing"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestPubsubPagingAndLimits: items paged with XEP-0059 (newest first)
// and max_items, and the service's limits and request errors, each with
// a message that says what to do.
func TestPubsubPagingAndLimits(t *testing.T) {
	srv := xmpptest.Start(t)
	for k, v := range map[string]string{settings.KeyPubsubNodes: "2", settings.KeyPubsubItems: "5",
		settings.KeyPubsubPayload: "1024", settings.KeyPubsubSubscribers: "1"} {
		if _, err := srv.Admin.SetSetting(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	c := map[string]*xmpptest.Client{"alice": online(t, srv, "alice", "phone", 0), "bob": online(t, srv, "bob", "laptop", 0),
		"carol": online(t, srv, "carol", "tablet", 0)}
	var pubs strings.Builder
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		pubs.WriteString(`alice sends: <iq type='set' id='p` + id + `' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='feed'><item id='` + id + `'><entry xmlns='http://www.w3.org/2005/Atom'><title>` + id + `</title></entry></item></publish></pubsub></iq>
alice receives: <iq type='result' id='p` + id + `' from='pubsub.hearth.test' to='alice@hearth.test/phone'>*</iq>
`)
	}
	item := func(id string) string {
		return `<item id='` + id + `'><entry xmlns='http://www.w3.org/2005/Atom'><title>` + id + `</title></entry></item>`
	}
	xmpptest.Play(t, c, `
# max_items above the node limit (5) is refused; "max" is the limit.
alice sends: <iq type='set' id='c1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='feed'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>6</value></field></x></configure></pubsub></iq>
alice receives: <iq type='error' id='c1' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this server does not support pubsub#max_items = '6'; a node keeps at most 5 items here</text></error></iq>
alice sends: <iq type='set' id='c2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='feed'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>max</value></field><field var='pubsub#title'><value>Alice's feed</value></field></x></configure></pubsub></iq>
alice receives: <iq type='result' id='c2' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
`+pubs.String()+`
# Six published, five kept: a went. Pages run newest first.
bob sends: <iq type='get' id='g1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></pubsub></iq>
bob receives: <iq type='result' id='g1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("f")+item("e")+`</items><set xmlns='http://jabber.org/protocol/rsm'><first index='0'>f</first><last>e</last><count>5</count></set></pubsub></iq>
bob sends: <iq type='get' id='g2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>e</after></set></pubsub></iq>
bob receives: <iq type='result' id='g2' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("d")+item("c")+`</items><set xmlns='http://jabber.org/protocol/rsm'><first index='2'>d</first><last>c</last><count>5</count></set></pubsub></iq>
bob sends: <iq type='get' id='g3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>c</after></set></pubsub></iq>
bob receives: <iq type='result' id='g3' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("b")+`</items><set xmlns='http://jabber.org/protocol/rsm'><first index='4'>b</first><last>b</last><count>5</count></set></pubsub></iq>
# The last page, and the page before an item.
bob sends: <iq type='get' id='g4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></pubsub></iq>
bob receives: <iq type='result' id='g4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("c")+item("b")+`</items><set xmlns='http://jabber.org/protocol/rsm'><first index='3'>c</first><last>b</last><count>5</count></set></pubsub></iq>
bob sends: <iq type='get' id='g5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>1</max><before>d</before></set></pubsub></iq>
bob receives: <iq type='result' id='g5' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("e")+`</items><set xmlns='http://jabber.org/protocol/rsm'><first index='1'>e</first><last>e</last><count>5</count></set></pubsub></iq>
# Just the count.
bob sends: <iq type='get' id='g6' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set></pubsub></iq>
bob receives: <iq type='result' id='g6' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><count>5</count></set></pubsub></iq>
bob sends: <iq type='get' id='g7' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><after>zz</after></set></pubsub></iq>
bob receives: <iq type='error' id='g7' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>the page starts at an item the node does not have</text></error></iq>
bob sends: <iq type='get' id='g8' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/><set xmlns='http://jabber.org/protocol/rsm'><index>2</index></set></pubsub></iq>
bob receives: <iq type='error' id='g8' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='rsm-index'/></error></iq>
# max_items: the last n, oldest first; items by id.
bob sends: <iq type='get' id='g9' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed' max_items='2'/></pubsub></iq>
bob receives: <iq type='result' id='g9' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("e")+item("f")+`</items></pubsub></iq>
bob sends: <iq type='get' id='g10' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'><item id='c'/><item id='nope'/></items></pubsub></iq>
bob receives: <iq type='result' id='g10' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'>`+item("c")+`</items></pubsub></iq>
# disco on the node.
bob sends: <iq type='get' id='g11' to='pubsub.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items' node='feed'/></iq>
bob receives: <iq type='result' id='g11' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><query xmlns='http://jabber.org/protocol/disco#items' node='feed'><item jid='pubsub.hearth.test' name='b'/><item jid='pubsub.hearth.test' name='c'/><item jid='pubsub.hearth.test' name='d'/><item jid='pubsub.hearth.test' name='e'/><item jid='pubsub.hearth.test' name='f'/></query></iq>
bob sends: <iq type='get' id='g12' to='pubsub.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info' node='feed'/></iq>
bob receives: <iq type='result' id='g12' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><query xmlns='http://jabber.org/protocol/disco#info' node='feed'><identity category='pubsub' type='leaf'/><feature var='http://jabber.org/protocol/pubsub'/><x xmlns='jabber:x:data' type='result'>
  <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#meta-data</value></field><field var='pubsub#title'><value>Alice's feed</value></field><field var='pubsub#description'><value/></field>
  <field var='pubsub#access_model'><value>open</value></field><field var='pubsub#publish_model'><value>publishers</value></field><field var='pubsub#max_items'><value>5</value></field>
  <field var='pubsub#owner'><value>alice@hearth.test</value></field></x></query></iq>
# Limits: payload size, subscriptions per node, nodes per account.
alice sends: <iq type='set' id='l1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='feed'><item id='big'><entry xmlns='http://www.w3.org/2005/Atom'><title>`+strings.Repeat("x", 1024)+`</title></entry></item></publish></pubsub></iq>
alice receives: <iq type='error' id='l1' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>the item is 1090 bytes; this service takes items of at most 1 KiB</text><payload-too-big xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
bob sends: <iq type='set' id='l2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='feed' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='l2' from='pubsub.hearth.test' to='bob@hearth.test/laptop'>*</iq>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='feed'>`+item("f")+`</items></event></message>
carol sends: <iq type='set' id='l3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='feed' jid='carol@hearth.test'/></pubsub></iq>
carol receives: <iq type='error' id='l3' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this node has 1 subscription, the most this service allows; ask the administrator to raise limits.pubsub_subscribers</text></error></iq>
alice sends: <iq type='set' id='l4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create/></pubsub></iq>
alice receives: <iq type='result' id='l4' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='*'/></pubsub></iq>
alice sends: <iq type='set' id='l5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='third'/></pubsub></iq>
alice receives: <iq type='error' id='l5' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>you have created 2 nodes on this service, the most an account may; delete one first, or ask the administrator to raise limits.pubsub_nodes</text></error></iq>
# Request errors.
bob sends: <iq type='set' id='e1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='nowhere'><item><x xmlns='urn:x'/></item></publish></pubsub></iq>
bob receives: <iq type='error' id='e1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
bob sends: <iq type='set' id='e2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='feed'/></pubsub></iq>
bob receives: <iq type='error' id='e2' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>name the JID (your own)</text><jid-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
bob sends: <iq type='set' id='e3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='feed'><item id='x'/></publish></pubsub></iq>
bob receives: <iq type='error' id='e3' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>the item has no payload</text><payload-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
bob sends: <iq type='set' id='e4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='feed'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub></iq>
bob receives: <iq type='error' id='e4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only the node's owners may do this</text></error></iq>
alice sends: <iq type='set' id='e5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='feed'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>everyone</value></field></x></configure></pubsub></iq>
alice receives: <iq type='error' id='e5' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>*</pubsub><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this server does not support pubsub#access_model = 'everyone'</text></error></iq>
alice sends: <iq type='set' id='e6' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='feed'><item><x xmlns='urn:x'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub></iq>
alice receives: <iq type='error' id='e6' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
bob sends: <iq type='get' id='e7' to='someone@pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='feed'/></pubsub></iq>
bob receives: <iq type='error' id='e7' from='someone@pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more`)
}
