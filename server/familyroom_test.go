package server_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestFamilyRoom: the family room (muc.family_room) over a stand-in room
// engine: made at start (persistent, members-only, not listed, archived),
// every account a member with the room bookmarked (XEP-0402, autojoin,
// its name as nick) and its online clients told; a bookmark someone
// removed is not given back at the next start; new accounts join,
// deleted ones leave (also those deleted while no server ran); a new
// name makes a new room and leaves the old one; the admin API lists and
// manages the rooms, in process and over the admin socket.
func TestFamilyRoom(t *testing.T) {
	engine, module := server.NewFakeRooms("hearth.test")
	srv := xmpptest.StartFamily(t, withModule(module))
	ctx := t.Context()
	family := "family@conference.hearth.test"
	name, persistent, public, membersOnly, archived, ok := engine.Config(family)
	if !ok || name != "Family" || !persistent || public || !membersOnly || !archived {
		t.Fatalf("family room at start: %q persistent %v public %v members-only %v archived %v exists %v", name, persistent, public, membersOnly, archived, ok)
	}
	affs := func(room string) map[string]string {
		t.Helper()
		list, err := srv.Admin.RoomAffiliations(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, a := range list {
			m[a.JID] = a.Affiliation
		}
		return m
	}
	bookmarks := func(user string) []string {
		t.Helper()
		its, err := srv.DB.PEPItems(ctx, user, "urn:xmpp:bookmarks:1", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range its {
			out = append(out, it.ID+" "+string(it.Payload))
		}
		return out
	}
	const bookmark = `family@conference.hearth.test <conference xmlns="urn:xmpp:bookmarks:1" name="Family" autojoin="true"><nick>alice</nick></conference>`

	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	if got := affs("family"); !maps.Equal(got, map[string]string{"alice@hearth.test": "member", "bob@hearth.test": "member"}) {
		t.Fatalf("family room's affiliations: %v", got)
	}
	if got := bookmarks("alice"); !slices.Equal(got, []string{bookmark}) {
		t.Fatalf("alice's bookmarks: %q", got)
	}
	// Clients of XEP-0048's private storage see it too (XEP-0411).
	if raw, err := srv.DB.Private(ctx, "alice", "storage storage:bookmarks"); err != nil ||
		!strings.Contains(string(raw), `<conference jid="family@conference.hearth.test" name="Family" autojoin="true"><nick>alice</nick></conference>`) {
		t.Errorf("alice's XEP-0048 bookmarks: %s, %v", raw, err)
	}
	n, err := srv.DB.PEPNode(ctx, "alice", "urn:xmpp:bookmarks:1")
	if err != nil || n.Access != "whitelist" || n.MaxItems != 0 || !n.Persist {
		t.Fatalf("alice's bookmarks node: %+v, %v (want whitelist, max, persistent)", n, err)
	}

	// alice, online, is told of the new room's bookmark.
	alice := pepOnline(t, srv, "alice", "phone", true, "urn:xmpp:bookmarks:1+notify")
	if _, err := srv.Admin.SetSetting(ctx, "muc.family_room", "home"); err != nil {
		t.Fatal(err)
	}
	alice.Expect(`<message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'><item id='home@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Home' autojoin='true'><nick>alice</nick></conference></item></items></event></message>`)
	if _, _, _, _, _, ok := engine.Config(family); !ok {
		t.Error("the old family room is gone after a rename; it should stay")
	}
	if got := affs("home@conference.hearth.test"); len(got) != 2 {
		t.Errorf("home room's affiliations: %v", got)
	}
	// She removes it; the next start does not give it back.
	alice.Send(`<iq type='set' id='r1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:xmpp:bookmarks:1'><item id='home@conference.hearth.test'/></retract></pubsub></iq>`)
	alice.Expect(`<message from='alice@hearth.test' to='alice@hearth.test/phone' type='headline' id='*'>*</message>`)
	alice.Expect(`<iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'/>`)
	srv = srv.Restart(t, withModule(module))
	if got := bookmarks("alice"); !slices.Equal(got, []string{bookmark}) {
		t.Errorf("alice's bookmarks after a restart: %q", got)
	}

	// New accounts join, deleted ones leave.
	srv.AddUser(t, "carol", secret("carol"))
	if err := srv.Admin.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := affs("home"); !maps.Equal(got, map[string]string{"alice@hearth.test": "member", "carol@hearth.test": "member"}) {
		t.Fatalf("home room's affiliations: %v", got)
	}
	if got := bookmarks("carol"); len(got) != 1 || !strings.HasPrefix(got[0], "home@conference.hearth.test ") {
		t.Errorf("carol's bookmarks: %q", got)
	}
	// Deleted behind the server's back: out at the next start.
	if err := srv.DB.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	srv = srv.Restart(t, withModule(module))
	if got := affs("home"); !maps.Equal(got, map[string]string{"alice@hearth.test": "member"}) {
		t.Fatalf("home room's affiliations after carol was deleted while no server ran: %v", got)
	}

	// The admin API, both ways.
	engine.Join("home@conference.hearth.test", "Ally", "alice@hearth.test/phone", "participant")
	for _, way := range apis {
		api := way.get(t, srv)
		rooms, err := api.Rooms(ctx)
		if err != nil || len(rooms) != 2 || rooms[0].JID != family || rooms[1].JID != "home@conference.hearth.test" ||
			!rooms[1].MembersOnly || rooms[1].Occupants != 1 {
			t.Fatalf("%s: Rooms = %+v, %v", way.name, rooms, err)
		}
		occ, err := api.Occupants(ctx, "home")
		if err != nil || len(occ) != 1 || occ[0] != (admin.Occupant{Nick: "Ally", JID: "alice@hearth.test/phone", Role: "participant", Affiliation: "member"}) {
			t.Errorf("%s: Occupants = %+v, %v", way.name, occ, err)
		}
		if err := api.SetRoomAffiliation(ctx, "home", "alice", "owner"); err != nil {
			t.Fatal(err)
		}
		if err := api.SetRoomAffiliation(ctx, "home@conference.hearth.test", "troll@example.org", "outcast"); err != nil {
			t.Fatal(err)
		}
		list, err := api.RoomAffiliations(ctx, "home")
		if err != nil || !slices.Equal(list, []admin.RoomAffiliation{{JID: "alice@hearth.test", Affiliation: "owner"}, {JID: "troll@example.org", Affiliation: "outcast"}}) {
			t.Errorf("%s: RoomAffiliations = %+v, %v", way.name, list, err)
		}
		if err := api.SetRoomAffiliation(ctx, "home", "troll@example.org", "none"); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			err  error
			kind error
			text string
		}{
			{"no such room", api.SetRoomAffiliation(ctx, "attic", "alice", "member"), admin.ErrNotFound, "there is no such room"},
			{"other service", api.DestroyRoom(ctx, "tea@conference.example.org", "", ""), admin.ErrInvalid, "its rooms are at conference.hearth.test"},
			{"bad affiliation", api.SetRoomAffiliation(ctx, "home", "alice", "king"), admin.ErrInvalid, "give one of owner, admin, member, outcast, none"},
			{"bad alternate", api.DestroyRoom(ctx, "home", "", "nowhere"), admin.ErrInvalid, "is not a room's address"},
		} {
			if !errors.Is(c.err, c.kind) || !strings.Contains(c.err.Error(), c.text) {
				t.Errorf("%s: %s: %v, want %v saying %q", way.name, c.name, c.err, c.kind, c.text)
			}
		}
		if _, err := api.Occupants(ctx, "attic"); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("%s: Occupants of no room: %v", way.name, err)
		}
		if err := api.SetRoomAffiliation(ctx, "home", "alice", "member"); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Admin.DestroyRoom(ctx, "family", "moved", "home@conference.hearth.test"); err != nil {
		t.Fatal(err)
	}
	if rooms, _ := srv.Admin.Rooms(ctx); len(rooms) != 1 {
		t.Errorf("rooms after destroying one: %+v", rooms)
	}
}

// TestFamilyRoomBookmarks: taking an account into the family room never
// overwrites a bookmark of the room it has (its own name, nick and
// autojoin stay), and does not publish into a bookmarks node others may
// read: that account is a member all the same, and the setting's change
// reports it in plain words.
func TestFamilyRoomBookmarks(t *testing.T) {
	_, module := server.NewFakeRooms("hearth.test")
	srv := xmpptest.Start(t, withModule(module))
	ctx := t.Context()
	if _, err := srv.Admin.SetSetting(ctx, "muc.family_room", "our family"); !errors.Is(err, admin.ErrInvalid) ||
		!strings.Contains(err.Error(), `muc.family_room: "our family" cannot be a name before the @: use letters and digits, such as family`) {
		t.Errorf("a room name with a space: %v", err)
	}
	if _, err := srv.Admin.SetSetting(ctx, "muc.family_room", ""); err != nil {
		t.Fatal(err)
	}
	srv.AddUser(t, "dave", secret("dave"))
	srv.AddUser(t, "erin", secret("erin"))
	dave := srv.Login(t, "dave", secret("dave"), "pc")
	dave.Send(`<iq type='set' id='p1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='family@conference.hearth.test'><conference xmlns='urn:xmpp:bookmarks:1' name='Our lot' autojoin='false'><nick>Dad</nick></conference></item></publish>` + bookmarksOptions + `</pubsub></iq>`)
	dave.Expect(`<iq type='result' id='p1' from='dave@hearth.test' to='dave@hearth.test/pc'>*</iq>`)
	erin := srv.Login(t, "erin", secret("erin"), "pc")
	erin.Send(`<iq type='set' id='p2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='tea@conference.example.org'><conference xmlns='urn:xmpp:bookmarks:1' name='Tea'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub></iq>`)
	erin.Expect(`<iq type='result' id='p2' from='erin@hearth.test' to='erin@hearth.test/pc'>*</iq>`)

	_, err := srv.Admin.SetSetting(ctx, "muc.family_room", "family")
	if !errors.Is(err, admin.ErrNotApplied) || !strings.Contains(err.Error(), "erin is a member, but the room is not in their bookmarks: erin's bookmarks node is configured so that others may read it") {
		t.Errorf("setting the family room: %v", err)
	}
	its, err := srv.DB.PEPItems(ctx, "dave", "urn:xmpp:bookmarks:1", 0, nil)
	if err != nil || len(its) != 1 || string(its[0].Payload) != `<conference xmlns="urn:xmpp:bookmarks:1" name="Our lot" autojoin="false"><nick>Dad</nick></conference>` {
		t.Errorf("dave's own bookmark of the room: %+v, %v", its, err)
	}
	if its, err := srv.DB.PEPItems(ctx, "erin", "urn:xmpp:bookmarks:1", 0, nil); err != nil || len(its) != 1 {
		t.Errorf("erin's open bookmarks node: %+v, %v (want her own item only)", its, err)
	}
	list, err := srv.Admin.RoomAffiliations(ctx, "family")
	if err != nil || !slices.Equal(list, []admin.RoomAffiliation{{JID: "dave@hearth.test", Affiliation: "member"}, {JID: "erin@hearth.test", Affiliation: "member"}}) {
		t.Errorf("family room's affiliations: %+v, %v", list, err)
	}
}

// TestFamilyRoomOwners: the server's administrators (admin.jids) own the
// family room, so that someone at home can moderate it: set at once when
// the setting changes, at the next start, and for an administrator's
// account made later. Someone taken off admin.jids stays an owner.
func TestFamilyRoomOwners(t *testing.T) {
	srv := xmpptest.StartFamily(t)
	ctx := t.Context()
	affs := func() map[string]string {
		t.Helper()
		list, err := srv.Admin.RoomAffiliations(ctx, "family")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, a := range list {
			m[a.JID] = a.Affiliation
		}
		return m
	}
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	if _, err := srv.Admin.SetSetting(ctx, settings.KeyAdmins, "alice@hearth.test, carol@hearth.test, someone@elsewhere.test"); err != nil {
		t.Fatal(err)
	}
	if got := affs(); !maps.Equal(got, map[string]string{"alice@hearth.test": "owner", "bob@hearth.test": "member"}) {
		t.Fatalf("after admin.jids: %v", got)
	}
	srv.AddUser(t, "carol", secret("carol"))
	if got := affs(); got["carol@hearth.test"] != "owner" {
		t.Fatalf("carol, an administrator made later: %v", got)
	}
	if _, err := srv.Admin.SetSetting(ctx, settings.KeyAdmins, "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	srv = srv.Restart(t)
	if got := affs(); !maps.Equal(got, map[string]string{"alice@hearth.test": "owner", "bob@hearth.test": "owner", "carol@hearth.test": "owner"}) {
		t.Fatalf("after a restart with admin.jids bob: %v", got)
	}
}
