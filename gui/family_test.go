package gui

import (
	"context"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// newFamilyHarness runs the UI over a server of the xmpptest harness,
// whose clients read what the server sends them (roster pushes,
// presence), and returns both.
func newFamilyHarness(t *testing.T) (*harness, *xmpptest.Server) {
	t.Helper()
	srv := xmpptest.Start(t)
	a := test.NewTempApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, api: srv.Admin, app: a, queue: make(chan func(), 256), done: ctx.Done(), domain: srv.Domain}
	h.ui = newUI(a, srv.Admin, h.post)
	h.win = h.ui.Window()
	h.win.Resize(fyne.NewSize(900, 600))
	h.ui.Run(ctx)
	t.Cleanup(func() {
		cancel()
		h.ui.Wait()
	})
	return h, srv
}

// online signs user in as a device that asked for its roster (so that it
// gets pushes) and sent its presence.
func online(t *testing.T, srv *xmpptest.Server, user, password, resource string) *xmpptest.Client {
	t.Helper()
	c := srv.Login(t, user, password, resource)
	full := user + "@hearth.test/" + resource
	xmpptest.Play(t, map[string]*xmpptest.Client{user: c}, `
`+user+` sends: <iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>
`+user+` receives: <iq type='result' id='roster' from='*' to='`+full+`'><query xmlns='jabber:iq:roster' ver='*'/></iq>
`+user+` sends: <presence/>
`+user+` receives: <presence from='`+full+`' to='`+full+`'/>
`+user+` receives nothing more`)
	return c
}

// rosterRowOf returns the Family tab's row showing contact, or nil.
func (h *harness) rosterRowOf(contact string) *rosterRow {
	var found *rosterRow
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if r, ok := o.(*rosterRow); ok && r.item.JID == contact {
			found = r
		}
	})
	return found
}

func (h *harness) rosterOf(user string) []admin.RosterItem {
	h.t.Helper()
	items, err := h.api.Roster(h.ctx(), user)
	if err != nil {
		h.t.Fatal(err)
	}
	return items
}

// TestFamilySwitch: the family circle's switch makes three existing
// accounts contacts of each other with subscription both, in the group
// Family; an online device gets the roster pushes and the presence of
// the other online one, and the tab shows it in words.
func TestFamilySwitch(t *testing.T) {
	h, srv := newFamilyHarness(t)
	for _, u := range []struct{ name, password string }{
		{"alice", "silver-kettle-pw"}, {"bob", "copper-lantern-pw"}, {"carol", "amber-teapot-pw"},
	} {
		srv.AddUser(t, u.name, u.password)
	}
	alice := online(t, srv, "alice", "silver-kettle-pw", "phone")
	bob := online(t, srv, "bob", "copper-lantern-pw", "laptop")

	h.showTab("Family")
	h.waitFor("the circle's setting", func() bool { return !h.ui.family.circle.Disabled() && h.showsText("Off:") })
	h.waitFor("alice's contacts", func() bool { return h.showsText("alice has no contacts yet.") })
	if h.ui.family.circle.Checked {
		t.Fatal("the family circle is on before anyone switched it")
	}
	test.Tap(h.ui.family.circle)

	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice, "bob": bob}, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'><group>Family</group></item></query></iq>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='carol@hearth.test' subscription='both'><group>Family</group></item></query></iq>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'/>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='alice@hearth.test' subscription='both'><group>Family</group></item></query></iq>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'/>
