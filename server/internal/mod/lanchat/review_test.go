package lanchat

import (
	"context"
	"encoding/xml"
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

type fakeRemote struct {
	mu  sync.Mutex
	got []string
}

func (f *fakeRemote) Route(_ context.Context, st *stanza.Stanza) *stanza.Error {
	f.mu.Lock()
	f.got = append(f.got, st.El.String())
	f.mu.Unlock()
	return nil
}

// TestNoAnswerToOtherServers: what another server's users send to the LAN
// host or a peer on it is dropped, never answered: nothing from
// lan.<domain> is handed to federation.
func TestNoAnswerToOtherServers(t *testing.T) {
	r := modtest.Router()
	m := New(Deps{DB: modtest.DB(t, "alice"), Router: r, Domain: modtest.Domain, Host: "box", Enabled: true})
	m.Register(r.Mux())
	fr := &fakeRemote{}
	r.Mux().Remote(fr)
	svc := ll.New(ll.Config{Directory: directory{m}})
	t.Cleanup(svc.Close)
	m.mu.Lock()
	m.rt = &runtime{svc: svc, port: 5298, senders: map[string]*sender{}}
	m.mu.Unlock()
	m.browsed(bob(discovery.Added, "txtvers=1"))
	r.Route(t.Context(), modtest.Stanza(t, `<iq from='eve@elsewhere.net/x' to='lan.example.org' type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`))
	r.Route(t.Context(), modtest.Stanza(t, `<message from='eve@elsewhere.net/x' to='bob%familydevice@lan.example.org' id='m'><body>hi</body></message>`))
	for _, g := range fr.got {
		t.Logf("sent to another server: %s", g)
	}
	if len(fr.got) != 0 {
		t.Errorf("%d stanzas from lan.example.org handed to federation", len(fr.got))
	}
}

// TestNoSharedAddress: two instance names mDNS tells apart (it folds
// ASCII case only) never get the same address, so one peer cannot take
// over the other's; the first keeps its address when the other leaves.
func TestNoSharedAddress(t *testing.T) {
	m, _, _, _ := newTest(t)
	real := bob(discovery.Added, "txtvers=1")
	evil := bob(discovery.Added, "txtvers=1")
	evil.Entry.Instance = "ｂob@familydevice" // fullwidth b
	evil.Entry.Host = "evil.local."
	evil.Entry.Addrs = []net.IPAddr{{IP: net.ParseIP("10.0.0.66")}}
	a, _ := peerLocal(real.Entry.Instance, m.lan)
	b, _ := peerLocal(evil.Entry.Instance, m.lan)
	t.Logf("%q -> %q, %q -> %q", real.Entry.Instance, a, evil.Entry.Instance, b)
	m.browsed(real)
	m.browsed(evil)
	if p := m.byLocal[a]; p == nil || p.instance != real.Entry.Instance {
		t.Errorf("bob%%familydevice@lan now stands for %q", p.instance)
	}
	m.browsed(discovery.BrowseEvent{Kind: discovery.Removed, Entry: evil.Entry})
	if m.byLocal[a] == nil {
		t.Errorf("the real bob is unreachable after the impostor left (still in peers: %v)", m.peers[nameKey(real.Entry.Instance)] != nil)
	}
	for _, s := range []string{"Émile@x", "émile@x", "Σ@x", "σ@x", "ς@x", "ﬁ@x", "fi@x", "e\u0301@x", "é@x"} {
		l, ok := peerLocal(s, m.lan)
		t.Logf("%q (key %q) -> %q %v", s, nameKey(s), l, ok)
	}
}

// TestNoPresenceForAccountsNotTakingPart: an account that does not take
// part learns nothing of the peers' presence, by a probe or a
// subscription.
func TestNoPresenceForAccountsNotTakingPart(t *testing.T) {
	m, r, _, rec := newTest(t)
	modtest.AddUser(t, m.db, "carol")
	m.browsed(bob(discovery.Added, "txtvers=1", "status=away", "msg=at home, door code 1234"))
	r.Route(t.Context(), modtest.Stanza(t, `<presence from='carol@example.org' to='bob%familydevice@lan.example.org' type='probe'/>`))
	r.Route(t.Context(), modtest.Stanza(t, `<presence from='carol@example.org' to='bob%familydevice@lan.example.org' type='subscribe'/>`))
	if got := rec.take(); len(got) != 0 {
		t.Errorf("carol (not taking part) got %q", got)
	}
}

// TestControlCharactersInTXT: control characters in a peer's TXT record
// are left out of the presence sent to clients, which stays well-formed
// XML (one such character would end the client's stream).
func TestControlCharactersInTXT(t *testing.T) {
	m, _, alice, _ := newTest(t)
	m.SetOptIn("alice", true)
	s := m.r.Session(jid.MustParse("alice@example.org/a"))
	s.SetPresence(stanza.New("presence", stanza.NSClient), 0)
	m.PresenceChanged(s)
	alice.Take()
	m.browsed(bob(discovery.Updated, "txtvers=1", "msg=a\x00b\x1bc", "nick=\x01"))
	for _, g := range alice.Take() {
		d := xml.NewDecoder(strings.NewReader(g))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("presence to alice is not XML: %v: %q", err, g)
				}
				break
			}
		}
	}
}

var _ = router.ToAccount
