package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestPEPPersist: published items and node configurations survive a
// restart of the server on the same data.
func TestPEPPersist(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "carol", secret("carol"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>
  <publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='7'/></list></item></publish>
  <publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options>
</pubsub></iq>
alice receives: <iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='eu.siacs.conversations.axolotl.devicelist'><item id='current'/></publish></pubsub></iq>`)
	srv = srv.Restart(t)
	carol := srv.Login(t, "carol", secret("carol"), "tablet")
	xmpptest.Play(t, map[string]*xmpptest.Client{"carol": carol}, `
carol sends: <iq type='get' id='f1' to='alice@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'/></pubsub></iq>
carol receives: <iq type='result' id='f1' from='alice@hearth.test' to='carol@hearth.test/tablet'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='eu.siacs.conversations.axolotl.devicelist'><item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='7'/></list></item></items></pubsub></iq>
carol receives nothing more`)
}

// TestPEPAccountRemoved: deleting an account deletes its nodes; an
// account made again with the name has none.
func TestPEPAccountRemoved(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "carol", secret("carol"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	alice.Send(`<iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:n'><item id='1'><n xmlns='urn:example:n'/></item></publish></pubsub></iq>`)
	alice.Expect(`<iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>`)
	ctx := context.Background()
	if err := srv.Admin.DeleteUser(ctx, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	srv.AddUser(t, "alice", secret("alice"))
	if nodes, err := srv.DB.PEPNodes(ctx, "alice"); err != nil || len(nodes) != 0 {
		t.Errorf("a new alice has nodes %+v, %v", nodes, err)
	}
}

// TestPEPQuota: limits.pep_nodes and limits.pep_bytes apply live, with an
// error that says what is full.
func TestPEPQuota(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	ctx := context.Background()
	for k, v := range map[string]string{settings.KeyPEPNodes: "2", settings.KeyPEPBytes: "1024"} {
		if _, err := srv.Admin.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	big := strings.Repeat("x", 1100)
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='set' id='q1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:a'><item id='1'><a xmlns='urn:example:a'/></item></publish></pubsub></iq>
alice receives: <iq type='result' id='q1' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>
alice sends: <iq type='set' id='q2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='urn:example:b'/></pubsub></iq>
alice receives: <iq type='result' id='q2' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='set' id='q3'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:c'><item id='1'><c xmlns='urn:example:c'/></item></publish></pubsub></iq>
alice receives: <iq type='error' id='q3' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your published data is full: this server keeps at most 2 nodes per account; remove something first</text></error></iq>
alice sends: <iq type='set' id='q4'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:a'><item id='2'><a xmlns='urn:example:a'>`+big+`</a></item></publish></pubsub></iq>
alice receives: <iq type='error' id='q4' from='alice@hearth.test' to='alice@hearth.test/phone'><pubsub xmlns='http://jabber.org/protocol/pubsub'>*</pubsub><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your published data is full: this server keeps at most 1 KiB per account; remove something first</text></error></iq>
alice receives nothing more`)
}

// TestPEPAvatar: XEP-0084 avatars and XEP-0398's conversion. A published
// avatar's hash goes into the account's presence (XEP-0153's element)
// and its image into the vCard others fetch; a vCard set with a photo
// publishes the avatar.
func TestPEPAvatar(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	if err := srv.Admin.MakeMutual(context.Background(), "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	img := []byte("\x89PNG\r\n\x1a\nnot really a picture")
	b64 := base64.StdEncoding.EncodeToString(img)
	sum := sha1.Sum(img)
	id := hex.EncodeToString(sum[:])
	bob := online(t, srv, "bob", "laptop", 0)
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	carol := srv.Login(t, "carol", secret("carol"), "tablet")
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob, "carol": carol}
	xmpptest.Play(t, c, `
alice sends: <iq type='set' id='a1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:data'><item id='`+id+`'><data xmlns='urn:xmpp:avatar:data'>`+b64+`</data></item></publish></pubsub></iq>
alice receives: <iq type='result' id='a1' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>
alice sends: <iq type='set' id='a2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:avatar:metadata'><item id='`+id+`'><metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='`+strconv.Itoa(len(img))+`' id='`+id+`' type='image/png' width='64' height='64'/></metadata></item></publish></pubsub></iq>
alice receives: <iq type='result' id='a2' from='alice@hearth.test' to='alice@hearth.test/phone'>*</iq>
alice sends: <presence><x xmlns='vcard-temp:x:update'/></presence>
alice receives: <presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'><x xmlns='vcard-temp:x:update'><photo>`+id+`</photo></x></presence>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'><x xmlns='vcard-temp:x:update'><photo>`+id+`</photo></x></presence>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'><priority>0</priority></presence>
bob sends: <iq type='get' id='v1' to='alice@hearth.test'><vCard xmlns='vcard-temp'/></iq>
bob receives: <iq type='result' id='v1' from='alice@hearth.test' to='bob@hearth.test/laptop'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>`+b64+`</BINVAL></PHOTO></vCard></iq>
# carol is no contact of alice's: the avatar (presence access) is not hers to see, in the vCard either.
carol sends: <iq type='get' id='v0' to='alice@hearth.test'><vCard xmlns='vcard-temp'/></iq>
carol receives: <iq type='error' id='v0' from='alice@hearth.test' to='carol@hearth.test/tablet'><vCard xmlns='vcard-temp'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
# carol's vCard photo becomes her avatar, which anyone may fetch.
carol sends: <iq type='set' id='v2'><vCard xmlns='vcard-temp'><FN>Carol</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>`+b64+`</BINVAL></PHOTO></vCard></iq>
carol receives: <iq type='result' id='v2' from='carol@hearth.test' to='carol@hearth.test/tablet'/>
bob sends: <iq type='get' id='m1' to='carol@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata'/></pubsub></iq>
bob receives: <iq type='result' id='m1' from='carol@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata'><item id='`+id+`'><metadata xmlns='urn:xmpp:avatar:metadata'><info id='`+id+`' type='image/png' bytes='`+strconv.Itoa(len(img))+`'/></metadata></item></items></pubsub></iq>
bob sends: <iq type='get' id='m2' to='carol@hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'><item id='`+id+`'/></items></pubsub></iq>
bob receives: <iq type='result' id='m2' from='carol@hearth.test' to='bob@hearth.test/laptop'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:data'><item id='`+id+`'><data xmlns='urn:xmpp:avatar:data'>`+b64+`</data></item></items></pubsub></iq>
bob sends: <iq type='get' id='v3' to='carol@hearth.test'><vCard xmlns='vcard-temp'/></iq>
bob receives: <iq type='result' id='v3' from='carol@hearth.test' to='bob@hearth.test/laptop'><vCard xmlns='vcard-temp'><FN>Carol</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>`+b64+`</BINVAL></PHOTO></vCard></iq>
bob receives nothing more
carol receives nothing more`)
}
