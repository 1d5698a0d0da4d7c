package disco

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

func TestDisco(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice", "bob", "carol")
	for _, kv := range [][2]string{
		{"contact.admin", "xmpp:admin@example.org, mailto:admin@example.org"},
		{"contact.abuse", "mailto:abuse@example.org"},
		{"contact.sales", " "},
		{"contact.unknown", "mailto:x@example.org"},
	} {
		if err := db.SetSetting(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	// carol sees alice's presence; bob is on alice's roster without it.
	for _, it := range []storage.RosterItem{
		{Contact: "carol@example.org", Subscription: "from"},
		{Contact: "romeo@remote.net", Subscription: "both"},
		{Contact: "bob@example.org", Subscription: "to"},
	} {
		if _, err := db.PutRosterItem(ctx, "alice", it); err != nil {
			t.Fatal(err)
		}
	}
	r := modtest.Router()
	for _, s := range []struct {
		full      string
		available bool
	}{{"alice@example.org/phone", true}, {"alice@example.org/laptop", true}, {"alice@example.org/hidden", false}} {
		sess, _ := modtest.Bind(t, r, s.full)
		if s.available {
			sess.SetPresence(stanza.New("presence", stanza.NSClient), 0)
		}
	}
	vis := roster.New(roster.Deps{DB: db, Router: r})
	m := New(Deps{
		Router:     r,
		Visibility: vis,
		Features: []router.Features{{
			Server:  []string{"urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:ping"},
			Account: []string{"http://jabber.org/protocol/pubsub#publish"},
		}},
		Items:    testItems{},
		Contacts: SettingsContacts{DB: db},
	})
	m.Register(r.Mux())
	plainRouter := modtest.Router()
	plain := New(Deps{Router: plainRouter, Visibility: vis})
	plain.Register(plainRouter.Mux())
	routers := map[*Module]*router.Router{m: r, plain: plainRouter}

	info := func(from, to, node string) string {
		n := ""
		if node != "" {
			n = ` node='` + node + `'`
		}
		return `<iq type='get' id='d1' from='` + from + `' to='` + to + `'><query xmlns='http://jabber.org/protocol/disco#info'` + n + `/></iq>`
	}
	items := func(from, to, node string) string {
		return strings.Replace(info(from, to, node), "disco#info", "disco#items", 1)
	}
	const serverInfo = `<query xmlns="http://jabber.org/protocol/disco#info">` +
		`<identity category="server" type="im" name="Hearth"/>` +
		`<feature var="http://jabber.org/protocol/disco#info"/>` +
		`<feature var="http://jabber.org/protocol/disco#items"/>` +
		`<feature var="jabber:iq:version"/>` +
		`<feature var="urn:xmpp:ping"/>` +
		`<x xmlns="jabber:x:data" type="result">` +
		`<field var="FORM_TYPE" type="hidden"><value>http://jabber.org/network/serverinfo</value></field>` +
		`<field var="abuse-addresses"><value>mailto:abuse@example.org</value></field>` +
		`<field var="admin-addresses"><value>xmpp:admin@example.org</value><value>mailto:admin@example.org</value></field>` +
		`</x></query>`
	const accountInfo = `<query xmlns="http://jabber.org/protocol/disco#info">` +
		`<identity category="account" type="registered"/>` +
		`<feature var="http://jabber.org/protocol/disco#info"/>` +
		`<feature var="http://jabber.org/protocol/disco#items"/>` +
		`<feature var="http://jabber.org/protocol/pubsub#publish"/>` +
		`</query>`
	const resources = `<query xmlns="http://jabber.org/protocol/disco#items">` +
		`<item jid="alice@example.org/laptop"/><item jid="alice@example.org/phone"/></query>`
	const noItems = `<query xmlns="http://jabber.org/protocol/disco#items"/>`
	tests := []struct {
		name string
		m    *Module
		in   string
		want string // result payload, or
		cond string // error condition
	}{
		{"server info", m, info("bob@example.org/b", modtest.Domain, ""), serverInfo, ""},
		{"server info, remote", m, info("remote.net", modtest.Domain, ""), serverInfo, ""},
		{"server info without contacts", plain, info("bob@example.org/b", modtest.Domain, ""),
			`<query xmlns="http://jabber.org/protocol/disco#info"><identity category="server" type="im" name="Hearth"/>` +
				`<feature var="http://jabber.org/protocol/disco#info"/><feature var="http://jabber.org/protocol/disco#items"/></query>`, ""},
		{"server info node", m, info("bob@example.org/b", modtest.Domain, "http://jabber.org/protocol/commands"), "", stanza.ItemNotFound},
		{"server items", m, items("bob@example.org/b", modtest.Domain, ""),
			`<query xmlns="http://jabber.org/protocol/disco#items"><item jid="upload.example.org" name="Files"/><item jid="example.org" node="n"/></query>`, ""},
		{"server items, none", plain, items("bob@example.org/b", modtest.Domain, ""), noItems, ""},
		{"server items node", m, items("bob@example.org/b", modtest.Domain, "n"), "", stanza.ItemNotFound},
		{"account info, self", m, info("alice@example.org/phone", "alice@example.org", ""), accountInfo, ""},
		{"account info, subscriber", m, info("carol@example.org/c", "alice@example.org", ""), accountInfo, ""},
		{"account info, remote subscriber", m, info("romeo@remote.net/r", "alice@example.org", ""), accountInfo, ""},
		{"account info, subscription to only", m, info("bob@example.org/b", "alice@example.org", ""), "", stanza.ServiceUnavailable},
		{"account info, stranger", m, info("mallory@evil.net/x", "alice@example.org", ""), "", stanza.ServiceUnavailable},
		{"account info, no such account", m, info("alice@example.org/phone", "nobody@example.org", ""), "", stanza.ServiceUnavailable},
		{"account info node", m, info("carol@example.org/c", "alice@example.org", "x"), "", stanza.ItemNotFound},
		{"account info node, stranger", m, info("mallory@evil.net/x", "alice@example.org", "x"), "", stanza.ServiceUnavailable},
		{"account info node, no such account", m, info("mallory@evil.net/x", "nobody@example.org", "x"), "", stanza.ServiceUnavailable},
		{"account items, self", m, items("alice@example.org/phone", "alice@example.org", ""), resources, ""},
		{"account items, subscriber", m, items("carol@example.org/c", "alice@example.org", ""), resources, ""},
		{"account items, stranger", m, items("mallory@evil.net/x", "alice@example.org", ""), noItems, ""},
		{"account items, no such account", m, items("mallory@evil.net/x", "nobody@example.org", ""), noItems, ""},
		{"account items, nobody online", m, items("bob@example.org/b", "bob@example.org", ""), noItems, ""},
		{"account items node", m, items("carol@example.org/c", "alice@example.org", "x"), "", stanza.ItemNotFound},
		{"account items node, stranger", m, items("mallory@evil.net/x", "alice@example.org", "x"), noItems, ""},
		{"set", m, strings.Replace(info("bob@example.org/b", modtest.Domain, ""), "'get'", "'set'", 1), "", stanza.NotAllowed},
		{"unknown element", m, `<iq type='get' id='d1' from='bob@example.org/b' to='example.org'><info xmlns='http://jabber.org/protocol/disco#info'/></iq>`, "", stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, routers[tt.m], tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestContacts(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t)
	for k, v := range map[string]string{
		"contact.admin":    "xmpp:admin@example.org",
		"contact.abuse":    "",
		"contact.support":  "https://example.org/help\tmailto:help@example.org,,xmpp:help@example.org",
		"contact.security": "mailto:security@example.org",
		"contact.feedback": "https://example.org/feedback",
		"contact.sales":    "xmpp:sales@example.org",
		"contact.status":   "https://status.example.org", // not a XEP-0157 field
		"domain":           "example.org",
	} {
		if err := db.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	got := SettingsContacts{DB: db}.Contacts(ctx)
	want := map[string][]string{
		"admin-addresses":    {"xmpp:admin@example.org"},
		"support-addresses":  {"https://example.org/help", "mailto:help@example.org", "xmpp:help@example.org"},
		"security-addresses": {"mailto:security@example.org"},
		"feedback-addresses": {"https://example.org/feedback"},
		"sales-addresses":    {"xmpp:sales@example.org"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for k, v := range want {
		if strings.Join(got[k], " ") != strings.Join(v, " ") {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFeatures(t *testing.T) {
	got := New(Deps{}).Features().Server
	if len(got) != 2 || got[0] != stanza.NSDiscoInfo || got[1] != stanza.NSDiscoItems {
		t.Fatalf("features = %v", got)
	}
}

// testItems are the server's items in TestDisco.
type testItems struct{}

func (testItems) Items(context.Context, jid.JID) []Item {
	return []Item{{JID: jid.MustParse("upload.example.org"), Name: "Files"}, {JID: jid.MustParse("example.org"), Node: "n"}}
}

// TestFeaturesOn: a feature whose On changes is claimed as it says now,
// whether it was on at start (and goes off) or off (and comes on, as
// calls do once the TURN server runs).
func TestFeaturesOn(t *testing.T) {
	var mamOn, callsOn atomic.Bool
	mamOn.Store(true)
	r := modtest.Router()
	m := New(Deps{Router: r, Features: []router.Features{
		{Server: []string{"urn:xmpp:mam:2"}, On: mamOn.Load},
		{Server: []string{"urn:xmpp:extdisco:2"}, On: callsOn.Load},
	}})
	m.Register(r.Mux())
	has := func(feature string) bool {
		res, e := modtest.IQ(t, r, `<iq type='get' id='d1' from='alice@example.org/a' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		if e != nil {
			t.Fatal(e)
		}
		for _, f := range res.Elements() {
			if f.Attr("var") == feature {
				return true
			}
		}
		return false
	}
	check := func(when string, mam, calls bool) {
		t.Helper()
		if has("urn:xmpp:mam:2") != mam || has("urn:xmpp:extdisco:2") != calls {
			t.Errorf("%s: mam %v, calls %v; want %v, %v", when, has("urn:xmpp:mam:2"), has("urn:xmpp:extdisco:2"), mam, calls)
		}
	}
	check("at start", true, false)
	callsOn.Store(true)
	check("calls on", true, true)
	mamOn.Store(false)
	check("mam off", false, true)
	callsOn.Store(false)
	mamOn.Store(true)
	check("as at start", true, false)
}
