package muc

import (
	"context"
	"strings"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
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

// FuzzStanza: whatever an occupant sends to a room, its occupants or the
// service, the service answers without a panic and stays usable.
func FuzzStanza(f *testing.F) {
	for _, s := range []string{
		`<message to='tea@conference.example.org' type='groupchat'><body>hi</body></message>`,
		`<message to='tea@conference.example.org/Bob' type='chat'><body>pm</body></message>`,
		`<message to='tea@conference.example.org'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='x@y'/><decline to='@'/></x></message>`,
		`<message to='tea@conference.example.org'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field><field var='muc#role'><value>participant</value></field><field var='muc#request_allow'><value>1</value></field><field var='muc#roomnick'><value>Bob</value></field></x></message>`,
		`<presence to='tea@conference.example.org/Other'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='3' since='x'/></x></presence>`,
		`<presence to='tea@conference.example.org/Alice' type='unavailable'/>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_roomowners'/></x></query></iq>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='x@y'><reason>r</reason></destroy></query></iq>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Bob' role='none'/><item jid='b@example.org' affiliation='outcast'/></query></iq>`,
		`<iq type='get' to='tea@conference.example.org' id='1'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'><field var='muc#register_roomnick'><value>B</value></field></x></query></iq>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!</BINVAL></PHOTO></vCard></iq>`,
		`<iq type='get' to='tea@conference.example.org/Bob' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq type='set' to='tea@conference.example.org' id='1'><moderate xmlns='urn:xmpp:message-moderate:1' id='sid1'><retract xmlns='urn:xmpp:message-retract:1'/></moderate></iq>`,
		`<iq type='get' to='conference.example.org' id='1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
	} {
		f.Add(s)
	}
	db := modtest.DB(f, "alice", "bob")
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		st, e := stanza.Parse(el)
		if e != nil || st.To.Domain != "conference.example.org" {
			return
		}
		env := newEnvTB(t, db, &fakeArchive{}, "alice", "bob")
		env.create("alice", "tea", "Alice", "muc#roomconfig_enablearchiving", "1")
		env.join("bob", "tea", "Bob")
		env.r.Route(context.Background(), st.WithAddrs(jid.MustParse("alice@example.org/pc"), st.To))
		// Still usable: the service answers a disco query.
		env.send("bob", `<iq type='get' id='after' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		if !strings.Contains(env.take("bob"), `id="after"`) {
			t.Fatalf("no answer after %s", s)
		}
		for _, r := range env.m.allRooms() {
			r.mu.Lock()
			env.m.forget(r) // the next input starts afresh
			r.mu.Unlock()
		}
		_ = db.DeleteMUCRoom(context.Background(), "tea@conference.example.org")
	})
}
