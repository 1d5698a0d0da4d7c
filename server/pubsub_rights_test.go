package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestPubsubItemsOfOthers: on a node anyone may publish to, a publisher
// who is neither owner nor publisher replaces their own items but not
// someone else's (as retract already does); an owner replaces any.
func TestPubsubItemsOfOthers(t *testing.T) {
	_, c := pubsubTrio(t)
	xmpptest.Play(t, c, pubsubCreate("board", map[string]string{"pubsub#publish_model": "open"})+`
bob sends: <iq type='set' id='b1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'><x xmlns='urn:x'>bob's</x></item></publish></pubsub></iq>
bob receives: <iq type='result' id='b1' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'/></publish></pubsub></iq>
# carol may publish, but not over bob's item.
carol sends: <iq type='set' id='b2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'><x xmlns='urn:x'>carol's</x></item></publish></pubsub></iq>
carol receives: <iq type='error' id='b2' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>someone else published an item with this id; only the node's owners and publishers may replace it, so publish under another id</text></error></iq>
carol sends: <iq type='get' id='b3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='board'/></pubsub></iq>
carol receives: <iq type='result' id='b3' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='board'><item id='note'><x xmlns='urn:x'>bob's</x></item></items></pubsub></iq>
# bob replaces his own; alice, the owner, replaces anyone's.
bob sends: <iq type='set' id='b4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'><x xmlns='urn:x'>bob's, again</x></item></publish></pubsub></iq>
bob receives: <iq type='result' id='b4' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'/></publish></pubsub></iq>
alice sends: <iq type='set' id='b5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'><x xmlns='urn:x'>alice's</x></item></publish></pubsub></iq>
alice receives: <iq type='result' id='b5' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='board'><item id='note'/></publish></pubsub></iq>
carol sends: <iq type='get' id='b6' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='board'/></pubsub></iq>
carol receives: <iq type='result' id='b6' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='board'><item id='note'><x xmlns='urn:x'>alice's</x></item></items></pubsub></iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more`)
}

// TestPubsubSubscribeAgain: a subscription asked for again is answered as
// it is (XEP-0060 6.1.6): an approved one on an authorize node does not
// go back to pending, and one without deliveries keeps its options.
func TestPubsubSubscribeAgain(t *testing.T) {
	_, c := pubsubTrio(t)
	xmpptest.Play(t, c, pubsubCreate("club", map[string]string{"pubsub#access_model": "authorize"})+pubsubCreate("news", nil)+`
carol sends: <iq type='set' id='s1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='club' jid='carol@hearth.test'/></pubsub></iq>
carol receives: <iq type='result' id='s1' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='club' jid='carol@hearth.test' subscription='pending' subid='*'/></pubsub></iq>
alice receives: <message from='pubsub.hearth.test' to='alice@hearth.test' id='*'><x xmlns='jabber:x:data' type='form'>*</x></message>
alice sends: <iq type='set' id='s2' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='club'><subscription jid='carol@hearth.test' subscription='subscribed'/></subscriptions></pubsub></iq>
alice receives: <iq type='result' id='s2' from='pubsub.hearth.test' to='alice@hearth.test/phone'/>
carol receives: <message from='pubsub.hearth.test' to='carol@hearth.test' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><subscription node='club' jid='carol@hearth.test' subscription='subscribed'/></event></message>
# Asked again: still subscribed, and alice is not asked again.
carol sends: <iq type='set' id='s3' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='club' jid='carol@hearth.test'/></pubsub></iq>
carol receives: <iq type='result' id='s3' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='club' jid='carol@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
carol sends: <iq type='get' id='s4' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub></iq>
carol receives: <iq type='result' id='s4' from='pubsub.hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='club'/></pubsub></iq>
alice sends: <iq type='get' id='s5' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='club'/></pubsub></iq>
alice receives: <iq type='result' id='s5' from='pubsub.hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='club'><subscription jid='carol@hearth.test' subscription='subscribed' subid='*'/></subscriptions></pubsub></iq>
# bob subscribes without deliveries, then subscribes again without a form.
bob sends: <iq type='set' id='s6' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='bob@hearth.test'/>
  <options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='pubsub#deliver'><value>0</value></field></x></options></pubsub></iq>
bob receives: <iq type='result' id='s6' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='news' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
bob sends: <iq type='set' id='s7' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='s7' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='news' jid='bob@hearth.test' subscription='subscribed' subid='*'/></pubsub></iq>
bob sends: <iq type='get' id='s8' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='bob@hearth.test'/></pubsub></iq>
bob receives: <iq type='result' id='s8' from='pubsub.hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='news' jid='bob@hearth.test' subid='*'><x xmlns='jabber:x:data' type='form'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='pubsub#deliver' type='boolean' label='Send me notifications'><value>0</value></field></x></options></pubsub></iq>
alice sends: <iq type='set' id='p1' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item id='one'><x xmlns='urn:x'/></item></publish></pubsub></iq>
alice receives: <iq type='result' id='p1' from='pubsub.hearth.test' to='alice@hearth.test/phone'>*</iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more`)
}

// TestPubsubNodeLimitAtOnce: creations sent at once from several
// sessions do not pass limits.pubsub_nodes, since the count is taken in
// the same write as the node.
func TestPubsubNodeLimitAtOnce(t *testing.T) {
	srv := xmpptest.Start(t)
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyPubsubNodes, "2"); err != nil {
		t.Fatal(err)
	}
	srv.AddUser(t, "alice", secret("alice"))
	const sessions, each = 6, 3
	var cls []*xmpptest.Client
	for i := range sessions {
		cls = append(cls, srv.Login(t, "alice", secret("alice"), fmt.Sprintf("r%d", i)))
	}
	for i, cl := range cls {
		for j := range each {
			cl.Send(fmt.Sprintf(`<iq type='set' id='c%d' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='n%d-%d'/></pubsub></iq>`, j, i, j))
		}
	}
	created, refused := 0, 0
	for _, cl := range cls {
		for range each {
			el := cl.NextWithin(10 * time.Second)
			if el == nil {
				t.Fatalf("%s got no answer", cl.JID)
			}
			switch el.Attr("type") {
			case "result":
				created++
			case "error":
				refused++
				xmpptest.MustMatchLike(t, `<iq type='error' from='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='wait'><resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>you have created 2 nodes on this service, the most an account may; delete one first, or ask the administrator to raise limits.pubsub_nodes</text></error></iq>`, el)
			default:
				t.Fatalf("unexpected answer %s", el)
			}
		}
	}
	if created != 2 || refused != sessions*each-2 {
		t.Errorf("%d created and %d refused, want 2 and %d", created, refused, sessions*each-2)
	}
	if n, err := srv.DB.ServiceNodeCount(context.Background(), "alice@hearth.test"); err != nil || n != 2 {
		t.Errorf("alice has %d nodes (%v), want 2", n, err)
	}
}
