package server_test

import (
	"fmt"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestMUCArchiveRestart: a persistent room's archive survives a restart
// of the server: a member joining afterwards gets the last messages as
// history (read back from the archive, the room's memory being gone) and
// pages through all of them with XEP-0313, each with the stanza-id it
// was first sent with.
func TestMUCArchiveRestart(t *testing.T) {
	const n = 30
	srv := xmpptest.Start(t)
	// Thirty messages at once are above an occupant's rate.
	if _, err := srv.Admin.SetSetting(t.Context(), settings.KeyMUCRate, "0"); err != nil {
		t.Fatal(err)
	}
	c := mucUsers(t, srv, "alice", "bob")
	const room = "den@conference.hearth.test"
	mucCreate(t, c["alice"], room, "Alice", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablearchiving", "1")
	alice := c["alice"]
	sent := make([]string, n) // stanza-ids, in order
	for i := range n {
		alice.Send(fmt.Sprintf(`<message to='%s' type='groupchat' id='m%d'><body>note %02d</body></message>`, room, i, i))
		el := alice.Next()
		sid := el.Child("stanza-id", "urn:xmpp:sid:0")
		if el.Name != "message" || sid == nil || sid.Attr("by") != room {
			t.Fatalf("message %d came back as %s", i, el)
		}
		sent[i] = sid.Attr("id")
	}

	srv = srv.Restart(t)
	bob := online(t, srv, "bob", "pc", 0)
	bob.Send(`<presence to='` + room + `/Bob'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='5'/></x></presence>`)
	var history []string
	for {
		el := bob.Next()
		if el.Name == "message" && el.Child("body", stanza.NSClient) != nil {
			if d := el.Child("delay", stanza.NSDelay); d == nil || d.Attr("from") != room {
				t.Errorf("history without a delay from the room: %s", el)
			}
			history = append(history, el.ChildText("body", stanza.NSClient))
		}
		if el.Name == "message" && el.Child("subject", stanza.NSClient) != nil && el.Child("body", stanza.NSClient) == nil {
			break
		}
	}
	if want := "note 25 note 26 note 27 note 28 note 29"; strings.Join(history, " ") != want {
		t.Errorf("history after the restart: %q, want %q", history, want)
	}

	var got []string
	after := ""
	for page := 0; page < 5 && len(got) < n; page++ {
		rsm := "<max>10</max>"
		if after != "" {
			rsm += "<after>" + after + "</after>"
		}
		bob.Send(fmt.Sprintf(`<iq type='set' id='q%d' to='%s'><query xmlns='urn:xmpp:mam:2' queryid='p%d'><set xmlns='http://jabber.org/protocol/rsm'>%s</set></query></iq>`, page, room, page, rsm))
		for {
			el := bob.Next()
			if el.Name == "iq" {
				if el.Attr("type") != "result" {
					t.Fatalf("query %d: %s", page, el)
				}
				set := el.FirstElement().Child("set", "http://jabber.org/protocol/rsm")
				if cnt := set.ChildText("count", "http://jabber.org/protocol/rsm"); cnt != fmt.Sprint(n) {
					t.Errorf("page %d: count %q, want %d", page, cnt, n)
				}
				after = set.ChildText("last", "http://jabber.org/protocol/rsm")
				break
			}
			res := el.Child("result", "urn:xmpp:mam:2")
			if res == nil {
				continue
			}
			got = append(got, res.Attr("id"))
		}
	}
	if strings.Join(got, " ") != strings.Join(sent, " ") {
		t.Errorf("the archive after the restart: %d ids %v\nwant the %d sent: %v", len(got), got, n, sent)
	}
}

// TestMUCArchiveByDefault: muc.archive_by_default, changed on a running
// server, decides whether the rooms made from then on archive: the
// creator's own presence says so (170) and so does the room's disco.
func TestMUCArchiveByDefault(t *testing.T) {
	srv := xmpptest.Start(t)
	alice := mucUsers(t, srv, "alice")["alice"]
	for i, on := range []string{"true", "false"} {
		if _, err := srv.Admin.SetSetting(t.Context(), settings.KeyMUCArchive, on); err != nil {
			t.Fatal(err)
		}
		room := fmt.Sprintf("r%d@conference.hearth.test", i)
		alice.Send(`<presence to='` + room + `/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
		self := alice.Next()
		logged := strings.Contains(self.String(), `code="170"`)
		alice.Next() // the subject
		alice.Send(`<iq type='set' id='ok` + on + `' to='` + room + `'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`)
		alice.ExpectLike(`<iq type='result' id='ok`+on+`'/>`, 5e9)
		alice.Send(`<iq type='get' id='d` + on + `' to='` + room + `'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		info := alice.Next().String()
		if want := on == "true"; logged != want || strings.Contains(info, "urn:xmpp:mam:2") != want {
			t.Errorf("muc.archive_by_default %s: the creator's presence says logged=%v (%s), disco %s", on, logged, self, info)
		}
	}
}
