package stream

import (
	"bytes"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
)

// TestContentNamespace: a stanza read from a jabber:server stream is the
// same tree as one read from a jabber:client stream, and each encodes back
// to its own stream's form (RFC 6120 4.8.2), so that the router never
// needs to know which kind of stream a stanza came from or goes to.
func TestContentNamespace(t *testing.T) {
	const (
		client = `<message to="bob@b.example" from="alice@a.example/r" type="error" id="1"><body>hi</body><x xmlns="urn:x"><body>kept in urn:x</body></x><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`
		server = client // the same bytes: only the stream's default namespace differs
	)
	read := func(ns, body string) *stanza.Element {
		t.Helper()
		in := `<stream:stream xmlns='` + ns + `' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>` + body
		d := NewDecoder(strings.NewReader(in), Limits{})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		el, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		return el
	}
	fromClient, fromServer := read(stanza.NSClient, client), read(stanza.NSServer, server)
	if a, b := fromClient.String(), fromServer.String(); a != b {
		t.Fatalf("trees differ:\nfrom jabber:client %s\nfrom jabber:server %s", a, b)
	}
	if fromServer.NS != stanza.NSClient || fromServer.Child("error", "").NS != stanza.NSClient {
		t.Fatalf("jabber:server elements not kept in the tree's namespace: %s", fromServer)
	}
	for _, ns := range []string{stanza.NSClient, stanza.NSServer} {
		var b bytes.Buffer
		fromServer.Encode(&b, ns)
		if b.String() != client {
			t.Errorf("encoded for %s:\n got %s\nwant %s", ns, b.String(), client)
		}
	}
	// As its own root (a WebSocket frame, RFC 7395 3.3.3), the content
	// namespace is declared on the stanza.
	var b bytes.Buffer
	fromServer.WriteTo(&b, "")
	if !strings.HasPrefix(b.String(), `<message xmlns="jabber:client" `) {
		t.Errorf("as a root: %s", b.String())
	}
}
