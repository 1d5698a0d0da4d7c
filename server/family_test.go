package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
	"hearth/storage"
)

// rosterOf returns the user's roster as the admin API lists it.
func rosterOf(t *testing.T, srv *xmpptest.Server, user string) []admin.RosterItem {
	t.Helper()
	items, err := srv.Admin.Roster(context.Background(), user+"@hearth.test")
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func sameRoster(a, b []admin.RosterItem) bool {
	return slices.EqualFunc(a, b, func(x, y admin.RosterItem) bool {
		return x.JID == y.JID && x.Name == y.Name && x.Subscription == y.Subscription && x.Ask == y.Ask && slices.Equal(x.Groups, y.Groups)
	})
}

// TestFamilyCircle: switching the family circle on (through the admin
// API, as the GUI and `hearth config set` do) makes every two accounts
// contacts with subscription both in the group Family, keeping what the
// users had named and grouped; online clients get the roster pushes and
// each other's presence, as after approved requests (RFC 6121 3.1.5). A
// new account joins everyone, a deleted one leaves everyone's roster,
// a new group name takes the old one's place, and switching the circle
// off leaves the rosters alone.
func TestFamilyCircle(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	srv.AddUser(t, "carol", "amber-teapot-pw")
	// carol already sees alice, and calls her Ally in her own group.
	if _, err := srv.DB.PutRosterItem(ctx, "carol", storage.RosterItem{Contact: "alice@hearth.test", Name: "Ally", Subscription: "to", Groups: []string{"Friends"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.DB.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "carol@hearth.test", Subscription: "from"}); err != nil {
		t.Fatal(err)
	}
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := srv.Login(t, "bob", "copper-lantern-pw", "laptop")
	clients := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	xmpptest.Play(t, clients, `
alice sends: <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='from'/></query></iq>
alice sends: <presence><show>chat</show></presence>
alice receives: <presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'><show>chat</show></presence>
bob sends: <iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>
bob receives: <iq type='result' id='r2' from='bob@hearth.test' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'/></iq>
bob sends: <presence/>
bob receives: <presence from='bob@hearth.test/laptop' to='bob@hearth.test/laptop'/>
alice receives nothing more
bob receives nothing more`)

	if restart, err := srv.Admin.SetSetting(ctx, "family.circle", "on"); err != nil || restart {
		t.Fatalf("set family.circle: restart %v, %v", restart, err)
	}
	// SetSetting returns once the circle is made: the pushes and the
	// presence are on their way.
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'><group>Family</group></item></query></iq>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='both'><group>Family</group></item></query></iq>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'/>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='alice@hearth.test' subscription='both'><group>Family</group></item></query></iq>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='both'><group>Family</group></item></query></iq>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'><show>chat</show></presence>
# carol is offline: she finds her roster at login, and nothing else goes out.
alice receives nothing more
bob receives nothing more`)
	family := func(jid, name string, groups ...string) admin.RosterItem {
		return admin.RosterItem{JID: jid, Name: name, Subscription: "both", Groups: groups}
	}
	want := map[string][]admin.RosterItem{
		"alice": {family("bob@hearth.test", "", "Family"), family("carol@hearth.test", "", "Family")},
		"bob":   {family("alice@hearth.test", "", "Family"), family("carol@hearth.test", "", "Family")},
		"carol": {family("alice@hearth.test", "Ally", "Friends", "Family"), family("bob@hearth.test", "", "Family")},
	}
	for user, w := range want {
		if got := rosterOf(t, srv, user); !sameRoster(got, w) {
			t.Errorf("roster of %s = %+v\nwant %+v", user, got, w)
		}
	}

	// Setting the circle on again changes nothing.
	if _, err := srv.Admin.SetSetting(ctx, "family.circle", "true"); err != nil {
		t.Fatal(err)
	}
	xmpptest.Play(t, clients, `
alice receives nothing more`)

	// A new account joins everyone's roster, and everyone joins its.
	srv.AddUser(t, "dave", "walnut-harbor-pw")
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='dave@hearth.test' subscription='both'><group>Family</group></item></query></iq>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='dave@hearth.test' subscription='both'><group>Family</group></item></query></iq>
alice receives nothing more
bob receives nothing more`)
	if got, w := rosterOf(t, srv, "dave"), []admin.RosterItem{family("alice@hearth.test", "", "Family"),
		family("bob@hearth.test", "", "Family"), family("carol@hearth.test", "", "Family")}; !sameRoster(got, w) {
		t.Errorf("roster of dave = %+v\nwant %+v", got, w)
	}
	dave := srv.Login(t, "dave", "walnut-harbor-pw", "tablet")
	clients["dave"] = dave
	xmpptest.Play(t, clients, `
dave sends: <presence/>
dave receives: <presence from='dave@hearth.test/tablet' to='dave@hearth.test/tablet'/>
dave receives: <presence from='alice@hearth.test/phone' to='dave@hearth.test/tablet'><show>chat</show></presence>
dave receives: <presence from='bob@hearth.test/laptop' to='dave@hearth.test/tablet'/>
alice receives: <presence from='dave@hearth.test/tablet' to='alice@hearth.test/phone'/>
bob receives: <presence from='dave@hearth.test/tablet' to='bob@hearth.test/laptop'/>
alice receives nothing more
bob receives nothing more`)

	// A deleted account leaves everyone's roster, going offline first.
	if err := srv.Admin.DeleteUser(ctx, "dave@hearth.test"); err != nil {
		t.Fatal(err)
	}
	if got := dave.StreamEnd(); got != "not-authorized" {
		t.Errorf("deleted account's stream end = %q", got)
	}
	delete(clients, "dave")
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='dave@hearth.test' subscription='remove'/></query></iq>
alice receives: <presence from='dave@hearth.test' to='alice@hearth.test/phone' type='unavailable'/>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='dave@hearth.test' subscription='remove'/></query></iq>
bob receives: <presence from='dave@hearth.test' to='bob@hearth.test/laptop' type='unavailable'/>
alice receives nothing more
bob receives nothing more`)
	if got := rosterOf(t, srv, "carol"); !sameRoster(got, want["carol"]) {
		t.Errorf("roster of carol after dave left = %+v\nwant %+v", got, want["carol"])
	}

	// A new name for the group takes the old one's place.
	if _, err := srv.Admin.SetSetting(ctx, "family.group", "Home"); err != nil {
		t.Fatal(err)
	}
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'><group>Home</group></item></query></iq>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='both'><group>Home</group></item></query></iq>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='alice@hearth.test' subscription='both'><group>Home</group></item></query></iq>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='both'><group>Home</group></item></query></iq>
alice receives nothing more
bob receives nothing more`)
	if got, w := rosterOf(t, srv, "carol"), []admin.RosterItem{family("alice@hearth.test", "Ally", "Friends", "Home"),
		family("bob@hearth.test", "", "Home")}; !sameRoster(got, w) {
		t.Errorf("roster of carol after the new group name = %+v\nwant %+v", got, w)
	}

	// Off: the rosters stay as they are, and a new account joins no one.
	if _, err := srv.Admin.SetSetting(ctx, "family.circle", "off"); err != nil {
		t.Fatal(err)
	}
	srv.AddUser(t, "erin", "maple-compass-pw")
	xmpptest.Play(t, clients, `
alice receives nothing more
bob receives nothing more`)
	if got := rosterOf(t, srv, "erin"); len(got) != 0 {
		t.Errorf("roster of erin, added with the circle off = %+v", got)
	}
	if got := rosterOf(t, srv, "alice"); len(got) != 2 || got[0].Groups[0] != "Home" {
		t.Errorf("roster of alice after the circle went off = %+v", got)
	}
}

