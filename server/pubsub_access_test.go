package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

// pubsubCreate has alice create node with the given node_config fields.
func pubsubCreate(node string, fields map[string]string) string {
	var b strings.Builder
	for k, v := range fields {
		fmt.Fprintf(&b, `<field var='%s'><value>%s</value></field>`, k, v)
	}
	return `alice sends: <iq type='set' id='mk-` + node + `' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + node + `'/>
  <configure><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>` + b.String() + `</x></configure></pubsub></iq>
alice receives: <iq type='result' id='mk-` + node + `' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
`
}

// TestPubsubAccess: the five access models and the affiliations owners
// manage (XEP-0060 4.5, 8.6, 8.9).
func TestPubsubAccess(t *testing.T) {
	_, c := pubsubTrio(t)
	xmpptest.Play(t, c, pubsubCreate("contacts", map[string]string{"pubsub#access_model": "presence"})+
		pubsubCreate("friends", map[string]string{"pubsub#access_model": "roster", "pubsub#roster_groups_allowed": "Friends"})+
		pubsubCreate("secret", map[string]string{"pubsub#access_model": "whitelist"})+
		pubsubCreate("club", map[string]string{"pubsub#access_model": "authorize"})+`
# presence: bob, alice's contact, may subscribe; carol may not.
bob sends: <iq type='set' id='a1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='contacts' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='a1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='contacts' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
carol sends: <iq type='set' id='a2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='contacts' jid='carol@hearth.test'/></pubsub></iq>
carol receives: <iq type='error' id='a2' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><presence-subscription-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
# roster: bob is not (yet) in the group Friends.
bob sends: <iq type='get' id='a3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='friends'/></pubsub></iq>
bob receives: <iq type='error' id='a3' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='friends'/></pubsub><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><not-in-roster-group xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='g1'><query xmlns='jabber:iq:roster'><item jid='bob@hearth.test'><group>Friends</group></item></query></iq>
alice receives: <iq type='result' id='g1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob sends: <iq type='get' id='a4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='friends'/></pubsub></iq>
bob receives: <iq type='result' id='a4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='friends'/></pubsub></iq>
# whitelist: closed to all but the members the owner names.
bob sends: <iq type='set' id='a5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='secret' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='error' id='a5' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><closed-node xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='w1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='secret'><affiliation jid='bob@hearth.test' affiliation='member'/><affiliation jid='carol@hearth.test' affiliation='publisher'/></affiliations></pubsub></iq>
alice receives: <iq type='result' id='w1' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='get' id='w2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='secret'/></pubsub></iq>
alice receives: <iq type='result' id='w2' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='secret'><affiliation jid='alice@hearth.test' affiliation='owner'/><affiliation jid='bob@hearth.test' affiliation='member'/><affiliation jid='carol@hearth.test' affiliation='publisher'/></affiliations></pubsub></iq>
bob sends: <iq type='set' id='a6' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='secret' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='a6' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='secret' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
# A publisher publishes; a member does not.
carol sends: <iq type='set' id='a7' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='secret'><item id='c'><x xmlns='urn:x'/></item></publish></pubsub></iq>
carol receives: <iq type='result' id='a7' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='secret'><item id='c'/></publish></pubsub></iq>
bob receives: <message from='pubsub.hearth.test' to='bob@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='secret'><item id='c'><x xmlns='urn:x'/></item></items></event></message>
bob sends: <iq type='set' id='a8' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='secret'><item id='b'><x xmlns='urn:x'/></item></publish></pubsub></iq>
bob receives: <iq type='error' id='a8' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
# An outcast loses the subscription and access.
alice sends: <iq type='set' id='w3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='secret'><affiliation jid='bob@hearth.test' affiliation='outcast'/></affiliations></pubsub></iq>
alice receives: <iq type='result' id='w3' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
bob sends: <iq type='get' id='a9' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='secret'/></pubsub></iq>
bob receives: <iq type='error' id='a9' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='secret'/></pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>you are banned from this node</text></error></iq>
bob sends: <iq type='get' id='a10' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions node='secret'/></pubsub></iq>
bob receives: <iq type='result' id='a10' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions node='secret'/></pubsub></iq>
# The last owner stays.
alice sends: <iq type='set' id='w4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='secret'><affiliation jid='alice@hearth.test' affiliation='none'/></affiliations></pubsub></iq>
alice receives: <iq type='error' id='w4' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>*</pubsub><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>a node keeps at least one owner; make someone else owner first</text></error></iq>
# authorize: carol's request waits for alice, who allows it with the form.
carol sends: <iq type='set' id='a11' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='club' jid='carol@hearth.test'/></pubsub></iq>
carol receives: <iq type='result' id='a11' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='club' jid='carol@hearth.test' subscription='pending' subid='*'/></pubsub></iq>
alice receives: <message from='pubsub.hearth.test' to='alice@hearth.test' id='*'><x xmlns='jabber:x:data' type='form'><title>Subscription request</title><instructions>carol@hearth.test asks to subscribe to club. Allow it?</instructions>
  <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_authorization</value></field><field var='pubsub#subid' type='hidden'><value>*</value></field>
  <field var='pubsub#node' type='text-single' label='Node'><value>club</value></field><field var='pubsub#subscriber_jid' type='jid-single' label='Subscriber'><value>carol@hearth.test</value></field>
  <field var='pubsub#allow' type='boolean' label='Allow this JID to subscribe to this node?'><value>false</value></field></x></message>
carol sends: <iq type='get' id='a12' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub></iq>
carol receives: <iq type='error' id='a12' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><not-subscribed xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <message to='pubsub.hearth.test'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_authorization</value></field>
  <field var='pubsub#node'><value>club</value></field><field var='pubsub#subscriber_jid'><value>carol@hearth.test</value></field><field var='pubsub#allow'><value>true</value></field></x></message>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><subscription node='club' jid='carol@hearth.test' subscription='subscribed'/></event></message>
carol sends: <iq type='get' id='a13' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub></iq>
carol receives: <iq type='result' id='a13' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub></iq>
# disco#items shows each asker the nodes it may see.
carol sends: <iq type='get' id='a14' to='pubsub.hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
carol receives: <iq type='result' id='a14' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='pubsub.hearth.test' node='club'/><item jid='pubsub.hearth.test' node='secret'/></query></iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more`)
}

// TestPubsubAccountRemoved: a deleted account's nodes, subscriptions and
// affiliations go with it.
func TestPubsubAccountRemoved(t *testing.T) {
	srv, c := pubsubTrio(t)
	xmpptest.Play(t, c, pubsubCreate("alices", nil)+`
bob sends: <iq type='set' id='b1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='bobs'/></pubsub></iq>
bob receives: <iq type='result' id='b1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'/>
alice sends: <iq type='set' id='s1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='bobs' jid='alice@hearth.test'/></pubsub></iq>
alice receives: <iq type='result' id='s1' from='pubsub.hearth.test' to='alice@hearth.test/phone'>*</iq>
alice receives nothing more`)
	ctx := context.Background()
	if err := srv.Admin.DeleteUser(ctx, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.DB.ServiceNode(ctx, "alices"); err == nil {
		t.Error("the deleted account's node is still there")
	}
	if subs, err := srv.DB.SubscriptionsOf(ctx, "alice@hearth.test"); err != nil || len(subs) != 0 {
		t.Errorf("the deleted account's subscriptions: %v %v", subs, err)
	}
	if _, err := srv.DB.ServiceNode(ctx, "bobs"); err != nil {
		t.Errorf("bob's node went with alice: %v", err)
	}
}
