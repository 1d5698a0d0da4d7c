package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"hearth/server/xmpptest"
)

// pepClient is a client that announces entity capabilities (XEP-0115)
// with the given features, and answers the server's disco#info query.
type pepClient struct {
	*xmpptest.Client
	features []string
	ver      string
}

// capsNode is the caps node the test clients announce.
const capsNode = "https://hearth.example/test-client"

// newCaps computes the verification string (XEP-0115 5.1) of a client
// with one identity, client/pc named "Test", and features.
func newCaps(features ...string) (fs []string, ver string) {
	fs = append([]string{"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/caps"}, features...)
	slices.Sort(fs)
	s := "client/pc//Test<"
	for _, f := range fs {
		s += f + "<"
	}
	sum := sha1.Sum([]byte(s))
	return fs, base64.StdEncoding.EncodeToString(sum[:])
}

// pepOnline logs user in and sends available presence with caps for
// features; first: the server does not know these caps yet and asks.
func pepOnline(t *testing.T, srv *xmpptest.Server, user, res string, first bool, features ...string) *pepClient {
	t.Helper()
	return withCaps(srv.Login(t, user, secret(user), res), first, features...)
}

// withCaps makes a logged-in client available with caps for features.
func withCaps(cl *xmpptest.Client, first bool, features ...string) *pepClient {
	c := &pepClient{Client: cl}
	c.features, c.ver = newCaps(features...)
	c.Send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + c.ver + `'/></presence>`)
	c.Expect(`<presence from='` + c.JID + `' to='` + c.JID + `'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='` + capsNode + `' ver='` + c.ver + `'/></presence>`)
	if first {
		c.AnswerCaps("*")
	}
	return c
}

// AnswerCaps waits for the server's disco#info query about the client's
// caps, sent in the name of from ("*": any), and answers it.
func (c *pepClient) AnswerCaps(from string) {
	q := c.Expect(`<iq type='get' id='*' from='` + from + `' to='` + c.JID + `'><query xmlns='http://jabber.org/protocol/disco#info' node='` + capsNode + `#` + c.ver + `'/></iq>`)
	var b strings.Builder
	fmt.Fprintf(&b, `<iq type='result' id='%s' to='%s'><query xmlns='http://jabber.org/protocol/disco#info' node='%s#%s'><identity category='client' type='pc' name='Test'/>`,
		q.Attr("id"), q.Attr("from"), capsNode, c.ver)
	for _, f := range c.features {
		fmt.Fprintf(&b, `<feature var='%s'/>`, f)
	}
	b.WriteString(`</query></iq>`)
	c.Send(b.String())
}