// TestMakeMutualLive: the admin's "see each other" for two online
// accounts pushes both rosters and sends each the other's presence.
func TestMakeMutualLive(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := srv.Login(t, "bob", "copper-lantern-pw", "laptop")
	clients := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	xmpptest.Play(t, clients, `
alice sends: <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'/></iq>
alice sends: <presence/>
alice receives: <presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'/>
bob sends: <iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>
bob receives: <iq type='result' id='r2' from='bob@hearth.test' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'/></iq>
bob sends: <presence><show>away</show></presence>
bob receives: <presence from='bob@hearth.test/laptop' to='bob@hearth.test/laptop'><show>away</show></presence>
alice receives nothing more
bob receives nothing more`)
	if err := srv.Admin.MakeMutual(context.Background(), "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'/></query></iq>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'><show>away</show></presence>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='alice@hearth.test' subscription='both'/></query></iq>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'/>
alice receives nothing more
bob receives nothing more`)
}

// TestDeletedAccountLeavesRosters: with or without the family circle, a
// deleted account leaves every roster of the server (a later account of
// the same name inherits nothing): online owners get the push and its
// unavailable presence, and its unanswered requests are forgotten.
func TestDeletedAccountLeavesRosters(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	srv.AddUser(t, "carol", "amber-teapot-pw")
	if err := srv.Admin.MakeMutual(ctx, "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	if err := srv.DB.AddPending(ctx, "carol", "bob@hearth.test", []byte(`<presence xmlns="jabber:client" from="bob@hearth.test" to="carol@hearth.test" type="subscribe"/>`)); err != nil {
		t.Fatal(err)
	}
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := srv.Login(t, "bob", "copper-lantern-pw", "laptop")
	clients := map[string]*xmpptest.Client{"alice": alice, "bob": bob}
	// The ping after alice's presence: her probe of bob is answered
	// before bob comes online, else bob's presence may reach her twice
	// (the probe's answer and his broadcast), which XMPP allows.
	xmpptest.Play(t, clients, `
alice sends: <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'/></query></iq>
alice sends: <presence/>
alice receives: <presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'/>
alice sends: <iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
bob sends: <presence/>
bob receives: <presence from='bob@hearth.test/laptop' to='bob@hearth.test/laptop'/>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'/>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'/>
alice receives nothing more`)
	if err := srv.Admin.DeleteUser(ctx, "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='remove'/></query></iq>
alice receives: <presence from='bob@hearth.test' to='alice@hearth.test/phone' type='unavailable'/>
alice receives nothing more`)
	if ok, err := srv.DB.HasPending(ctx, "carol", "bob@hearth.test"); err != nil || ok {
		t.Errorf("bob's request to carol kept after bob was deleted: %v, %v", ok, err)
	}
	// A new bob starts with no one.
	srv.AddUser(t, "bob", "another-lantern-pw")
	if got := rosterOf(t, srv, "alice"); len(got) != 0 {
		t.Errorf("alice's roster after bob was deleted and made again = %+v", got)
	}
}

