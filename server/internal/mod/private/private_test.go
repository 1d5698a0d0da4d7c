package private

import (
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

func TestPrivate(t *testing.T) {
	r := modtest.Registered(New(Deps{DB: modtest.DB(t, "alice", "bob")}))
	own := func(typ, children string) string {
		return `<iq type='` + typ + `' id='p1' from='alice@example.org/a' to='alice@example.org'><query xmlns='jabber:iq:private'>` + children + `</query></iq>`
	}
	const prefs = `<exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>`
	const bookmarks = `<storage xmlns='storage:bookmarks'><conference jid='council@conference.example.org' autojoin='true' name='Council'><nick>alice</nick></conference></storage>`
	// The steps run in order: later ones see what earlier ones stored.
	steps := []struct {
		name, in string
		want     string // result payload ("" for an empty result), or
		cond     string // error condition
	}{
		{"nothing stored", own("get", `<exodus xmlns='exodus:prefs'/>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"/></query>`, ""},
		{"store", own("set", prefs), "", ""},
		{"fetch", own("get", `<exodus xmlns='exodus:prefs'/>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus></query>`, ""},
		{"fetch ignores content", own("get", `<exodus xmlns='exodus:prefs'><junk/></exodus>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"><defaultnick>Hamlet</defaultnick></exodus></query>`, ""},
		{"same name, other namespace", own("get", `<exodus xmlns='exodus:other'/>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:other"/></query>`, ""},
		{"store two kinds", own("set", bookmarks+`<exodus xmlns='exodus:prefs'><defaultnick>Ophelia</defaultnick></exodus>`), "", ""},
		{"bookmarks", own("get", `<storage xmlns='storage:bookmarks'/>`),
			`<query xmlns="jabber:iq:private"><storage xmlns="storage:bookmarks"><conference jid="council@conference.example.org" autojoin="true" name="Council"><nick>alice</nick></conference></storage></query>`, ""},
		{"replaced", own("get", `<exodus xmlns='exodus:prefs'/>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"><defaultnick>Ophelia</defaultnick></exodus></query>`, ""},
		{"store several alike", own("set", `<note xmlns='urn:example:notes'>one</note><note xmlns='urn:example:notes'>two</note>`), "", ""},
		{"several alike", own("get", `<note xmlns='urn:example:notes'/>`),
			`<query xmlns="jabber:iq:private"><note xmlns="urn:example:notes">one</note><note xmlns="urn:example:notes">two</note></query>`, ""},
		{"other resource", `<iq type='get' id='p1' from='alice@example.org/b' to='alice@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`,
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"><defaultnick>Ophelia</defaultnick></exodus></query>`, ""},
		{"bob's are his own", `<iq type='get' id='p1' from='bob@example.org/b' to='bob@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`,
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"/></query>`, ""},
		{"get another's", `<iq type='get' id='p1' from='bob@example.org/b' to='alice@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`, "", stanza.Forbidden},
		{"set another's", `<iq type='set' id='p1' from='bob@example.org/b' to='alice@example.org'>` + `<query xmlns='jabber:iq:private'>` + prefs + `</query></iq>`, "", stanza.Forbidden},
		{"remote", `<iq type='get' id='p1' from='alice@remote.net/r' to='alice@example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`, "", stanza.Forbidden},
		{"server", `<iq type='get' id='p1' from='alice@example.org/a' to='example.org'><query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query></iq>`, "", stanza.ServiceUnavailable},
		{"empty query", own("get", ``), "", stanza.NotAcceptable},
		{"empty set", own("set", ``), "", stanza.NotAcceptable},
		{"jabber: namespace", own("set", `<query xmlns='jabber:iq:roster'/>`), "", stanza.NotAcceptable},
		{"inherited namespace", own("set", `<foo>bar</foo>`), "", stanza.NotAcceptable},
		{"jabber.org namespace", own("get", `<x xmlns='http://jabber.org/protocol/muc'/>`), "", stanza.NotAcceptable},
		{"vcard-temp", own("set", `<vCard xmlns='vcard-temp'><FN>Hamlet</FN></vCard>`), "", stanza.NotAcceptable},
		{"reserved among others", own("set", prefs+`<x xmlns='jabber:x:data'/>`), "", stanza.NotAcceptable},
		{"nothing stored by the refused set", own("get", `<exodus xmlns='exodus:prefs'/>`),
			`<query xmlns="jabber:iq:private"><exodus xmlns="exodus:prefs"><defaultnick>Ophelia</defaultnick></exodus></query>`, ""},
		{"get two", own("get", `<exodus xmlns='exodus:prefs'/><storage xmlns='storage:bookmarks'/>`), "", stanza.BadRequest},
		{"unknown element", `<iq type='get' id='p1' from='alice@example.org/a' to='alice@example.org'><storage xmlns='jabber:iq:private'/></iq>`, "", stanza.ServiceUnavailable},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, r, tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "jabber:iq:private" {
		t.Fatalf("features = %v", got)
	}
}