// TestPEP walks XEP-0163 over XEP-0060's requests: publish with
// auto-create and publish-options, items (all, max_items, by id) under
// the three access models, preconditions, retract, configure, create,
// delete, and the errors of each; disco on the bare JID.
func TestPEP(t *testing.T) {
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
	carol := online(t, srv, "carol", "tablet", 0)
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob, "carol": carol}

	t.Run("disco", func(t *testing.T) {
		alice.Send(`<iq type='get' id='d1' to='alice@hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		el := alice.Expect(`<iq type='result' id='d1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#info'>*</query></iq>`)
		s := el.String()
		for _, want := range []string{`category="pubsub" type="pep"`, `var="http://jabber.org/protocol/pubsub#publish"`,
			`var="http://jabber.org/protocol/pubsub#publish-options"`, `var="http://jabber.org/protocol/pubsub#auto-create"`,
			`var="http://jabber.org/protocol/pubsub#access-whitelist"`, `var="urn:xmpp:pep-vcard-conversion:0"`} {
			if !strings.Contains(s, want) {
				t.Errorf("disco#info lacks %s: %s", want, s)
			}
		}
		if strings.Contains(s, "multi-items") {
			t.Errorf("disco#info advertises multi-items: %s", s)
		}
	})
	t.Run("omemo open to anyone", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='4223'/></list></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'/></publish></pubsub></iq>
alice sends: <iq type='set' id='p2'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.bundles:4223'><item id='current'><bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>BASE64</signedPreKeyPublic><identityKey>KEY</identityKey></bundle></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='p2' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='eu.siacs.conversations.axolotl.bundles:4223'><item id='current'/></publish></pubsub></iq>
# carol has no roster relation with alice.
carol sends: <iq type='get' id='f1' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'/></pubsub></iq>
carol receives: <iq type='result' id='f1' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='4223'/></list></item></items></pubsub></iq>
carol sends: <iq type='get' id='f2' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.bundles:4223' max_items='1'/></pubsub></iq>
carol receives: <iq type='result' id='f2' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.bundles:4223'><item id='current'><bundle xmlns='eu.siacs.conversations.axolotl'><signedPreKeyPublic signedPreKeyId='1'>BASE64</signedPreKeyPublic><identityKey>KEY</identityKey></bundle></item></items></pubsub></iq>
bob sends: <iq type='get' id='f3' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'/></pubsub></iq>
bob receives: <iq type='result' id='f3' from='alice@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='4223'/></list></item></items></pubsub></iq>
# The newer OMEMO's device list, too.
alice sends: <iq type='set' id='p3'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='urn:xmpp:omemo:2:devices'><item id='current'><devices xmlns='urn:xmpp:omemo:2'><device id='12345' label='Phone'/></devices></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field><field var='pubsub#max_items'><value>max</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='p3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:omemo:2:devices'><item id='current'/></publish></pubsub></iq>
carol sends: <iq type='get' id='f4' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:omemo:2:devices'/></pubsub></iq>
carol receives: <iq type='result' id='f4' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:omemo:2:devices'><item id='current'><devices xmlns='urn:xmpp:omemo:2'><device id='12345' label='Phone'/></devices></item></items></pubsub></iq>
alice receives nothing more
carol receives nothing more`)
	})
	t.Run("preconditions", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='c1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'/></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>presence</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='error' id='c1' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
# Nothing was published: the list still has the device.
carol sends: <iq type='get' id='c2' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'/></pubsub></iq>
carol receives: <iq type='result' id='c2' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='4223'/></list></item></items></pubsub></iq>
alice sends: <iq type='set' id='c3'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='4223'/><device id='99'/></list></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field><field var='pubsub#persist_items'><value>true</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='c3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'/></publish></pubsub></iq>
alice sends: <iq type='set' id='c4'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='urn:example:x'><item><x xmlns='urn:example:x'/></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>roster</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='error' id='c4' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice receives nothing more`)
	})
	t.Run("access models", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='a1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></publish></pubsub></iq>
alice receives: <iq type='result' id='a1' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'/></publish></pubsub></iq>
bob sends: <iq type='get' id='a2' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>
bob receives: <iq type='result' id='a2' from='alice@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Ally</nick></item></items></pubsub></iq>
carol sends: <iq type='get' id='a3' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>
carol receives: <iq type='error' id='a3' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><presence-subscription-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='a4'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:secret'><item id='s'><s xmlns='urn:example:secret'/></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options></pubsub></iq>
alice receives: <iq type='result' id='a4' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:secret'><item id='s'/></publish></pubsub></iq>
bob sends: <iq type='get' id='a5' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:secret'/></pubsub></iq>
bob receives: <iq type='error' id='a5' from='alice@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:secret'/></pubsub><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><closed-node xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='get' id='a6'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:secret'/></pubsub></iq>
alice receives: <iq type='result' id='a6' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:secret'><item id='s'><s xmlns='urn:example:secret'/></item></items></pubsub></iq>
# Only alice publishes to her nodes.
bob sends: <iq type='set' id='a7' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'><item id='n'><nick xmlns='http://jabber.org/protocol/nick'>Evil</nick></item></publish></pubsub></iq>
bob receives: <iq type='error' id='a7' from='alice@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
carol sends: <iq type='get' id='a8' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:none'/></pubsub></iq>
carol receives: <iq type='error' id='a8' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:none'/></pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
# disco#items shows each asker the nodes it may see.
carol sends: <iq type='get' id='a9' to='alice@hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
carol receives: <iq type='result' id='a9' from='alice@hearth.test' to='carol@hearth.test/tablet'><query xmlns='http://jabber.org/protocol/disco#items'>
  <item jid='alice@hearth.test' node='eu.siacs.conversations.axolotl.bundles:4223'/><item jid='alice@hearth.test' node='eu.siacs.conversations.axolotl.devicelist'/><item jid='alice@hearth.test' node='urn:xmpp:omemo:2:devices'/></query></iq>
bob sends: <iq type='get' id='a10' to='alice@hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
bob receives: <iq type='result' id='a10' from='alice@hearth.test' to='bob@hearth.test/laptop'><query xmlns='http://jabber.org/protocol/disco#items'>
  <item jid='alice@hearth.test' node='eu.siacs.conversations.axolotl.bundles:4223'/><item jid='alice@hearth.test' node='eu.siacs.conversations.axolotl.devicelist'/><item jid='alice@hearth.test' node='http://jabber.org/protocol/nick'/><item jid='alice@hearth.test' node='urn:xmpp:omemo:2:devices'/><item jid='alice@hearth.test/phone'/></query></iq>
carol receives nothing more
bob receives nothing more`)
	})
	t.Run("items retract configure delete", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='set' id='i1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='urn:example:feed'/><configure><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#max_items'><value>3</value></field></x></configure></pubsub></iq>
alice receives: <iq type='result' id='i1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='set' id='i2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='urn:example:feed'/></pubsub></iq>
alice receives: <iq type='error' id='i2' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='urn:example:feed'/></pubsub><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice sends: <iq type='set' id='i3'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='1'><e xmlns='urn:example:feed'>one</e></item></publish></pubsub></iq>
alice receives: <iq type='result' id='i3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='1'/></publish></pubsub></iq>
alice sends: <iq type='set' id='i4'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='2'><e xmlns='urn:example:feed'>two</e></item></publish></pubsub></iq>
alice receives: <iq type='result' id='i4' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='2'/></publish></pubsub></iq>
alice sends: <iq type='set' id='i5'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='3'><e xmlns='urn:example:feed'>three</e></item></publish></pubsub></iq>
alice receives: <iq type='result' id='i5' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='3'/></publish></pubsub></iq>
alice sends: <iq type='set' id='i6'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='4'><e xmlns='urn:example:feed'>four</e></item></publish></pubsub></iq>
alice receives: <iq type='result' id='i6' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='4'/></publish></pubsub></iq>
alice sends: <iq type='get' id='i7'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub></iq>
alice receives: <iq type='result' id='i7' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'><item id='2'><e xmlns='urn:example:feed'>two</e></item><item id='3'><e xmlns='urn:example:feed'>three</e></item><item id='4'><e xmlns='urn:example:feed'>four</e></item></items></pubsub></iq>
alice sends: <iq type='get' id='i8'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed' max_items='1'/></pubsub></iq>
alice receives: <iq type='result' id='i8' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'><item id='4'><e xmlns='urn:example:feed'>four</e></item></items></pubsub></iq>
alice sends: <iq type='get' id='i9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'><item id='3'/></items></pubsub></iq>
alice receives: <iq type='result' id='i9' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'><item id='3'><e xmlns='urn:example:feed'>three</e></item></items></pubsub></iq>
alice sends: <iq type='set' id='i10'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:example:feed'><item id='3'/></retract></pubsub></iq>
alice receives: <iq type='result' id='i10' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='set' id='i11'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:example:feed'><item id='3'/></retract></pubsub></iq>
alice receives: <iq type='error' id='i11' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:example:feed'><item id='3'/></retract></pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='set' id='i12'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:example:feed'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#max_items'><value>1</value></field><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub></iq>
alice receives: <iq type='result' id='i12' from='alice@hearth.test' to='alice@hearth.test/phone'/>
carol sends: <iq type='get' id='i13' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub></iq>
carol receives: <iq type='result' id='i13' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'><item id='4'><e xmlns='urn:example:feed'>four</e></item></items></pubsub></iq>
carol sends: <iq type='get' id='i14' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:example:feed'/></pubsub></iq>
carol receives: <iq type='error' id='i14' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:example:feed'/></pubsub><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='set' id='i14p'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='urn:example:feed'/></pubsub></iq>
alice receives: <iq type='result' id='i14p' from='alice@hearth.test' to='alice@hearth.test/phone'/>
carol sends: <iq type='get' id='i14q' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub></iq>
carol receives: <iq type='result' id='i14q' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub></iq>
alice sends: <iq type='get' id='i14r'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:example:feed'/></pubsub></iq>
alice receives: <iq type='result' id='i14r' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:example:feed'>*</configure></pubsub></iq>
alice sends: <iq type='set' id='i15'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='urn:example:feed'/></pubsub></iq>
alice receives: <iq type='result' id='i15' from='alice@hearth.test' to='alice@hearth.test/phone'/>
carol sends: <iq type='get' id='i16' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub></iq>
carol receives: <iq type='error' id='i16' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:feed'/></pubsub><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='set' id='i17'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='urn:example:feed' jid='alice@hearth.test'/></pubsub></iq>
alice receives: <iq type='error' id='i17' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='urn:example:feed' jid='alice@hearth.test'/></pubsub><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='subscribe'/></error></iq>
alice sends: <iq type='set' id='i18'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='a'><a xmlns='urn:example:feed'/></item><item id='b'><b xmlns='urn:example:feed'/></item></publish></pubsub></iq>
alice receives: <iq type='error' id='i18' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><invalid-payload xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='i19'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='a'/></publish></pubsub></iq>
alice receives: <iq type='error' id='i19' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><payload-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
alice sends: <iq type='set' id='i20'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish><item id='a'><a xmlns='urn:example:feed'/></item></publish></pubsub></iq>
alice receives: <iq type='error' id='i20' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><nodeid-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>
# An item without an id gets one.
alice sends: <iq type='set' id='i21'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item><a xmlns='urn:example:feed'/></item></publish></pubsub></iq>
alice receives: <iq type='result' id='i21' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:feed'><item id='*'/></publish></pubsub></iq>
alice receives nothing more
carol receives nothing more`)
	})
}
