package lanchat

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"hearth/discovery"
	"hearth/server/internal/jid"
	ll "hearth/server/internal/linklocal"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// These tests never start the runtime (Run): nothing goes on the
// network. TestLANChat (package main) runs the whole bridge in network
// namespaces with avahi, libpurple and slixmpp.

func TestPeerLocal(t *testing.T) {
	tests := []struct{ instance, want string }{
		{"bob@familydevice", "bob%familydevice"},
		{"Bob@Family-Device", "bob%family-device"},
		{"bob smith@Bob's MacBook", `bob\20smith%bob\27s\20macbook`},
		{"50%@host", `50\25%host`},
		{"a@b@c", `a\40b%c`},
		{"noat", "noat"},
		{`x\y@z`, `x\5cy%z`},
		{"élodie@portable", "élodie%portable"},
		{"ｂob@familydevice", `\ef\bd\82ob%familydevice`},   // fullwidth b: never bob's
		{"Élodie@portable", `\c3\89lodie%portable`},        // É is not é for mDNS
		{"e\u0301lodie@portable", `e\cc\81lodie%portable`}, // nor é written in two
		{"\x01@host", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, ok := peerLocal(tt.instance, "lan.example.org")
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("peerLocal(%q) = %q, %v; want %q", tt.instance, got, ok, tt.want)
		}
	}
}

