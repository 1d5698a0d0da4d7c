package blocking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

func newModule(db *storage.DB) (*Module, *router.Router) {
	return newModuleWith(db, nil)
}

func newModuleWith(db *storage.DB, p Presence) (*Module, *router.Router) {
	r := modtest.Router()
	m := New(Deps{DB: db, Router: r, Presence: p})
	m.Register(r.Mux())
	return m, r
}

// hookRecorder is a Presence that notes each call.
type hookRecorder struct{ calls []string }

func (h *hookRecorder) Blocked(_ context.Context, user string, js []jid.JID) {
	h.calls = append(h.calls, fmt.Sprint("block ", user, " ", js))
}

func (h *hookRecorder) Unblocked(_ context.Context, user string, js []jid.JID) {
	h.calls = append(h.calls, fmt.Sprint("unblock ", user, " ", js))
}

// own builds an IQ from alice's given resource to her bare JID.
func own(res, typ, payload string) string {
	return `<iq type='` + typ + `' id='b1' from='alice@example.org/` + res + `' to='alice@example.org'>` + payload + `</iq>`
}

func TestCommands(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	rec := &hookRecorder{}
	_, r := newModuleWith(db, rec)
	_, phone := modtest.Bind(t, r, "alice@example.org/phone")   // fetches the list
	_, laptop := modtest.Bind(t, r, "alice@example.org/laptop") // fetches the list
	_, tablet := modtest.Bind(t, r, "alice@example.org/tablet") // never does
	_, bob := modtest.Bind(t, r, "bob@example.org/b")

	const ns = `xmlns='urn:xmpp:blocking'`
	// The steps run in order: later ones see what earlier ones did.
	steps := []struct {
		name, in string
		want     string   // result payload ("" for an empty result), or
		cond     string   // error condition
		pushes   []string // payloads pushed to phone and laptop
		hooks    []string
	}{
		{name: "empty list", in: own("phone", "get", `<blocklist `+ns+`/>`), want: `<blocklist xmlns="urn:xmpp:blocking"/>`},
		{name: "laptop fetches too", in: own("laptop", "get", `<blocklist `+ns+`/>`), want: `<blocklist xmlns="urn:xmpp:blocking"/>`},
		{name: "block one", in: own("tablet", "set", `<block `+ns+`><item jid='romeo@montague.net'/></block>`),
			pushes: []string{`<block xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/></block>`},
			hooks:  []string{"block alice [romeo@montague.net]"}},
		{name: "block several, one again, normalised", in: own("phone", "set", `<block `+ns+`><item jid='Iago@Shakespeare.LIT'/><item jid='romeo@montague.net'/><item jid='evil.net'/><item jid='iago@shakespeare.lit'/></block>`),
			pushes: []string{`<block xmlns="urn:xmpp:blocking"><item jid="iago@shakespeare.lit"/><item jid="romeo@montague.net"/><item jid="evil.net"/></block>`},
			hooks:  []string{"block alice [iago@shakespeare.lit evil.net]"}},
		{name: "list", in: own("phone", "get", `<blocklist `+ns+`/>`),
			want: `<blocklist xmlns="urn:xmpp:blocking"><item jid="evil.net"/><item jid="iago@shakespeare.lit"/><item jid="romeo@montague.net"/></blocklist>`},
		{name: "block nothing", in: own("phone", "set", `<block `+ns+`/>`), cond: stanza.BadRequest},
		{name: "block malformed", in: own("phone", "set", `<block `+ns+`><item jid='a@b@c'/></block>`), cond: stanza.JIDMalformed},
		{name: "block without jid", in: own("phone", "set", `<block `+ns+`><item/></block>`), cond: stanza.JIDMalformed},
		{name: "unblock malformed", in: own("phone", "set", `<unblock `+ns+`><item jid='@x'/></unblock>`), cond: stanza.JIDMalformed},
		{name: "unblock one and an unknown", in: own("laptop", "set", `<unblock `+ns+`><item jid='romeo@montague.net'/><item jid='nobody@nowhere.net'/></unblock>`),
			pushes: []string{`<unblock xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/><item jid="nobody@nowhere.net"/></unblock>`},
			hooks:  []string{"unblock alice [romeo@montague.net]"}},
		{name: "after unblock", in: own("phone", "get", `<blocklist `+ns+`/>`),
			want: `<blocklist xmlns="urn:xmpp:blocking"><item jid="evil.net"/><item jid="iago@shakespeare.lit"/></blocklist>`},
		{name: "unblock all", in: own("phone", "set", `<unblock `+ns+`/>`),
			pushes: []string{`<unblock xmlns="urn:xmpp:blocking"/>`},
			hooks:  []string{"unblock alice [evil.net iago@shakespeare.lit]"}},
		{name: "after unblock all", in: own("phone", "get", `<blocklist `+ns+`/>`), want: `<blocklist xmlns="urn:xmpp:blocking"/>`},
		{name: "unblock all of nothing", in: own("phone", "set", `<unblock `+ns+`/>`),
			pushes: []string{`<unblock xmlns="urn:xmpp:blocking"/>`}},
		{name: "another's list", in: `<iq type='get' id='b1' from='bob@example.org/b' to='alice@example.org'><blocklist ` + ns + `/></iq>`, cond: stanza.Forbidden},
		{name: "block for another", in: `<iq type='set' id='b1' from='bob@example.org/b' to='alice@example.org'><block ` + ns + `><item jid='x.net'/></block></iq>`, cond: stanza.Forbidden},
		{name: "remote", in: `<iq type='get' id='b1' from='alice@remote.net/r' to='alice@example.org'><blocklist ` + ns + `/></iq>`, cond: stanza.Forbidden},
		{name: "to the server", in: `<iq type='get' id='b1' from='alice@example.org/phone' to='example.org'><blocklist ` + ns + `/></iq>`, cond: stanza.ServiceUnavailable},
		{name: "set blocklist", in: own("phone", "set", `<blocklist `+ns+`/>`), cond: stanza.BadRequest},
		{name: "get block", in: own("phone", "get", `<block `+ns+`><item jid='x.net'/></block>`), cond: stanza.BadRequest},
		{name: "unknown element", in: own("phone", "get", `<blocked `+ns+`/>`), cond: stanza.ServiceUnavailable},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			rec.calls = nil
			res, e := modtest.IQ(t, r, tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
			for name, c := range map[string]*modtest.Conn{"phone": phone, "laptop": laptop} {
				var want []string
				for _, p := range tt.pushes {
					want = append(want, `<iq xmlns="jabber:client" type="set" id="ID" to="alice@example.org/`+name+`">`+p+`</iq>`)
				}
				if got := ids(c.Take()); !slices.Equal(got, want) {
					t.Errorf("%s got pushes\n%q\nwant\n%q", name, got, want)
				}
			}
			if got := tablet.Take(); len(got) != 0 {
				t.Errorf("tablet never fetched the list but got %q", got)
			}
			if got := bob.Take(); len(got) != 0 {
				t.Errorf("bob got %q", got)
			}
			if !slices.Equal(rec.calls, tt.hooks) {
				t.Errorf("hooks = %q, want %q", rec.calls, tt.hooks)
			}
		})
	}
}