alice receives nothing more`)
	// The switch shows the circle on once SetSetting returned, when every
	// roster is done.
	h.waitFor("the circle on and alice's two contacts in words", func() bool {
		return h.showsText(`On: everyone sees everyone, in the group "Family".`) && h.showsText("alice has 2 contacts.") &&
			h.rosterRowOf("bob@hearth.test") != nil && h.rosterRowOf("bob@hearth.test").state.Text == "both see each other"
	})
	for _, u := range []string{"alice", "bob", "carol"} {
		items := h.rosterOf(u + "@hearth.test")
		if len(items) != 2 {
			t.Errorf("%s has %d contacts, want 2: %+v", u, len(items), items)
		}
		for _, it := range items {
			if it.Subscription != "both" || !slices.Equal(it.Groups, []string{"Family"}) {
				t.Errorf("%s's contact %+v, want subscription both in the group Family", u, it)
			}
		}
	}
	if !h.ui.family.circle.Checked {
		t.Error("the switch shows the circle off")
	}
	if !h.rosterRowOf("bob@hearth.test").mutual.Disabled() {
		t.Error(`"See each other" is enabled for a contact who already does`)
	}
}

// TestRosterEditor: what the roster editor changes reaches the account's
// online device as roster pushes: a new contact, a new name and groups,
// "see each other" (with the presence), and a removal.
func TestRosterEditor(t *testing.T) {
	h, srv := newFamilyHarness(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	alice := online(t, srv, "alice", "silver-kettle-pw", "phone")
	bob := online(t, srv, "bob", "copper-lantern-pw", "laptop")
	clients := map[string]*xmpptest.Client{"alice": alice, "bob": bob}

	h.showTab("Family")
	h.waitFor("alice picked", func() bool { return h.showsText("alice has no contacts yet.") })

	// A contact on another server, with a name and two groups.
	test.Type(h.ui.family.contact, "grandma@example.org")
	test.Type(h.ui.family.name, "Grandma")
	test.Type(h.ui.family.groups, "Family, Elders")
	h.tap("Add contact")
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='grandma@example.org' name='Grandma' subscription='none'><group>Family</group><group>Elders</group></item></query></iq>
alice receives nothing more`)
	h.waitFor("grandma in the list, in words", func() bool {
		r := h.rosterRowOf("grandma@example.org")
		return r != nil && r.state.Text == "neither sees the other" && r.groups.Text == "Family, Elders" && r.mutual.Disabled()
	})
	if got := h.ui.family.contact.Text; got != "" {
		t.Errorf("the contact field still holds %q", got)
	}

	// Renamed, one group fewer.
	h.tap("Edit")
	h.waitFor("the edit dialog", func() bool { return h.dialogTitled("Edit grandma@example.org") })
	h.ui.family.editName.SetText("Nana")
	h.ui.family.editGroups.SetText("Family")
	h.tap("Save")
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='grandma@example.org' name='Nana' subscription='none'><group>Family</group></item></query></iq>
alice receives nothing more`)
	h.waitFor("the new name", func() bool { return h.showsText("Nana (grandma@example.org)") })

	// bob, typed as a name alone, is an account here: the two can be made
	// to see each other.
	test.Type(h.ui.family.contact, "bob")
	h.tap("Add contact")
	alice.Expect(`<iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='none'/></query></iq>`)
	h.waitFor("bob in the list", func() bool {
		r := h.rosterRowOf("bob@hearth.test")
		return r != nil && !r.mutual.Disabled()
	})
	test.Tap(h.rosterRowOf("bob@hearth.test").mutual)
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='bob@hearth.test' subscription='both'/></query></iq>
alice receives: <presence from='bob@hearth.test/laptop' to='alice@hearth.test/phone'/>
bob receives: <iq type='set' id='*' to='bob@hearth.test/laptop'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='alice@hearth.test' subscription='both'/></query></iq>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/laptop'/>
alice receives nothing more
bob receives nothing more`)
	h.waitFor("bob and alice see each other", func() bool {
		r := h.rosterRowOf("bob@hearth.test")
		return r != nil && r.state.Text == "both see each other"
	})

	// Removed, after the question.
	test.Tap(h.rosterRowOf("grandma@example.org").remove)
	h.waitFor("the question", func() bool { return h.dialogTitled("Remove contact?") })
	h.tap("Remove")
	xmpptest.Play(t, clients, `
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>
  <item jid='grandma@example.org' subscription='remove'/></query></iq>
alice receives nothing more`)
	h.waitFor("grandma gone", func() bool { return h.rosterRowOf("grandma@example.org") == nil && h.showsText("alice has 1 contact.") })
}

// The subscription states in words, for the account alice.
func TestSeeing(t *testing.T) {
	tests := []struct {
		item admin.RosterItem
		want string
	}{
		{admin.RosterItem{JID: "bob@home.test", Subscription: "both"}, "both see each other"},
		{admin.RosterItem{JID: "bob@home.test", Subscription: "to"}, "alice sees bob, not the other way"},
		{admin.RosterItem{JID: "bob@home.test", Name: "Bobby", Subscription: "from"}, "Bobby sees alice, not the other way"},
		{admin.RosterItem{JID: "dad@example.org", Subscription: "none"}, "neither sees the other"},
		{admin.RosterItem{JID: "dad@example.org", Subscription: "none", Ask: true},
			"neither sees the other; alice asked to see dad@example.org, waiting for an answer"},
	}
	for _, tt := range tests {
		if got := seeing("alice@home.test", tt.item); got != tt.want {
			t.Errorf("seeing(%+v) = %q, want %q", tt.item, got, tt.want)
		}
	}
	if got := splitGroups(" Family, ,Kids,Family "); !slices.Equal(got, []string{"Family", "Kids"}) {
		t.Errorf("splitGroups = %q", got)
	}
}

// TestFamilyFollowsEvents: changes made elsewhere (the command line, a
// device) reach the Family tab through the server's events: a contact
// added to the shown account, a new account in the picker, the circle
// switched on.
func TestFamilyFollowsEvents(t *testing.T) {
	h, srv := newFamilyHarness(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	h.showTab("Family")
	h.waitFor("alice picked and the setting loaded", func() bool {
		return h.showsText("alice has no contacts yet.") && !h.ui.family.circle.Disabled()
	})

	if err := h.api.AddRosterItem(h.ctx(), "alice@hearth.test", admin.RosterItem{JID: "dad@example.org", Name: "Dad"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("Dad in alice's contacts", func() bool { return h.showsText("Dad (dad@example.org)") })

	srv.AddUser(t, "bob", "copper-lantern-pw")
	h.waitFor("bob in the picker", func() bool { return slices.Contains(h.ui.family.picker.Options, "bob@hearth.test") })

	if _, err := h.api.SetSetting(h.ctx(), "family.circle", "true"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the circle on, and bob among alice's contacts", func() bool {
		r := h.rosterRowOf("bob@hearth.test")
		return h.ui.family.circle.Checked && r != nil && r.state.Text == "both see each other"
	})
	h.ui.family.picker.SetSelected("bob@hearth.test")
	h.waitFor("bob's contacts", func() bool { return h.showsText("bob has 1 contact.") && h.rosterRowOf("alice@hearth.test") != nil })
}