// startOver starts a server over db, as a restart does, and returns its
// admin API once the start's family circle catch-up is done (Serve with
// no listeners returns after it).
func startOver(t *testing.T, db *storage.DB) admin.API {
	t.Helper()
	srv, err := server.New(server.Config{Domain: "hearth.test", DataDir: t.TempDir(), TLS: func() *tls.Config { return &tls.Config{} },
		Log: slog.New(slog.DiscardHandler)}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(t.Context(), server.Listeners{}); err != nil {
		t.Fatal(err)
	}
	return srv.Admin()
}

// contactsOf returns the user's contacts as "jid subscription groups".
func contactsOf(t *testing.T, api admin.API, user string) []string {
	t.Helper()
	items, err := api.Roster(context.Background(), user+"@hearth.test")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, strings.TrimSpace(it.JID+" "+it.Subscription+" "+strings.Join(it.Groups, ",")))
	}
	return out
}

// TestFamilyCircleKeepsRemovals: the circle pairs an account once. A
// family contact its owner removed stays removed across restarts and
// group renames (a rename relabels only the items still there); a new
// account, added live or while no server ran, still joins everyone; and
// turning the circle off and on again pairs everyone anew.
func TestFamilyCircleKeepsRemovals(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	api := startOver(t, db)
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := api.AddUser(ctx, u+"@hearth.test", "silver-kettle-pw"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := api.SetSetting(ctx, "family.circle", "on"); err != nil {
		t.Fatal(err)
	}
	check := func(step string, want map[string][]string) {
		t.Helper()
		for user, w := range want {
			if got := contactsOf(t, api, user); !slices.Equal(got, w) {
				t.Errorf("%s: contacts of %s = %q\nwant %q", step, user, got, w)
			}
		}
	}
	check("circle on", map[string][]string{
		"alice": {"bob@hearth.test both Family", "carol@hearth.test both Family"},
		"bob":   {"alice@hearth.test both Family", "carol@hearth.test both Family"},
	})

	// alice removes bob: her subscriptions both ways are cancelled.
	if err := api.RemoveRosterItem(ctx, "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	removed := map[string][]string{
		"alice": {"carol@hearth.test both Family"},
		"bob":   {"alice@hearth.test none Family", "carol@hearth.test both Family"},
	}
	check("alice removed bob", removed)
	api = startOver(t, db)
	check("after a restart", removed)

	if _, err := api.SetSetting(ctx, "family.group", "Home"); err != nil {
		t.Fatal(err)
	}
	renamed := map[string][]string{
		"alice": {"carol@hearth.test both Home"},
		"bob":   {"alice@hearth.test none Home", "carol@hearth.test both Home"},
		"carol": {"alice@hearth.test both Home", "bob@hearth.test both Home"},
	}
	check("after the group was renamed", renamed)
	api = startOver(t, db)
	check("after the rename and a restart", renamed)

	// A new account joins everyone, alice and bob included.
	if err := api.AddUser(ctx, "dave@hearth.test", "walnut-harbor-pw"); err != nil {
		t.Fatal(err)
	}
	// And so does one added while no server runs, at the next start;
	// a group renamed meanwhile reaches the others' items too.
	offline := &admin.Local{DB: db, Domain: "hearth.test"}
	if err := offline.AddUser(ctx, "erin@hearth.test", "maple-compass-pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := offline.SetSetting(ctx, "family.group", "Kin"); err != nil {
		t.Fatal(err)
	}
	api = startOver(t, db)
	check("new accounts", map[string][]string{
		"alice": {"carol@hearth.test both Kin", "dave@hearth.test both Kin", "erin@hearth.test both Kin"},
		"bob":   {"alice@hearth.test none Kin", "carol@hearth.test both Kin", "dave@hearth.test both Kin", "erin@hearth.test both Kin"},
		"dave":  {"alice@hearth.test both Kin", "bob@hearth.test both Kin", "carol@hearth.test both Kin", "erin@hearth.test both Kin"},
		"erin":  {"alice@hearth.test both Kin", "bob@hearth.test both Kin", "carol@hearth.test both Kin", "dave@hearth.test both Kin"},
	})

	// Off and on again, explicitly: everyone is paired anew.
	for _, v := range []string{"off", "on"} {
		if _, err := api.SetSetting(ctx, "family.circle", v); err != nil {
			t.Fatal(err)
		}
	}
	check("off and on again", map[string][]string{
		"alice": {"bob@hearth.test both Kin", "carol@hearth.test both Kin", "dave@hearth.test both Kin", "erin@hearth.test both Kin"},
		"bob":   {"alice@hearth.test both Kin", "carol@hearth.test both Kin", "dave@hearth.test both Kin", "erin@hearth.test both Kin"},
	})
}

// TestFamilyCircleFailureReported: when the circle cannot be completed
// (here a roster that is full), the admin call says so in plain words
// and the setting is stored; new accounts wait, and setting it again
// once the cause is gone completes the circle.
func TestFamilyCircleFailureReported(t *testing.T) {
	ctx := context.Background()
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		srv.AddUser(t, u, "silver-kettle-pw")
	}
	if _, err := srv.Admin.SetSetting(ctx, "limits.roster_items", "1"); err != nil {
		t.Fatal(err)
	}
	_, err := srv.Admin.SetSetting(ctx, "family.circle", "on")
	if !errors.Is(err, admin.ErrNotApplied) || !strings.Contains(err.Error(), "the family circle could not be completed: ") ||
		!strings.HasSuffix(err.Error(), "; set it again to retry") {
		t.Fatalf("set family.circle with full rosters: %v", err)
	}
	if v, err := srv.DB.Setting(ctx, "family.circle"); err != nil || v != "true" {
		t.Errorf("family.circle stored = %q, %v", v, err)
	}
	// A new account that cannot join says so, and is made all the same.
	err = srv.Admin.AddUser(ctx, "erin", "amber-lantern-pw")
	if !errors.Is(err, admin.ErrNotApplied) || !strings.Contains(err.Error(), "the account was made, but the new account could not be made a contact of everyone in the family circle") {
		t.Errorf("add erin with full rosters: %v", err)
	}
	if err := srv.Admin.DeleteUser(ctx, "erin@hearth.test"); err != nil {
		t.Errorf("erin was not made: %v", err)
	}
	if _, err := srv.Admin.SetSetting(ctx, "limits.roster_items", "100"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Admin.SetSetting(ctx, "family.circle", "on"); err != nil {
		t.Fatalf("set family.circle again: %v", err)
	}
	srv.AddUser(t, "dave", "walnut-harbor-pw")
	for user, w := range map[string][]string{
		"alice": {"bob@hearth.test both Family", "carol@hearth.test both Family", "dave@hearth.test both Family"},
		"carol": {"alice@hearth.test both Family", "bob@hearth.test both Family", "dave@hearth.test both Family"},
		"dave":  {"alice@hearth.test both Family", "bob@hearth.test both Family", "carol@hearth.test both Family"},
	} {
		if got := contactsOf(t, srv.Admin, user); !slices.Equal(got, w) {
			t.Errorf("contacts of %s = %q\nwant %q", user, got, w)
		}
	}
}

// cancelOnRoster returns a context that is cancelled as soon as the first
// roster changes: a caller giving up half way (the window's time limit,
// Ctrl-C on hearth config set). wait ends the watcher.
func cancelOnRoster(t *testing.T, api admin.API) (ctx context.Context, wait func()) {
	ctx, cancel := context.WithCancel(context.Background())
	events := api.Watch(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Kind == admin.EventRoster {
				cancel()
			}
		}
	}()
	return ctx, func() { cancel(); <-done }
}

