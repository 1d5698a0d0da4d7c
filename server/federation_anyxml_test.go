package server_test

import (
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// payloads no server knows: prefixed elements, attributes in other
// namespaces, escaped text, mixed content and whitespace, text outside
// the BMP.
const (
	oddIQ = `<query xmlns='urn:example:anything'><p:data xmlns:p='urn:example:other' p:kind='x'>a &lt; b &amp; c<inner/>  tail </p:data>` +
		`<item xmlns:q='urn:example:q' q:attr='1&amp;2' plain='&quot;quoted&quot;'>😀 text</item><empty/></query>`
	oddMessage = `<thing xmlns='urn:example:thing' v='2'><deep><deeper>x</deeper></deep></thing><p:other xmlns:p='urn:example:p'/>`
)

// TestFederationAnyXML: stanzas with namespaces neither server knows pass
// between full JIDs on two Hearth servers untouched, with from stamped:
// an IQ both ways and a message; an IQ of an unknown namespace to a bare
// JID gets service-unavailable from the other server (RFC 6121 8.5.2.1.4's
// rule for IQs no handler takes).
func TestFederationAnyXML(t *testing.T) {
	p := federate(t, true)
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "pc")
	for _, c := range []*xmpptest.Client{alice, bob} {
		c.Send(`<presence/>`)
		c.Expect(`<presence from='` + c.JID + `' to='` + c.JID + `'/>`)
	}

	// same checks that got is want exactly: the same tree (every
	// element, attribute in its order, text node) written byte for byte
	// the same. Namespace prefixes are not kept: the server writes a
	// prefixed element with its namespace as the default, the same XML.
	same := func(t *testing.T, want string, got *stanza.Element) {
		t.Helper()
		w, err := stream.Unmarshal([]byte(want))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != w.String() {
			t.Fatalf("received\n%s\nwant\n%s", got.String(), w.String())
		}
	}

	t.Run("iq both ways", func(t *testing.T) {
		alice.Send(`<iq to='bob@b.test/pc' type='get' id='x1'>` + oddIQ + `</iq>`)
		same(t, `<iq to='bob@b.test/pc' type='get' id='x1' from='alice@a.test/phone'>`+oddIQ+`</iq>`, bob.Next())
		bob.Send(`<iq to='alice@a.test/phone' type='result' id='x1'>` + oddIQ + `</iq>`)
		same(t, `<iq to='alice@a.test/phone' type='result' id='x1' from='bob@b.test/pc'>`+oddIQ+`</iq>`, alice.Next())
		bob.Send(`<iq to='alice@a.test/phone' type='set' id='x2'>` + oddIQ + `</iq>`)
		same(t, `<iq to='alice@a.test/phone' type='set' id='x2' from='bob@b.test/pc'>`+oddIQ+`</iq>`, alice.Next())
		alice.Send(`<iq to='bob@b.test/pc' type='error' id='x2'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><x xmlns='urn:example:why'/></error></iq>`)
		same(t, `<iq to='bob@b.test/pc' type='error' id='x2' from='alice@a.test/phone'><error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><x xmlns='urn:example:why'/></error></iq>`, bob.Next())
	})

	t.Run("message", func(t *testing.T) {
		alice.Send(`<message to='bob@b.test/pc' id='m1'>` + oddMessage + `</message>`)
		m := bob.Next()
		same(t, `<message to='bob@b.test/pc' id='m1' from='alice@a.test/phone'>`+oddMessage+`</message>`, m)
	})

	t.Run("iq to a bare JID", func(t *testing.T) {
		alice.Send(`<iq to='bob@b.test' type='get' id='b1'><query xmlns='urn:example:anything'/></iq>`)
		alice.Expect(`<iq from='bob@b.test' to='alice@a.test/phone' type='error' id='b1'><query xmlns='urn:example:anything'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
		alice.Send(`<iq to='b.test' type='set' id='b2'><query xmlns='urn:example:anything'/></iq>`)
		alice.Expect(`<iq from='b.test' to='alice@a.test/phone' type='error' id='b2'><query xmlns='urn:example:anything'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
		bob.Quiet(200e6)
	})
	alice.Sync()
	bob.Sync()
}