// FuzzPeerLocal: any instance name a peer announces becomes a valid
// localpart or none, never a panic; the address is stable when parsed
// again, and the one unescaped '%' stands for the name's last '@'.
func FuzzPeerLocal(f *testing.F) {
	for _, s := range []string{"bob@familydevice", "bob smith@Bob's MacBook", "50%@host", "a@b@c", "noat", `\5c@\`, "é@ﬁ", "\x00", "@", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, instance string) {
		local, ok := peerLocal(instance, "lan.example.org")
		if !ok {
			return
		}
		j, err := jid.Parse(local + "@lan.example.org")
		if err != nil || j.Local != local {
			t.Fatalf("peerLocal(%q) = %q, which parses as %q, %v", instance, local, j.Local, err)
		}
		if want := strings.Contains(instance, "@"); strings.Contains(local, "%") != want || strings.Count(local, "%") > 1 {
			t.Fatalf("peerLocal(%q) = %q: the separator is wrong", instance, local)
		}
	})
}

// FuzzPeerLocalDistinct: two instance names mDNS tells apart never get
// the same address.
func FuzzPeerLocalDistinct(f *testing.F) {
	for _, s := range [][2]string{{"bob@x", "ｂob@x"}, {"Émile@x", "émile@x"}, {"Σ@x", "σ@x"}, {"ﬁ@x", "fi@x"},
		{"e\u0301@x", "é@x"}, {`a\5c@x`, `a\@x`}, {"é@x", `\c3\a9@x`}, {"Bob@x", "bob@X"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		la, okA := peerLocal(a, "lan.example.org")
		lb, okB := peerLocal(b, "lan.example.org")
		if okA && okB && la == lb && nameKey(a) != nameKey(b) {
			t.Fatalf("%q and %q are both %q", a, b, la)
		}
	})
}

// recorder takes presence routed to accounts (the presence module's
// place in the server).
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) handle(_ context.Context, st *stanza.Stanza) *stanza.Error {
	r.mu.Lock()
	r.got = append(r.got, st.El.String())
	r.mu.Unlock()
	return nil
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func newTest(t *testing.T) (*Module, *router.Router, *modtest.Conn, *recorder) {
	t.Helper()
	r := modtest.Router()
	m := New(Deps{DB: modtest.DB(t, "alice"), Router: r, Domain: modtest.Domain, Host: "box", Enabled: true})
	m.Register(r.Mux())
	rec := &recorder{}
	r.Mux().Handle(router.Pattern{Kind: stanza.KindPresence, Target: router.ToAccount}, rec.handle)
	_, conn := modtest.Bind(t, r, "alice@example.org/a")
	// A runtime whose stream service never listens or dials.
	svc := ll.New(ll.Config{Directory: directory{m}})
	t.Cleanup(svc.Close)
	m.mu.Lock()
	m.rt = &runtime{svc: svc, port: 5298, senders: map[string]*sender{}}
	m.mu.Unlock()
	return m, r, conn, rec
}

// stopped takes the runtime away, as when the bridge stops.
func stopped(m *Module) {
	m.mu.Lock()
	m.rt = nil
	m.mu.Unlock()
}

// bob is a peer the browser found.
func bob(kind discovery.EventKind, txt ...string) discovery.BrowseEvent {
	return discovery.BrowseEvent{Kind: kind, Entry: discovery.Entry{Instance: "bob@familydevice", Service: discovery.ServicePresence,
		Host: "familydevice.local.", Port: 5298, TXT: txt, Addrs: []net.IPAddr{{IP: net.ParseIP("10.0.0.2")}}}}
}

// TestHost: what accounts and others send to lan.<domain>: the right
// stanza error for each, the host's
// service discovery, subscriptions approved at once and probes answered
// with the peer's presence from its TXT record.
func TestHost(t *testing.T) {
	m, r, conn, rec := newTest(t)
	m.browsed(bob(discovery.Added, "txtvers=1", "1st=Bob", "last=Device", "status=away", "msg=on the sofa", "port.p2pj=5299"))
	// Our own instances, heard back, are not peers.
	m.browsed(discovery.BrowseEvent{Kind: discovery.Added, Entry: discovery.Entry{Instance: "alice@box", Host: "box.local.", Port: 5298}})

	route := func(xml string) router.Outcome {
		t.Helper()
		return r.Route(t.Context(), modtest.Stanza(t, xml))
	}
	refused := []struct {
		name, xml, cond string
	}{
		{"IQ to a peer", `<iq from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='get' id='v'><query xmlns='jabber:iq:version'/></iq>`, stanza.ServiceUnavailable},
		{"other IQ to the host", `<iq from='alice@example.org/a' to='lan.example.org' type='get' id='t'><time xmlns='urn:xmpp:time'/></iq>`, stanza.ServiceUnavailable},
	}
	for _, tt := range refused {
		if out := route(tt.xml); out.Error == nil || out.Error.Condition != tt.cond {
			t.Errorf("%s: outcome %+v, want %s", tt.name, out, tt.cond)
		}
	}
	conn.Take() // the bounces
	// From another server: dropped, never answered (the host is not
	// federated; TestNoAnswerToOtherServers).
	if out := route(`<message from='eve@elsewhere.net/x' to='bob%familydevice@lan.example.org'><body>hi</body></message>`); out.Error != nil {
		t.Errorf("from another server: outcome %+v, want dropped", out)
	}

	route(`<iq from='alice@example.org/a' to='lan.example.org' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	got := conn.Take()
	if len(got) != 1 || !strings.Contains(got[0], `type="result"`) || !strings.Contains(got[0], `category="gateway"`) {
		t.Errorf("disco#info of the host: %q", got)
	}
	route(`<iq from='alice@example.org/a' to='lan.example.org' type='get' id='i'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	if got := conn.Take(); len(got) != 1 || got[0] != `<iq xmlns="jabber:client" type="result" id="i" to="alice@example.org/a" from="lan.example.org"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>` {
		t.Errorf("disco#items of the host: %q", got)
	}

	// Presence to peers is answered for accounts that take part
	// (TestNoPresenceForAccountsNotTakingPart).
	m.SetOptIn("alice", true)
	route(`<presence from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='subscribe'/>`)
	got = rec.take()
	want := []string{
		`<presence xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org" type="subscribed"/>`,
		`<presence xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org"><show>away</show><status>on the sofa</status><nick xmlns="http://jabber.org/protocol/nick">Bob Device</nick></presence>`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("subscribe: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	m.browsed(bob(discovery.Removed))
	route(`<presence from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='probe'/>`)
	if got := rec.take(); len(got) != 1 || !strings.Contains(got[0], `type="unavailable"`) {
		t.Errorf("probe after the peer left: %q", got)
	}
	// The bridge stopped: a request is declined, a probe answered
	// unavailable.
	stopped(m)
	route(`<presence from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='subscribe'/>`)
	if got := strings.Join(rec.take(), "\n"); got != `<presence xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org" type="unsubscribed"/>`+"\n"+
		`<presence xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org" type="unavailable"/>` {
		t.Errorf("subscribe while the bridge is stopped: %s", got)
	}
	m.SetOptIn("alice", false)

	stopped(m)
	if out := route(`<message from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='chat'><body>hi</body></message>`); out.Error == nil || out.Error.Condition != stanza.ServiceUnavailable {
		t.Errorf("message while not running: %+v", out)
	}
	st := m.Status()
	if st.Running || st.Host != "lan.example.org" || len(st.Peers) != 0 || st.Reason != "no account takes part" {
		t.Errorf("status: %+v", st)
	}
}

// TestPeers: the admin's view of the peers, and the address the stream
// layer dials (port.p2pj over the SRV port).
func TestPeers(t *testing.T) {
	m, _, _, _ := newTest(t)
	m.browsed(bob(discovery.Added, "txtvers=1", "status=dnd", "port.p2pj=5299"))
	addrs, port, ok := (directory{m}).Peer("Bob@FamilyDevice")
	if !ok || port != 5299 || len(addrs) != 1 || addrs[0].String() != "10.0.0.2" {
		t.Errorf("Peer = %v, %d, %v", addrs, port, ok)
	}
	if (directory{m}).Local("alice@box") {
		t.Error("alice@box counts as ours before it is announced")
	}
	st := m.Status()
	if len(st.Peers) != 1 || st.Peers[0].JID != "bob%familydevice@lan.example.org" || st.Peers[0].Status != "dnd" || st.Peers[0].Port != 5299 {
		t.Errorf("peers: %+v", st.Peers)
	}
	// A name no address can stand for is left out.
	m.browsed(discovery.BrowseEvent{Kind: discovery.Added, Entry: discovery.Entry{Instance: "\x07@x", Host: "x.local.", Port: 1}})
	if n := len(m.Status().Peers); n != 1 {
		t.Errorf("%d peers after an unwritable name", n)
	}
	// Pidgin on this very machine: our host name, another port.
	m.browsed(discovery.BrowseEvent{Kind: discovery.Added, Entry: discovery.Entry{Instance: "carol@box", Host: "box.local.", Port: 5299,
		Addrs: []net.IPAddr{{IP: net.ParseIP("10.0.0.1")}}}})
	if n := len(m.Status().Peers); n != 2 {
		t.Errorf("%d peers after a Bonjour client on this machine, want 2", n)
	}
}

// TestPresenceToSessions: while the bridge runs, a session of an account
// that takes part gets every peer's presence when it becomes available,
// then each change, and unavailable when a peer leaves or the account
// opts out; other accounts get nothing.
func TestPresenceToSessions(t *testing.T) {
	m, r, alice, _ := newTest(t)
	modtest.AddUser(t, m.db, "carol")
	m.browsed(bob(discovery.Added, "txtvers=1", "status=avail"))

	aliceSess := r.Session(jid.MustParse("alice@example.org/a"))
	carolSess, carol := modtest.Bind(t, r, "carol@example.org/c")
	m.SetOptIn("alice", true)
	if got := alice.Take(); len(got) != 0 {
		t.Fatalf("before alice is available: %q", got)
	}
	for _, s := range []*router.Session{aliceSess, carolSess} {
		s.SetPresence(stanza.New("presence", stanza.NSClient), 0)
		m.PresenceChanged(s)
	}
	want := `<presence xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org/a"/>`
	if got := alice.Take(); len(got) != 1 || got[0] != want {
		t.Errorf("alice available: %q", got)
	}
	m.browsed(bob(discovery.Updated, "txtvers=1", "status=dnd", "msg=busy"))
	if got := alice.Take(); len(got) != 1 || !strings.Contains(got[0], "<show>dnd</show><status>busy</status>") {
		t.Errorf("bob busy: %q", got)
	}
	m.browsed(bob(discovery.Removed))
	if got := alice.Take(); len(got) != 1 || !strings.Contains(got[0], `type="unavailable"`) {
		t.Errorf("bob gone: %q", got)
	}
	m.browsed(bob(discovery.Added, "txtvers=1"))
	alice.Take()
	m.SetOptIn("alice", false)
	if got := alice.Take(); len(got) != 1 || !strings.Contains(got[0], `type="unavailable"`) {
		t.Errorf("alice opted out: %q", got)
	}
	if got := carol.Take(); len(got) != 0 {
		t.Errorf("carol, who does not take part, got %q", got)
	}
}

// TestSenderNotAnnounced: while the bridge runs, a message from an
// account that does not take part is not allowed, and one from an
// account still being announced is to be tried again.
func TestSenderNotAnnounced(t *testing.T) {
	m, r, _, _ := newTest(t)
	m.browsed(bob(discovery.Added, "txtvers=1"))
	const msg = `<message from='alice@example.org/a' to='bob%familydevice@lan.example.org' type='chat'><body>hi</body></message>`
	if out := r.Route(t.Context(), modtest.Stanza(t, msg)); out.Error == nil || out.Error.Condition != stanza.NotAllowed {
		t.Errorf("not taking part: %+v", out)
	}
	m.SetOptIn("alice", true)
	if out := r.Route(t.Context(), modtest.Stanza(t, msg)); out.Error == nil || out.Error.Condition != stanza.RecipientUnavailable || out.Error.Type != stanza.Wait {
		t.Errorf("being announced: %+v", out)
	}
}

// TestPeerMessage: a peer's message reaches the account from the peer's
// address, without a delay that claims to be this server's (only the
// server says when it stored a message); a peer's own delays stay.
func TestPeerMessage(t *testing.T) {
	m, _, _, _ := newTest(t)
	st := modtest.Stanza(t, `<message from='bob@familydevice' to='alice@box' type='chat' id='p1'><body>hi</body>`+
		`<delay xmlns='urn:xmpp:delay' from='example.org' stamp='2020-01-01T00:00:00Z'/>`+
		`<delay xmlns='urn:xmpp:delay' from='Example.ORG.' stamp='2020-01-01T00:00:00Z'/>`+
		`<delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00Z'/></message>`)
	before := st.El.String()
	got := m.peerMessage(st, jid.MustParse("bob%familydevice@lan.example.org"), jid.MustParse("alice@example.org")).El.String()
	want := `<message xmlns="jabber:client" from="bob%familydevice@lan.example.org" to="alice@example.org" type="chat" id="p1"><body>hi</body>` +
		`<delay xmlns="urn:xmpp:delay" stamp="2026-01-01T00:00:00Z"/></message>`
	if got != want {
		t.Errorf("routed\n%s\nwant\n%s", got, want)
	}
	if st.El.String() != before {
		t.Errorf("the peer's stanza changed: %s", st.El.String())
	}
}

// FuzzPeerPresenceXML: whatever a peer's TXT record holds, the presence
// made of it is well-formed XML.
func FuzzPeerPresenceXML(f *testing.F) {
	for _, s := range []string{"a\x00b", "\x1b[2J", "\uFFFE\uFFFF", "\xed\xa0\x80", "\xff", "ok", "<&>'\""} {
		f.Add(s, s)
	}
	m := New(Deps{Domain: modtest.Domain})
	f.Fuzz(func(t *testing.T, msg, nick string) {
		pres, _ := discovery.ParsePresence([]string{"txtvers=1", "msg=" + msg, "nick=" + nick, "1st=" + msg, "last=" + nick})
		p := &peer{instance: "bob@familydevice", local: "bob%familydevice", pres: xmlSafe(pres)}
		out := m.peerPresence(p, jid.MustParse("alice@example.org/a"), false).String()
		d := xml.NewDecoder(strings.NewReader(out))
		for {
			if _, err := d.Token(); err != nil {
				if err != io.EOF {
					t.Fatalf("not XML: %v: %q", err, out)
				}
				return
			}
		}
	})
}
