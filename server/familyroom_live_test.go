package server_test

import (
	"slices"
	"testing"

	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// TestFamilyRoomLive: the family room over the real room engine: made at
// start, every account a member, the members' clients may join it and
// show as occupants to the admin; a deleted account leaves.
func TestFamilyRoomLive(t *testing.T) {
	srv := xmpptest.StartFamily(t)
	ctx := t.Context()
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	rooms, err := srv.Admin.Rooms(ctx)
	if err != nil || len(rooms) != 1 || rooms[0].JID != "family@conference.hearth.test" || rooms[0].Name != "Family" ||
		!rooms[0].Persistent || rooms[0].Public || !rooms[0].MembersOnly {
		t.Fatalf("Rooms = %+v, %v", rooms, err)
	}
	affs, err := srv.Admin.RoomAffiliations(ctx, "family")
	if err != nil || !slices.Equal(affs, []admin.RoomAffiliation{{JID: "alice@hearth.test", Affiliation: "member"}, {JID: "bob@hearth.test", Affiliation: "member"}}) {
		t.Fatalf("RoomAffiliations = %+v, %v", affs, err)
	}
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	alice.Send(`<presence to='family@conference.hearth.test/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	alice.Expect(`<presence from='family@conference.hearth.test/alice' to='alice@hearth.test/phone'>*</presence>`)
	alice.Expect(`<message type='groupchat' id='*' from='family@conference.hearth.test' to='alice@hearth.test/phone'><subject/></message>`)
	occ, err := srv.Admin.Occupants(ctx, "family")
	if err != nil || len(occ) != 1 || occ[0].Nick != "alice" || occ[0].Affiliation != "member" {
		t.Fatalf("Occupants = %+v, %v", occ, err)
	}
	if err := srv.Admin.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	affs, _ = srv.Admin.RoomAffiliations(ctx, "family")
	if !slices.Equal(affs, []admin.RoomAffiliation{{JID: "alice@hearth.test", Affiliation: "member"}}) {
		t.Errorf("after bob was deleted: %+v", affs)
	}
	if err := srv.Admin.DestroyRoom(ctx, "family", "moving", ""); err != nil {
		t.Fatal(err)
	}
	if rooms, _ := srv.Admin.Rooms(ctx); len(rooms) != 0 {
		t.Errorf("after destroy: %+v", rooms)
	}
}
