package last

import (
	"context"
	"testing"
	"time"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

func TestLast(t *testing.T) {
	ctx := context.Background()
	db := modtest.DB(t, "alice", "bob", "carol", "dave", "erin")
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(34*time.Hour + 17*time.Second + 900*time.Millisecond)
	r := modtest.Router()
	m := New(Deps{DB: db, Router: r, Visibility: roster.New(roster.Deps{DB: db, Router: r}), Started: start})
	m.Register(r.Mux())
	m.now = func() time.Time { return now }

	// alice: logged out 903 s ago with a status; bob is online; carol
	// never logged out; erin logged out in the future (clock skew).
	m.now = func() time.Time { return now.Add(-903 * time.Second) }
	m.Logout(ctx, "alice", "Heading Home")
	m.now = func() time.Time { return now.Add(time.Minute) }
	m.Logout(ctx, "erin", "")
	m.now = func() time.Time { return now }
	m.Logout(ctx, "bob", "earlier")
	m.Logout(ctx, "nobody", "ignored") // no such account: nothing to do
	bob, _ := modtest.Bind(t, r, "bob@example.org/phone")
	bob.SetPresence(stanza.New("presence", stanza.NSClient), 0)
	modtest.Bind(t, r, "carol@example.org/idle") // bound, but no initial presence: not available

	// Subscriptions on the queried accounts' rosters: dave may see
	// everyone's presence; romeo@remote.net only alice's; carol is on
	// alice's roster without a subscription from alice.
	for _, u := range []string{"alice", "bob", "carol", "erin"} {
		if _, err := db.PutRosterItem(ctx, u, storage.RosterItem{Contact: "dave@example.org", Subscription: "from"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, it := range []storage.RosterItem{
		{Contact: "romeo@remote.net", Subscription: "both"},
		{Contact: "carol@example.org", Subscription: "to"},
		{Contact: "bob@example.org", Subscription: "none"},
	} {
		if _, err := db.PutRosterItem(ctx, "alice", it); err != nil {
			t.Fatal(err)
		}
	}

	const q = `<query xmlns='jabber:iq:last'/>`
	get := func(from, to string) string {
		return `<iq type='get' id='l1' from='` + from + `' to='` + to + `'>` + q + `</iq>`
	}
	tests := []struct {
		name, in string
		want     string // result payload, or
		cond     string // error condition
	}{
		{"uptime", get("alice@example.org/a", "example.org"), `<query xmlns="jabber:iq:last" seconds="122417"/>`, ""},
		{"uptime remote", get("remote.net", "example.org"), `<query xmlns="jabber:iq:last" seconds="122417"/>`, ""},
		{"subscriber", get("dave@example.org/d", "alice@example.org"), `<query xmlns="jabber:iq:last" seconds="903">Heading Home</query>`, ""},
		{"remote subscriber", get("romeo@remote.net/orchard", "alice@example.org"), `<query xmlns="jabber:iq:last" seconds="903">Heading Home</query>`, ""},
		{"self", get("alice@example.org/a", "alice@example.org"), `<query xmlns="jabber:iq:last" seconds="903">Heading Home</query>`, ""},
		{"available", get("dave@example.org/d", "bob@example.org"), `<query xmlns="jabber:iq:last" seconds="0"/>`, ""},
		{"self available", get("bob@example.org/laptop", "bob@example.org"), `<query xmlns="jabber:iq:last" seconds="0"/>`, ""},
		{"clock skew", get("dave@example.org/d", "erin@example.org"), `<query xmlns="jabber:iq:last" seconds="0"/>`, ""},
		{"never logged out", get("dave@example.org/d", "carol@example.org"), "", stanza.ItemNotFound},
		// Whoever may not see an account gets the answer a missing one
		// gets: nobody can tell which accounts exist.
		{"subscription to only", get("carol@example.org/c", "alice@example.org"), "", stanza.ServiceUnavailable},
		{"subscription none", get("bob@example.org/b", "alice@example.org"), "", stanza.ServiceUnavailable},
		{"stranger", get("mallory@evil.net/x", "alice@example.org"), "", stanza.ServiceUnavailable},
		{"stranger, online account", get("mallory@evil.net/x", "bob@example.org"), "", stanza.ServiceUnavailable},
		{"no such account", get("dave@example.org/d", "nobody@example.org"), "", stanza.ServiceUnavailable},
		{"set", `<iq type='set' id='l1' from='alice@example.org/a' to='example.org'>` + q + `</iq>`, "", stanza.NotAllowed},
		{"unknown element", `<iq type='get' id='l1' from='alice@example.org/a' to='example.org'><last xmlns='jabber:iq:last'/></iq>`, "", stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, r, tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "jabber:iq:last" {
		t.Fatalf("features = %v", got)
	}
}
