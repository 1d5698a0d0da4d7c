package mam

import (
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// BenchmarkRoomsStore is the cost of archiving a groupchat message as the
// room sends it out. queue: Store alone, many in flight (the commits run
// on storage's goroutine meanwhile; the last is waited for); durable: each
// waited for, as muc does before it broadcasts (a commit and its sync per
// message when one room talks alone).
func BenchmarkRoomsStore(b *testing.B) {
	msg := parse(b, `<message xmlns='jabber:client' type='groupchat' id='a1b2c3' from='den@conference.home.test/ann'>`+
		`<body>Dinner is ready, come down before it gets cold!</body>`+
		`<occupant-id xmlns='urn:xmpp:occupant-id:0' id='dd72603deec90a38ba552f7c68cbcc61bca202cd'/></message>`)
	for _, wait := range []bool{false, true} {
		name := map[bool]string{false: "queue", true: "durable"}[wait]
		b.Run(name, func(b *testing.B) {
			e := newRoomsEnv(b)
			ctx := b.Context()
			var d router.Durable
			b.ReportAllocs()
			for b.Loop() {
				_, d = e.rs.Store(ctx, den, "ann", msg)
				if wait {
					<-d.Done()
				}
			}
			<-d.Done()
			if f := d.Failed(); f != nil {
				b.Fatal(f)
			}
		})
	}
}

// FuzzTombstone: whatever message was archived, its tombstone is
// well-formed XML that reads back with no body and one <retracted/>.
func FuzzTombstone(f *testing.F) {
	for _, s := range []string{
		`<message xmlns='jabber:client' type='groupchat' from='den@conference.home.test/ann' id='x'><body>hi</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='o'/></message>`,
		`<message xmlns='jabber:client'><body>a &amp; b</body><origin-id xmlns='urn:xmpp:sid:0' id='1'/><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>x</body></html></message>`,
		`<message xmlns='jabber:client' from='&lt;&quot;'/>`,
	} {
		f.Add([]byte(s), "den@conference.home.test/mod", "because")
	}
	f.Fuzz(func(t *testing.T, msg []byte, by, reason string) {
		old, err := stream.Unmarshal(msg)
		if err != nil {
			return
		}
		j, err := jid.Parse(by)
		if err != nil {
			return
		}
		el, err := stream.Unmarshal(tombstone(old, j, "", reason, time.Now()).Bytes())
		if err != nil {
			t.Fatalf("tombstone of %q does not read back: %v", msg, err)
		}
		if el.Child("body", stanza.NSClient) != nil || el.Child("retracted", NSRetract) == nil {
			t.Errorf("tombstone %s", el)
		}
	})
}
