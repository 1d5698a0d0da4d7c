package server_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
)

const nsMAM = "urn:xmpp:mam:2"

// archived is one message of an archive query's results.
type archived struct {
	id, queryID, stamp string
	msg                *stanza.Element
}

func (a archived) body() string { return a.msg.ChildText("body", stanza.NSClient) }

// mamQuery sends an archive query with the form fields and the RSM set
// given as XML and returns the results and the IQ's answer (a result with
// <fin/> or an error).
func mamQuery(t *testing.T, c *xmpptest.Client, fields, rsm string) ([]archived, *stanza.Element) {
	t.Helper()
	qid := "q" + strconv.FormatInt(time.Now().UnixNano(), 36)
	form := ""
	if fields != "" {
		form = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>` + fields + `</x>`
	}
	if rsm != "" {
		rsm = `<set xmlns='http://jabber.org/protocol/rsm'>` + rsm + `</set>`
	}
	c.Send(`<iq type='set' id='` + qid + `'><query xmlns='urn:xmpp:mam:2' queryid='` + qid + `'>` + form + rsm + `</query></iq>`)
	var out []archived
	for {
		el := c.Next()
		if el.Name == "iq" && el.Attr("id") == qid {
			return out, el
		}
		res := el.Child("result", nsMAM)
		if el.Name != "message" || res == nil {
			t.Fatalf("%s got %s while waiting for the archive", c.Name, el)
		}
		fwd := res.Child("forwarded", "urn:xmpp:forward:0")
		if el.Attr("from") != strings.Split(c.JID, "/")[0] || fwd == nil || fwd.Child("message", stanza.NSClient) == nil || fwd.Child("delay", "urn:xmpp:delay") == nil {
			t.Fatalf("archive result %s", el)
		}
		out = append(out, archived{id: res.Attr("id"), queryID: res.Attr("queryid"), stamp: fwd.Child("delay", "urn:xmpp:delay").Attr("stamp"), msg: fwd.Child("message", stanza.NSClient)})
		if out[len(out)-1].queryID != qid {
			t.Fatalf("result with queryid %q, want %q", res.Attr("queryid"), qid)
		}
	}
}

func with(j string) string { return `<field var='with'><value>` + j + `</value></field>` }

// fin checks an archive query's answer and returns its RSM first, last,
// count and whether it says complete.
func fin(t *testing.T, iq *stanza.Element) (first, last, count string, complete bool) {
	t.Helper()
	f := iq.Child("fin", nsMAM)
	if iq.Attr("type") != "result" || f == nil {
		t.Fatalf("query answered %s", iq)
	}
	set := f.Child("set", "http://jabber.org/protocol/rsm")
	if set == nil {
		t.Fatalf("fin without set: %s", iq)
	}
	return set.ChildText("first", ""), set.ChildText("last", ""), set.ChildText("count", ""), f.Attr("complete") == "true"
}

func bodies(rs []archived) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.body())
	}
	return out
}

// errCond returns the condition of a stanza error.
func errCond(el *stanza.Element) string {
	e := el.Child("error", stanza.NSClient)
	if el.Attr("type") != "error" || e == nil {
		return ""
	}
	for _, c := range e.Elements() {
		if c.NS == stanza.NSStanzas && c.Name != "text" {
			return c.Name
		}
	}
	return ""
}

// TestMAM walks XEP-0313 with XEP-0359: a message between two accounts
// lands in both archives, the recipient gets it with its archive id as a
// stanza-id, forged stanza-ids are stripped, hints and message types
// decide what is archived, and offline messages are archived too.
func TestMAM(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "laptop", 0)
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob}

	alice.Send(`<iq type='get' id='d1' to='alice@hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	el := alice.Expect(`<iq type='result' id='d1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#info'>*</query></iq>`)
	for _, f := range []string{"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"} {
		if !strings.Contains(el.String(), `var="`+f+`"`) {
			t.Errorf("the account's disco#info lacks %s: %s", f, el)
		}
	}

	xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='chat' id='a1'><body>one</body><origin-id xmlns='urn:xmpp:sid:0' id='o-1'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='a1'><body>one</body><origin-id xmlns='urn:xmpp:sid:0' id='o-1'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@hearth.test' id='*'/></message>
# a stanza-id in the recipient's name is forged and goes; another server's stays
bob sends: <message to='alice@hearth.test/phone' type='chat' id='b1'><body>two</body><stanza-id xmlns='urn:xmpp:sid:0' by='alice@hearth.test' id='forged'/><stanza-id xmlns='urn:xmpp:sid:0' by='HEARTH.test' id='forged2'/><stanza-id xmlns='urn:xmpp:sid:0' by='muc.example.org' id='theirs'/></message>
alice receives: <message from='bob@hearth.test/laptop' to='alice@hearth.test/phone' type='chat' id='b1'><body>two</body><stanza-id xmlns='urn:xmpp:sid:0' by='muc.example.org' id='theirs'/><stanza-id xmlns='urn:xmpp:sid:0' by='alice@hearth.test' id='*'/></message>
# not archived: no-store, no-permanent-store, headline, no body; archived: store
alice sends: <message to='bob@hearth.test' type='chat' id='a2'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='a2'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>
alice sends: <message to='bob@hearth.test' type='chat' id='a3'><body>fleeting</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='a3'><body>fleeting</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>
alice sends: <message to='bob@hearth.test' type='headline' id='a4'><body>news</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='headline' id='a4'><body>news</body></message>
alice sends: <message to='bob@hearth.test' type='chat' id='a5'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='a5'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
alice sends: <message to='bob@hearth.test' type='chat' id='a6'><received xmlns='urn:xmpp:receipts' id='x'/><store xmlns='urn:xmpp:hints'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='a6'><received xmlns='urn:xmpp:receipts' id='x'/><store xmlns='urn:xmpp:hints'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@hearth.test' id='*'/></message>
# offline: archived for carol, and she gets it with its stanza-id
alice sends: <message to='carol@hearth.test' id='a7'><body>while you were out</body></message>
alice receives nothing more`)

	rs, iq := mamQuery(t, alice, "", "")
	if got, want := bodies(rs), []string{"one", "two", "", "while you were out"}; !slices.Equal(got, want) {
		t.Errorf("alice's archive: %q, want %q", got, want)
	}
	first, last, count, complete := fin(t, iq)
	if first != rs[0].id || last != rs[len(rs)-1].id || count != "4" || !complete {
		t.Errorf("fin %s", iq)
	}
	// Her archive keeps the message as it was routed, origin-id and all,
	// without the stanza-ids forged in her name.
	if m := rs[0].msg; m.Attr("to") != "bob@hearth.test" || m.Attr("from") != "alice@hearth.test/phone" || m.Child("origin-id", "urn:xmpp:sid:0") == nil {
		t.Errorf("archived %s", m)
	}
	if s := rs[1].msg.String(); strings.Contains(s, "forged") || !strings.Contains(s, "theirs") {
		t.Errorf("archived %s", s)
	}
	if _, err := time.Parse(time.RFC3339, rs[0].stamp); err != nil || time.Since(mustTime(t, rs[0].stamp)) > time.Minute {
		t.Errorf("stamp %q", rs[0].stamp)
	}

	// bob's archive has the same conversation, and the stanza-id he got
	// is the result's id.
	rsb, _ := mamQuery(t, bob, "", "")
	if got, want := bodies(rsb), []string{"one", "two", ""}; !slices.Equal(got, want) {
		t.Errorf("bob's archive: %q, want %q", got, want)
	}

	carol := srv.Login(t, "carol", secret("carol"), "tablet")
	carol.Send(`<presence/>`)
	carol.Expect(`<presence from='carol@hearth.test/tablet' to='carol@hearth.test/tablet'/>`)
	got := carol.ExpectLike(`<message from='alice@hearth.test/phone' id='a7'><body>while you were out</body><stanza-id xmlns='urn:xmpp:sid:0' by='carol@hearth.test'/><delay xmlns='urn:xmpp:delay'/></message>`, 5*time.Second)
	rsc, _ := mamQuery(t, carol, "", "")
	if len(rsc) != 1 || rsc[0].id != got.Child("stanza-id", "urn:xmpp:sid:0").Attr("id") {
		t.Errorf("carol's archive %v; the offline message had %s", bodies(rsc), got)
	}

	t.Run("stanza-id is the archive id", func(t *testing.T) {
		alice.Send(`<message to='bob@hearth.test' type='chat' id='a8'><body>find me</body></message>`)
		el := bob.ExpectLike(`<message id='a8'><stanza-id xmlns='urn:xmpp:sid:0' by='bob@hearth.test'/></message>`, 5*time.Second)
		sid := el.Child("stanza-id", "urn:xmpp:sid:0").Attr("id")
		rs, _ := mamQuery(t, bob, `<field var='ids'><value>`+sid+`</value></field>`, "")
		if len(rs) != 1 || rs[0].body() != "find me" {
			t.Errorf("ids %s: %v", sid, bodies(rs))
		}
	})
	t.Run("metadata", func(t *testing.T) {
		bob.Send(`<iq type='get' id='m1'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
		el := bob.Expect(`<iq type='result' id='m1' from='bob@hearth.test' to='bob@hearth.test/laptop'><metadata xmlns='urn:xmpp:mam:2'><start id='*' timestamp='*'/><end id='*' timestamp='*'/></metadata></iq>`)
		md := el.Child("metadata", nsMAM)
		if md.Child("start", nsMAM).Attr("id") != rsb[0].id {
			t.Errorf("metadata %s; first is %s", el, rsb[0].id)
		}
		carol.Send(`<iq type='get' id='m2'><metadata xmlns='urn:xmpp:mam:2'/></iq>`)
		carol.Expect(`<iq type='result' id='m2' from='carol@hearth.test' to='carol@hearth.test/tablet'><metadata xmlns='urn:xmpp:mam:2'><start id='*' timestamp='*'/><end id='*' timestamp='*'/></metadata></iq>`)
	})
	t.Run("form", func(t *testing.T) {
		xmpptest.Play(t, c, `
alice sends: <iq type='get' id='f1'><query xmlns='urn:xmpp:mam:2'/></iq>
alice receives: <iq type='result' id='f1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='form'>
<field type='hidden' var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field>
<field type='jid-single' var='with'/><field type='text-single' var='start'/><field type='text-single' var='end'/>
<field type='text-single' var='after-id'/><field type='text-single' var='before-id'/><field type='text-multi' var='ids'/>
</x></query></iq>`)
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestMAMQueries pages through an archive of 30 messages with three
// contacts: by contact (bare and full JID), time, ids, forwards and
// backwards from the last page, flipped, counted; and the errors.
func TestMAMQueries(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "laptop", 0)
	carol := online(t, srv, "carol", "tablet", 0)
	var mid time.Time
	for i := range 30 {
		from, to := bob, "alice@hearth.test"
		switch i % 3 {
		case 1:
			from = carol
		case 2:
			from, to = alice, "bob@hearth.test"
		}
		if i == 15 {
			time.Sleep(5 * time.Millisecond)
			mid = time.Now()
			time.Sleep(5 * time.Millisecond)
		}
		from.Send(fmt.Sprintf(`<message to='%s' type='chat' id='n%d'><body>%d</body></message>`, to, i, i))
		if to == "bob@hearth.test" {
			bob.Next()
		} else {
			alice.Next()
		}
	}
	nums := func(from, to int, step int) []string {
		var out []string
		for i := from; i < to; i += step {
			out = append(out, strconv.Itoa(i))
		}
		return out
	}
	all, iq := mamQuery(t, alice, "", "<max>100</max>")
	if got := bodies(all); !slices.Equal(got, nums(0, 30, 1)) {
		t.Fatalf("whole archive %q", got)
	}
	if _, _, count, complete := fin(t, iq); count != "30" || !complete {
		t.Errorf("fin %s", iq)
	}

	for _, tc := range []struct {
		name, fields, rsm string
		want              []string
		count             string
		complete          bool
	}{
		{"with a contact", with("bob@hearth.test"), "", append(nums(0, 30, 3), nums(2, 30, 3)...), "20", true},
		{"with a full JID", with("carol@hearth.test/tablet"), "", nums(1, 30, 3), "10", true},
		{"with another resource", with("carol@hearth.test/phone"), "", nil, "0", true},
		{"start", `<field var='start'><value>` + mid.UTC().Format(time.RFC3339Nano) + `</value></field>`, "", nums(15, 30, 1), "15", true},
		{"end", `<field var='end'><value>` + mid.UTC().Format(time.RFC3339Nano) + `</value></field>`, "", nums(0, 15, 1), "15", true},
		{"first page", "", "<max>7</max>", nums(0, 7, 1), "30", false},
		{"after", "", "<max>7</max><after>" + all[27].id + "</after>", nums(28, 30, 1), "30", true},
		{"after-id", `<field var='after-id'><value>` + all[25].id + `</value></field>`, "<max>2</max>", nums(26, 28, 1), "4", false},
		{"before-id", `<field var='before-id'><value>` + all[3].id + `</value></field>`, "", nums(0, 3, 1), "3", true},
		{"last page", "", "<max>4</max><before/>", nums(26, 30, 1), "30", false},
		{"page before", "", "<max>4</max><before>" + all[3].id + "</before>", nums(0, 3, 1), "30", true},
		{"ids", `<field var='ids'><value>` + all[4].id + `</value><value>` + all[9].id + `</value></field>`, "", []string{"4", "9"}, "2", true},
		{"count only", "", "<max>0</max>", nil, "30", false},
		{"page too large is cut to 100", "", "<max>1000</max>", nums(0, 30, 1), "30", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, iq := mamQuery(t, alice, tc.fields, tc.rsm)
			first, last, count, complete := fin(t, iq)
			if got := bodies(rs); !equalSets(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if count != tc.count || complete != tc.complete {
				t.Errorf("count %s complete %v, want %s %v: %s", count, complete, tc.count, tc.complete, iq)
			}
			if len(rs) > 0 && (first != rs[0].id || last != rs[len(rs)-1].id) {
				t.Errorf("first %s last %s: %s", first, last, iq)
			}
		})
	}

	t.Run("pages backwards", func(t *testing.T) {
		var got []string
		before := ""
		for range 10 {
			rs, iq := mamQuery(t, alice, with("bob@hearth.test"), "<max>6</max><before>"+before+"</before>")
			got = append(bodies(rs), got...)
			first, _, _, complete := fin(t, iq)
			if complete {
				break
			}
			before = first
		}
		if want := []string{"0", "2", "3", "5", "6", "8", "9", "11", "12", "14", "15", "17", "18", "20", "21", "23", "24", "26", "27", "29"}; !slices.Equal(got, want) {
			t.Errorf("backwards %q", got)
		}
	})
	t.Run("flip-page", func(t *testing.T) {
		alice.Send(`<iq type='set' id='fp'><query xmlns='urn:xmpp:mam:2' queryid='fp'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set><flip-page/></query></iq>`)
		var got []string
		for {
			el := alice.Next()
			if el.Name == "iq" {
				break
			}
			got = append(got, el.Child("result", nsMAM).Child("forwarded", "urn:xmpp:forward:0").Child("message", stanza.NSClient).ChildText("body", stanza.NSClient))
		}
		if !slices.Equal(got, []string{"29", "28", "27"}) {
			t.Errorf("flipped last page %q", got)
		}
	})

	gone := "AAAAAAAAAAEAAAAAAAAAAQ" // well formed, never handed out
	for _, tc := range []struct{ name, query, cond string }{
		{"unknown field", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='colour'><value>red</value></field></x>`, "bad-request"},
		{"wrong FORM_TYPE", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`, "bad-request"},
		{"bad date", `<x xmlns='jabber:x:data' type='submit'><field var='start'><value>yesterday</value></field></x>`, "bad-request"},
		{"bad with", `<x xmlns='jabber:x:data' type='submit'><field var='with'><value>@@</value></field></x>`, "jid-malformed"},
		{"bad max", `<set xmlns='http://jabber.org/protocol/rsm'><max>many</max></set>`, "bad-request"},
		{"index", `<set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set>`, "feature-not-implemented"},
		{"unknown after", `<set xmlns='http://jabber.org/protocol/rsm'><after>` + gone + `</after></set>`, "item-not-found"},
		{"garbage before", `<set xmlns='http://jabber.org/protocol/rsm'><before>nonsense</before></set>`, "item-not-found"},
		{"another's id", `<set xmlns='http://jabber.org/protocol/rsm'><after>` + bobsID(t, bob) + `</after></set>`, "item-not-found"},
		{"unknown ids", `<x xmlns='jabber:x:data' type='submit'><field var='ids'><value>` + gone + `</value></field></x>`, "item-not-found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice.Send(`<iq type='set' id='e1'><query xmlns='urn:xmpp:mam:2'>` + tc.query + `</query></iq>`)
			el := alice.Next()
			if got := errCond(el); got != tc.cond || el.Attr("id") != "e1" {
				t.Errorf("got %s, want %s", el, tc.cond)
			}
		})
	}
	t.Run("another account's archive", func(t *testing.T) {
		xmpptest.Play(t, map[string]*xmpptest.Client{"carol": carol}, `
carol sends: <iq type='set' id='x1' to='alice@hearth.test'><query xmlns='urn:xmpp:mam:2'/></iq>
carol receives: <iq type='error' id='x1' from='alice@hearth.test' to='carol@hearth.test/tablet'><query xmlns='urn:xmpp:mam:2'/><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
carol sends: <iq type='get' id='x2' to='alice@hearth.test'><prefs xmlns='urn:xmpp:mam:2'/></iq>
carol receives: <iq type='error' id='x2' from='alice@hearth.test' to='carol@hearth.test/tablet'><prefs xmlns='urn:xmpp:mam:2'/><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>`)
	})
}

