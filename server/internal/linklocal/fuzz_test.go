package linklocal

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// FuzzInbound feeds what a peer sends on an inbound stream: nothing may
// crash or hang, and only stanzas from the announced peer to our instance,
// with their addresses removed, reach the handler.
func FuzzInbound(f *testing.F) {
	const hdr = `<?xml version="1.0" encoding="UTF-8" ?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" from="bob@laptop" to="alice@hearth"`
	for _, seed := range []string{
		hdr + `>`,
		hdr + ` version="1.0"><message from="bob@laptop" to="alice@hearth" type="chat"><body>hi</body></message></stream:stream>`,
		hdr + `><message><body>hi</body></message><iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq><presence/>`,
		hdr + `><message from="eve@x"><body>spoof</body></message>`,
		hdr + `><message to="carol@hearth"/>`,
		hdr + `><stream:features/><stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
		hdr + ` version="3.0">`,
		hdr + `><a xmlns="urn:x"/>`,
		hdr + `><message><body>` + strings.Repeat("<b>", 40) + `</body></message>`,
		hdr + `><message xml:lang="en" from="bob@laptop"><body>&lt;&amp;</body></message>`,
		`<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" from="bob@laptop" to="alice@hearth">`,
		`<stream:stream xmlns:stream="http://etherx.jabber.org/streams" to="alice@hearth">`,
		`<!DOCTYPE x><stream:stream/>`,
		"\x00\xff garbage",
		hdr + ` version="1.0"><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>` + "\x16\x03\x01\x00\x05hello",
		hdr + `><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>`,
		"",
	} {
		f.Add([]byte(seed))
	}
	cert := selfSigned(f, "alice")
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := newDirectory("alice@hearth", "carol@hearth")
		dir.announce("bob@laptop", 5298, "192.168.1.5")
		bad := make(chan string, 1)
		s := New(Config{Directory: dir, HeaderTimeout: time.Second, AnnounceWait: time.Millisecond, TLS: cert, Limits: stream.Limits{MaxStanza: 4096},
			Handler: func(peer, local string, st *stanza.Stanza) {
				if peer != "bob@laptop" || local != "alice@hearth" || st.El.Attr("from") != "" || st.El.Attr("to") != "" {
					select {
					case bad <- peer + " → " + local + ": " + st.El.String():
					default:
					}
				}
			}})
		defer s.Close()
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.serveIn(server, netip.MustParseAddr("192.168.1.5"))
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the stream did not end after its peer closed")
		}
		select {
		case b := <-bad:
			t.Fatalf("the handler got %s", b)
		default:
		}
		if n := len(s.Streams()); n != 0 {
			t.Fatalf("%d streams left after the peer closed", n)
		}
	})
}
