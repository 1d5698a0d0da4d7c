package muc

import (
	"testing"

	"hearth/server/internal/stream"
)

// FuzzParseForm: any element gives a form or nil, never a panic, and a
// form's fields are what its <field var/> children say.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		`<x xmlns='jabber:x:data' type='submit'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_roomname'><value>Tea</value></field><field var='muc#roomconfig_roomowners'><value>a@b</value><value>c@d</value></field></x>`,
		`<x xmlns='jabber:x:data'><field><value>no var</value></field><field var='x'/></x>`,
		`<x xmlns='other'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>-1</value></field><field var='muc#roomconfig_whois'><value>everyone</value></field></x>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		form := ParseForm(el)
		if form == nil {
			return
		}
		for v := range form.Fields {
			if v == "" {
				t.Fatalf("a field without var: %s", s)
			}
			form.Value(v)
			form.Bool(v)
		}
		// Applying any form to a room never panics and keeps an owner.
		m := New(Deps{Domain: "example.org"})
		r := newRoom(roomJID, []byte("k"))
		r.affs["a@example.org"] = affRec{aff: affOwner}
		if _, affs, e := m.applyForm(r, form); e == nil && r.owners() == 0 {
			t.Fatalf("no owner left: %v", affs)
		}
	})
}

// FuzzParseHistory: any <history/> gives limits of -1 (not given) or more.
func FuzzParseHistory(f *testing.F) {
	for _, s := range []string{
		`<history xmlns='http://jabber.org/protocol/muc' maxstanzas='20'/>`,
		`<history xmlns='http://jabber.org/protocol/muc' maxchars='0' seconds='180'/>`,
		`<history xmlns='http://jabber.org/protocol/muc' since='1970-01-01T00:00:00Z'/>`,
		`<history xmlns='http://jabber.org/protocol/muc' maxstanzas='-5' since='yesterday'/>`,
		`<history xmlns='http://jabber.org/protocol/muc' maxstanzas='99999999999999999999'/>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		h := ParseHistory(el)
		if h.MaxChars < -1 || h.MaxStanzas < -1 || h.Seconds < -1 {
			t.Fatalf("negative limit from %s: %+v", s, h)
		}
	})
}

// FuzzParseAdminItems: any muc#admin query gives items that each name
// exactly one known affiliation or role, or an error.
func FuzzParseAdminItems(f *testing.F) {
	for _, s := range []string{
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='a@b'><reason>spam</reason></item></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='none'/></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item role='moderator'/></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='king' jid='@@'/></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'/>`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, set bool) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		items, e := ParseAdminItems(el, set)
		if e != nil {
			return
		}
		for _, it := range items {
			if (it.Affiliation == "") == (it.Role == "") {
				t.Fatalf("item with both or neither: %+v", it)
			}
			if it.Affiliation != "" && !validAff(it.Affiliation) || it.Role != "" && !validRole(it.Role) {
				t.Fatalf("unknown affiliation or role: %+v", it)
			}
			if set && it.Role != "" && it.Nick == "" {
				t.Fatalf("role without nick in a set: %+v", it)
			}
		}
	})
}

// FuzzNick: a nick the service takes is PRECIS-stable and within the
// length limit.
func FuzzNick(f *testing.F) {
	for _, s := range []string{"Alice", "Bob ", "ℌ𝔢𝔩𝔩𝔬", "", " ", "a\u0000b", "Ǆ"} {
		f.Add(s)
	}
	m := New(Deps{Domain: "example.org"})
	f.Fuzz(func(t *testing.T, s string) {
		n, k, e := m.nick(s)
		if e != nil {
			return
		}
		n2, k2, e2 := m.nick(n)
		if e2 != nil || n2 != n || k2 != k {
			t.Fatalf("nick %q → %q (%q) is not stable: %q %q %v", s, n, k, n2, k2, e2)
		}
	})
}
