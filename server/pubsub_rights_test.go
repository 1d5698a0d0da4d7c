package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

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
