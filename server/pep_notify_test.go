package server_test

import (
	"context"
	"testing"

	"hearth/server/xmpptest"
)

const (
	nickNotify = "http://jabber.org/protocol/nick+notify"
	nickEvent  = `<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></items></event>`
)

// TestPEPNotify: notifications go to the account's sessions and its
// contacts whose entity capabilities (XEP-0115, learned by the server's
// own disco#info query, once per verification string) ask for the node
// with +notify, as the access model allows; a session coming online gets
// the last item (XEP-0163 4.3.2); retractions and deletions are told; a
// client whose answer does not match its caps hash is not believed.
func TestPEPNotify(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol", "eve"} {
		srv.AddUser(t, u, secret(u))
	}
	ctx := context.Background()
	for _, u := range []string{"bob", "eve"} {
		if err := srv.Admin.MakeMutual(ctx, "alice@hearth.test", u+"@hearth.test"); err != nil {
			t.Fatal(err)
		}
	}
	alice := pepOnline(t, srv, "alice", "phone", true, nickNotify)
	bob := pepOnline(t, srv, "bob", "laptop", false, nickNotify, "urn:example:secret+notify")
	// bob's presence reached alice's account: her service asks bob's
	// client what its caps mean, once.
	bob.AnswerCaps("alice@hearth.test")
	alice.Expect(`<presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + bob.ver + `'/></presence>`)
	bob.Expect(`<presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + alice.ver + `'/></presence>`)
	// carol asks for nick notifications but is no contact of alice's.
	carol := pepOnline(t, srv, "carol", "tablet", false, nickNotify) // caps known: alice has them
	// eve's client lies about its caps: its answer does not hash to ver.
	eve := &pepClient{Client: srv.Login(t, "eve", secret("eve"), "pad")}
	eve.features, eve.ver = newCaps(nickNotify, "urn:example:eve")
	eve.features = eve.features[:len(eve.features)-1]
	eve.Send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + eve.ver + `'/></presence>`)
	eve.Expect(`<presence from='eve@hearth.test/pad' to='eve@hearth.test/pad'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + eve.ver + `'/></presence>`)
	eve.AnswerCaps("*")
	eve.Expect(`<presence from='alice@hearth.test/phone' to='eve@hearth.test/pad'>*</presence>`)
	alice.Expect(`<presence from='eve@hearth.test/pad' to='alice@hearth.test/phone'>*</presence>`)
	for _, cl := range []*pepClient{alice, bob, carol, eve} {
		cl.Sync()
	}
	c := map[string]*xmpptest.Client{"alice": alice.Client, "bob": bob.Client, "carol": carol.Client, "eve": eve.Client}

	t.Run("publish", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='n1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></publish></pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'>`+nickEvent+`</message>
alice receives: <iq type='result' id='n1' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'/></publish></pubsub></iq>
bob receives: <message from='alice@hearth.test' to='bob@hearth.test/laptop' type='headline' id='*'>`+nickEvent+`</message>
# Nobody asked for this node.
alice sends: <iq type='set' id='n2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:quiet'><item id='q'><q xmlns='urn:example:quiet'/></item></publish></pubsub></iq>
alice receives: <iq type='result' id='n2' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:quiet'><item id='q'/></publish></pubsub></iq>
# bob asks for this one, but it is alice's alone.
alice sends: <iq type='set' id='n3'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:secret'><item id='s'><s xmlns='urn:example:secret'/></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub></iq>
alice receives: <iq type='result' id='n3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:secret'><item id='s'/></publish></pubsub></iq>
alice receives nothing more
bob receives nothing more
carol receives nothing more
eve receives nothing more`)
	})
	t.Run("last item on presence", func(t *testing.T) {
		// bob's new device has the caps the server knows: no query, and
		// alice's last nick at once.
		phone := pepOnline(t, srv, "bob", "phone", false, nickNotify, "urn:example:secret+notify")
		phone.Expect(`<message from='alice@hearth.test' to='bob@hearth.test/phone' type='headline' id='*'>` + nickEvent + `</message>`)
		phone.Expect(`<presence from='bob@hearth.test/laptop' to='bob@hearth.test/phone'>*</presence>`)
		phone.Expect(`<presence from='alice@hearth.test/phone' to='bob@hearth.test/phone'>*</presence>`)
		alice.Expect(`<presence from='bob@hearth.test/phone' to='alice@hearth.test/phone'>*</presence>`)
		bob.Expect(`<presence from='bob@hearth.test/phone' to='bob@hearth.test/laptop'>*</presence>`)
		phone.Sync()
		// alice's second session gets her own last nick.
		pc := pepOnline(t, srv, "alice", "pc", false, nickNotify)
		pc.Expect(`<message from='alice@hearth.test' to='alice@hearth.test/pc' type='headline' id='*'>` + nickEvent + `</message>`)
		for _, p := range []string{"alice@hearth.test/phone", "bob@hearth.test/laptop", "bob@hearth.test/phone", "eve@hearth.test/pad"} {
			pc.Expect(`<presence from='` + p + `' to='alice@hearth.test/pc'>*</presence>`)
		}
		pc.Sync()
		alice.Expect(`<presence from='alice@hearth.test/pc' to='alice@hearth.test/phone'>*</presence>`)
		for _, cl := range []*pepClient{bob, phone} {
			cl.Expect(`<presence from='alice@hearth.test/pc' to='` + cl.JID + `'>*</presence>`)
		}
		eve.Expect(`<presence from='alice@hearth.test/pc' to='eve@hearth.test/pad'>*</presence>`)
		phone.Close()
		pc.Close()
		alice.Expect(`<presence from='bob@hearth.test/phone' to='alice@hearth.test/phone' type='unavailable'/>`)
		alice.Expect(`<presence from='alice@hearth.test/pc' to='alice@hearth.test/phone' type='unavailable'/>`)
		bob.Expect(`<presence from='bob@hearth.test/phone' to='bob@hearth.test/laptop' type='unavailable'/>`)
		bob.Expect(`<presence from='alice@hearth.test/pc' to='bob@hearth.test/laptop' type='unavailable'/>`)
		eve.Expect(`<presence from='alice@hearth.test/pc' to='eve@hearth.test/pad' type='unavailable'/>`)
		for _, cl := range []*pepClient{alice, bob, carol, eve} {
			cl.Sync()
		}
	})
	t.Run("retract and delete", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='r1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='http://jabber.org/protocol/nick'><item id='n'/></retract></pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='http://jabber.org/protocol/nick'><retract id='n'/></items></event></message>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob receives: <message from='alice@hearth.test' to='bob@hearth.test/laptop' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='http://jabber.org/protocol/nick'><retract id='n'/></items></event></message>
alice sends: <iq type='set' id='r2'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='http://jabber.org/protocol/nick'/></pubsub></iq>
alice receives: <message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='http://jabber.org/protocol/nick'/></event></message>
alice receives: <iq type='result' id='r2' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob receives: <message from='alice@hearth.test' to='bob@hearth.test/laptop' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='http://jabber.org/protocol/nick'/></event></message>
alice receives nothing more
bob receives nothing more
carol receives nothing more
eve receives nothing more`)
	})
}