// TestFamilyCircleOutlivesCaller: the circle is completed when the admin
// call that set it on, or added an account, gives up half way.
func TestFamilyCircleOutlivesCaller(t *testing.T) {
	srv := xmpptest.Start(t)
	var users []string
	for i := range 12 {
		users = append(users, fmt.Sprintf("user%02d", i))
		srv.AddUser(t, users[i], "silver-kettle-pw")
	}
	complete := func(step string) {
		t.Helper()
		for _, u := range users {
			if got := contactsOf(t, srv.Admin, u); len(got) != len(users)-1 {
				t.Errorf("%s: %s has %d contacts, want %d: %q", step, u, len(got), len(users)-1, got)
			}
		}
	}
	ctx, wait := cancelOnRoster(t, srv.Admin)
	_, err := srv.Admin.SetSetting(ctx, "family.circle", "on")
	wait()
	if err != nil {
		t.Errorf("set family.circle, the caller giving up: %v", err)
	}
	complete("circle on")

	ctx, wait = cancelOnRoster(t, srv.Admin)
	err = srv.Admin.AddUser(ctx, "late@hearth.test", "walnut-harbor-pw")
	wait()
	if err != nil {
		t.Fatalf("add user, the caller giving up: %v", err)
	}
	users = append(users, "late")
	complete("new account")
}