// bobsID is the id of the first message in bob's archive.
func bobsID(t *testing.T, bob *xmpptest.Client) string {
	t.Helper()
	rs, _ := mamQuery(t, bob, "", "<max>1</max>")
	if len(rs) == 0 {
		t.Fatal("bob's archive is empty")
	}
	return rs[0].id
}

func equalSets(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestMAMPrefs: never, roster and always, with the always and never
// lists, each for the archive of the account that set them.
func TestMAMPrefs(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "laptop", 0)
	carol := online(t, srv, "carol", "tablet", 0)
	c := map[string]*xmpptest.Client{"alice": alice}
	if err := srv.Admin.MakeMutual(context.Background(), "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	alice.Collect(300 * time.Millisecond) // the roster pushes and presence
	bob.Collect(100 * time.Millisecond)
	talk := func(tag string) {
		bob.Send(`<message to='alice@hearth.test' type='chat'><body>bob ` + tag + `</body></message>`)
		carol.Send(`<message to='alice@hearth.test' type='chat'><body>carol ` + tag + `</body></message>`)
		alice.Send(`<message to='carol@hearth.test' type='chat'><body>to carol ` + tag + `</body></message>`)
		for range 2 {
			alice.Next()
		}
		carol.Next()
	}
	xmpptest.Play(t, c, `
alice sends: <iq type='get' id='p1'><prefs xmlns='urn:xmpp:mam:2'/></iq>
alice receives: <iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never/></prefs></iq>
alice sends: <iq type='set' id='p2'><prefs xmlns='urn:xmpp:mam:2' default='never'/></iq>
alice receives: <iq type='result' id='p2' from='alice@hearth.test' to='alice@hearth.test/phone'><prefs xmlns='urn:xmpp:mam:2' default='never'><always/><never/></prefs></iq>`)
	talk("never")
	xmpptest.Play(t, c, `
alice sends: <iq type='set' id='p3'><prefs xmlns='urn:xmpp:mam:2' default='roster'/></iq>
alice receives: <iq type='result' id='p3' from='alice@hearth.test' to='alice@hearth.test/phone'><prefs xmlns='urn:xmpp:mam:2' default='roster'><always/><never/></prefs></iq>`)
	talk("roster")
	xmpptest.Play(t, c, `
alice sends: <iq type='set' id='p4'><prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>carol@hearth.test</jid></always><never><jid>bob@hearth.test</jid></never></prefs></iq>
alice receives: <iq type='result' id='p4' from='alice@hearth.test' to='alice@hearth.test/phone'><prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>carol@hearth.test</jid></always><never><jid>bob@hearth.test</jid></never></prefs></iq>
alice sends: <iq type='set' id='p5'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>
alice receives: <iq type='error' id='p5' from='alice@hearth.test' to='alice@hearth.test/phone'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>`)
	talk("lists")

	rs, _ := mamQuery(t, alice, "", "")
	if got, want := bodies(rs), []string{"bob roster", "carol lists", "to carol lists"}; !equalSets(got, want) {
		t.Errorf("alice's archive %q, want %q", got, want)
	}
	// Her preferences are hers: carol's archive has everything.
	rs, _ = mamQuery(t, carol, "", "")
	if len(rs) != 6 {
		t.Errorf("carol's archive %q", bodies(rs))
	}
}

// TestMAMSettings: with mam.enabled off nothing new is archived, no
// stanza-id is added (forged ones still go) and service discovery no
// longer offers the archive; mam.retention deletes old messages as soon as
// it is set.
func TestMAMSettings(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "laptop", 0)
	c := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	ctx := context.Background()
	set := func(key, value string) {
		t.Helper()
		if _, err := srv.Admin.SetSetting(ctx, key, value); err != nil {
			t.Fatal(err)
		}
	}
	xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='chat' id='k1'><body>kept</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='k1'><body>kept</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@hearth.test' id='*'/></message>`)
	offered := func() bool {
		t.Helper()
		bob.Send(`<iq type='get' id='disco' to='bob@hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		res := bob.Next().String()
		return strings.Contains(res, `var="urn:xmpp:mam:2"`) && strings.Contains(res, `var="urn:xmpp:sid:0"`)
	}
	if !offered() {
		t.Errorf("the archive is on and not offered")
	}
	set("mam.enabled", "false")
	if offered() {
		t.Errorf("the archive is off and still offered")
	}
	xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test' type='chat' id='k2'><body>not kept</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@hearth.test' id='forged'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='k2'><body>not kept</body></message>
bob receives nothing more`)
	set("mam.enabled", "true")
	if !offered() {
		t.Errorf("the archive is on again and not offered")
	}
	for _, cl := range []*xmpptest.Client{alice, bob} {
		if rs, _ := mamQuery(t, cl, "", ""); !slices.Equal(bodies(rs), []string{"kept"}) {
			t.Errorf("%s's archive %q", cl.Name, bodies(rs))
		}
	}
	time.Sleep(20 * time.Millisecond)
	set("mam.retention", "10ms")
	if rs, _ := mamQuery(t, alice, "", ""); len(rs) != 0 {
		t.Errorf("after retention 10ms alice's archive %q", bodies(rs))
	}
	set("mam.retention", "0")
	alice.Send(`<message to='bob@hearth.test' type='chat' id='k3'><body>forever</body></message>`)
	bob.Next()
	time.Sleep(20 * time.Millisecond)
	set("mam.retention", "0") // forever: nothing goes
	if rs, _ := mamQuery(t, bob, "", ""); !slices.Equal(bodies(rs), []string{"forever"}) {
		t.Errorf("bob's archive %q", bodies(rs))
	}
}
