package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
	"hearth/storage"
)

// BenchmarkMAMQuery measures an archive query end to end (the IQ, 50
// result messages and the answer over TLS) in an archive of 1,000,000
// messages with 10 contacts: the first page, the last page (RSM
// <before/>), and the last page with one contact.
func BenchmarkMAMQuery(b *testing.B) {
	const n = 1_000_000
	srv := xmpptest.Start(b)
	srv.AddUser(b, "alice", "silver-kettle-pw")
	// Ids as the archive makes them: milliseconds since 2000 << 20, here
	// a million messages over the last 1000 seconds.
	base := (time.Now().Add(-1000*time.Second).UnixMilli() - 946684800000) << 20
	var last *storage.Queued
	for i := range int64(n) {
		with := "c" + strconv.Itoa(int(i%10)) + "@hearth.test"
		msg := `<message xmlns='jabber:client' from='` + with + `/phone' to='alice@hearth.test' type='chat' id='m` + strconv.Itoa(int(i)) + `'><body>` + strings.Repeat("x", 64) + `</body></message>`
		last = srv.DB.QueueArchive([]storage.ArchiveRow{{User: "alice", ID: base + i<<10, Tag: i, With: with, Res: "phone", Stanza: []byte(msg)}}, nil)
		if i%100000 == 99999 {
			if err := last.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	alice := srv.Login(b, "alice", "silver-kettle-pw", "phone")
	for _, bc := range []struct{ name, fields, rsm string }{
		{"first", "", "<max>50</max>"},
		{"last", "", "<max>50</max><before/>"},
		{"with/last", `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>c3@hearth.test</value></field></x>`, "<max>50</max><before/>"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			restore := alice.Use(b)
			defer restore()
			q := `<iq type='set' id='q'><query xmlns='urn:xmpp:mam:2'>` + bc.fields + `<set xmlns='http://jabber.org/protocol/rsm'>` + bc.rsm + `</set></query></iq>`
			for b.Loop() {
				alice.Send(q)
				got := 0
				for {
					el := alice.Next()
					if el.Name == "iq" {
						break
					}
					got++
				}
				if got != 50 {
					b.Fatalf("%d results", got)
				}
			}
		})
	}
}
