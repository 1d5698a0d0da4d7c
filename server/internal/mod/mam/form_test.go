package mam

import (
	"slices"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

func parse(t testing.TB, s string) *stanza.Element {
	t.Helper()
	el, err := stream.Unmarshal([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return el
}

func TestParseQuery(t *testing.T) {
	el := parse(t, `<query xmlns='urn:xmpp:mam:2' queryid='f27'><x xmlns='jabber:x:data' type='submit'>
<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>
<field var='with'><value>Juliet@Capulet.lit/balcony</value></field>
<field var='start'><value>2010-06-07T00:00:00Z</value></field>
<field var='end'><value>2010-07-07T13:23:54.5+02:00</value></field>
<field var='after-id'><value>a</value></field><field var='before-id'><value>b</value></field>
<field var='ids'><value>x</value><value>y</value></field></x>
<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set><flip-page/></query>`)
	r, e := parseQuery(el)
	if e != nil {
		t.Fatal(e)
	}
	end := time.Date(2010, 7, 7, 11, 23, 54, 5e8, time.UTC)
	if r.queryID != "f27" || r.with.String() != "juliet@capulet.lit/balcony" || !r.start.Equal(time.Date(2010, 6, 7, 0, 0, 0, 0, time.UTC)) ||
		!r.end.Equal(end) || r.afterID != "a" || r.beforeID != "b" || !slices.Equal(r.ids, []string{"x", "y"}) ||
		r.max != 10 || !r.last || r.before != "" || !r.flip {
		t.Errorf("parsed %+v", r)
	}
	for _, bad := range []string{
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value>a@b</value><value>c@d</value></field></x></query>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='form'/></query>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='end'><value>2010-07-07</value></field></x></query>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='with'/><field var='with'/></x></query>`,
		`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></query>`,
		`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><after>a</after><before/></set></query>`,
		`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><after/></set></query>`,
		`<query xmlns='urn:xmpp:mam:2'><other xmlns='urn:x'/></query>`,
	} {
		if _, e := parseQuery(parse(t, bad)); e == nil {
			t.Errorf("taken: %s", bad)
		}
	}
}

func TestPublicID(t *testing.T) {
	now := time.Now()
	id := idAt(now) + 5
	s := publicID(id, -42)
	got, tag, ok := parseID(s)
	if !ok || got != id || tag != -42 || len(s) != 22 {
		t.Errorf("%s: %d %d %v", s, got, tag, ok)
	}
	if d := now.Sub(timeOf(id)); d < 0 || d >= time.Millisecond {
		t.Errorf("time of id off by %s", d)
	}
	for _, bad := range []string{"", "short", s + "A", "AAAAAAAAAAAAAAAAAAAAAA", "!!!!!!!!!!!!!!!!!!!!!!"} {
		if _, _, ok := parseID(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

// FuzzParseQuery: any query element parses or is refused with an error,
// never a panic; what parses is within the bounds.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		`<query xmlns='urn:xmpp:mam:2' queryid='q'/>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='with'><value>a@b/c</value></field><field var='start'><value>2020-01-01T00:00:00Z</value></field></x></query>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='ids'><value>a</value><value/></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>5</max><after>x</after></set></query>`,
		`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><before>x</before><index>1</index></set><flip-page/></query>`,
		`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data'><field var='end'><value>not a date</value></field></x></query>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		r, e := parseQuery(el)
		if e != nil {
			return
		}
		if len(r.ids) > maxIDs || (r.after != "" && r.last) {
			t.Errorf("parsed out of bounds: %+v", r)
		}
		for _, id := range append(slices.Clone(r.ids), r.after, r.before, r.afterID, r.beforeID) {
			parseID(id)
		}
	})
}

// FuzzParsePrefs: any prefs element parses or is refused.
func FuzzParsePrefs(f *testing.F) {
	for _, s := range []string{
		`<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>a@b</jid></always><never><jid>c@d/e</jid><jid>c@d/e</jid></never></prefs>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='never'/>`,
		`<prefs xmlns='urn:xmpp:mam:2'/>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>@@</jid></always></prefs>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		p, e := parsePrefs(el)
		if e != nil {
			return
		}
		if p.dflt != "always" && p.dflt != "roster" && p.dflt != "never" || len(p.always) > maxPrefsJIDs || len(p.never) > maxPrefsJIDs {
			t.Errorf("parsed %+v", p)
		}
	})
}