// ids replaces push ids, which only need to be unique, with ID.
func ids(pushes []string) []string {
	var out []string
	for _, p := range pushes {
		i := strings.Index(p, `id="`)
		j := strings.Index(p[i+4:], `"`)
		out = append(out, p[:i+4]+"ID"+p[i+4+j:])
	}
	return out
}

func TestPushesFollowSessions(t *testing.T) {
	db := modtest.DB(t, "alice")
	_, r := newModule(db)
	_, old := modtest.Bind(t, r, "alice@example.org/phone")
	if _, e := modtest.IQ(t, r, own("phone", "get", `<blocklist xmlns='urn:xmpp:blocking'/>`)); e != nil {
		t.Fatal(e)
	}
	// A new session takes the resource over: it never fetched the list.
	_, fresh := modtest.Bind(t, r, "alice@example.org/phone")
	if _, e := modtest.IQ(t, r, own("phone", "set", `<block xmlns='urn:xmpp:blocking'><item jid='x.net'/></block>`)); e != nil {
		t.Fatal(e)
	}
	if got := old.Take(); len(got) != 0 {
		t.Errorf("replaced session got %q", got)
	}
	if got := fresh.Take(); len(got) != 0 {
		t.Errorf("new session got %q without fetching the list", got)
	}
}

func TestBlocks(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice", "bob")
	// Stored before the module starts: it must load them.
	if err := db.Block(ctx, "alice", []string{
		"romeo@montague.net",           // bare JID
		"iago@shakespeare.lit/evil",    // full JID
		"evil.net",                     // domain
		"gateway.example.com/resource", // domain/resource
		"example.org",                  // the server's own domain
		"alice@example.org",            // herself
	}); err != nil {
		t.Fatal(err)
	}
	m, _ := newModule(db)
	tests := []struct {
		user, other string
		want        bool
	}{
		{"alice", "romeo@montague.net", true},
		{"alice", "romeo@montague.net/orchard", true},
		{"alice", "juliet@montague.net", false},
		{"alice", "montague.net", false},
		{"alice", "iago@shakespeare.lit/evil", true},
		{"alice", "iago@shakespeare.lit/good", false},
		{"alice", "iago@shakespeare.lit", false},
		{"alice", "evil.net", true},
		{"alice", "evil.net/bot", true},
		{"alice", "anyone@evil.net/x", true},
		{"alice", "chat.evil.net", true},
		{"alice", "room@muc.chat.evil.net/nick", true},
		{"alice", "notevil.net", false},
		{"alice", "evil.net.example.com", false},
		{"alice", "gateway.example.com/resource", true},
		{"alice", "gateway.example.com/other", false},
		{"alice", "gateway.example.com", false},
		{"alice", "user@gateway.example.com/resource", false},
		// Blocking the server's domain blocks its users, never the server.
		{"alice", "bob@example.org/b", true},
		{"alice", "example.org", false},
		{"alice", "example.org/admin", false},
		{"alice", "alice@example.org/other", false},
		{"alice", "muc.example.org", true},
		{"bob", "romeo@montague.net", false},
		{"nobody", "romeo@montague.net", false},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.other, func(t *testing.T) {
			if got := m.Blocks(tt.user, jid.MustParse(tt.other)); got != tt.want {
				t.Fatalf("Blocks = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStoredAcrossRestart(t *testing.T) {
	db := modtest.DB(t, "alice")
	_, r := newModule(db)
	modtest.Bind(t, r, "alice@example.org/a")
	if _, e := modtest.IQ(t, r, own("a", "set", `<block xmlns='urn:xmpp:blocking'><item jid='romeo@montague.net'/></block>`)); e != nil {
		t.Fatal(e)
	}
	m2, r2 := newModule(db)
	if !m2.Blocks("alice", jid.MustParse("romeo@montague.net/x")) {
		t.Fatal("a new module does not see the stored block")
	}
	res, e := modtest.IQ(t, r2, own("a", "get", `<blocklist xmlns='urn:xmpp:blocking'/>`))
	modtest.Answer(t, res, e, `<blocklist xmlns="urn:xmpp:blocking"><item jid="romeo@montague.net"/></blocklist>`, "")
}

func TestSweepKeepsBlocks(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice")
	m, r := newModule(db)
	m.sweepAt, m.sweepMin = 8, 8
	if _, e := modtest.IQ(t, r, own("a", "set", `<block xmlns='urn:xmpp:blocking'><item jid='x.net'/></block>`)); e != nil {
		t.Fatal(e)
	}
	romeo := jid.MustParse("x.net")
	for i := range 100 {
		// Stanzas to localparts that do not exist fill the cache.
		m.Blocks(fmt.Sprint("ghost", i), romeo)
	}
	m.mu.RLock()
	n := len(m.lists)
	m.mu.RUnlock()
	if n > 16 {
		t.Errorf("%d lists cached; empty ones are not swept", n)
	}
	if !m.Blocks("alice", romeo) {
		t.Error("a sweep lost alice's block")
	}
	m.UserRemoved(ctx, "alice")
	if !m.Blocks("alice", romeo) {
		t.Error("after UserRemoved the list is not reloaded")
	}
}

// TestConcurrent runs Blocks against changes; run it with -race.
func TestConcurrent(t *testing.T) {
	db := modtest.DB(t, "alice")
	m, r := newModule(db)
	m.sweepAt, m.sweepMin = 4, 4
	x := jid.MustParse("user@x.net/r")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m.Blocks("alice", x)
				m.Blocks(fmt.Sprint("ghost", g, i), x)
			}
		})
	}
	for i := range 20 {
		cmd := `<block xmlns='urn:xmpp:blocking'><item jid='x.net'/></block>`
		if i%2 == 1 {
			cmd = `<unblock xmlns='urn:xmpp:blocking'/>`
		}
		if _, e := modtest.IQ(t, r, own("a", "set", cmd)); e != nil {
			t.Fatal(e)
		}
		if got, want := m.Blocks("alice", x), i%2 == 0; got != want {
			t.Fatalf("after change %d Blocks = %v", i, got)
		}
	}
	close(stop)
	wg.Wait()
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "urn:xmpp:blocking" {
		t.Fatalf("features = %v", got)
	}
}

func BenchmarkBlocks(b *testing.B) {
	ctx := context.Background()
	db := modtest.DB(b, "alice", "bob")
	m, _ := newModule(db)
	if err := db.Block(ctx, "alice", []string{"romeo@montague.net", "evil.net", "a@b.c/d"}); err != nil {
		b.Fatal(err)
	}
	from := jid.MustParse("juliet@chat.capulet.lit/balcony")
	b.Run("list", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m.Blocks("alice", from) {
				b.Fatal("blocked")
			}
		}
	})
	b.Run("empty", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m.Blocks("bob", from) {
				b.Fatal("blocked")
			}
		}
	})
}
