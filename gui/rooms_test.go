package gui

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"

	"fyne.io/fyne/v2/test"

	"hearth/server/admin"
)

// fakeRooms stands in for the server's room engine (mod/muc) behind the
// real admin API.
type fakeRooms struct {
	mu        sync.Mutex
	rooms     []admin.RoomInfo
	occupants map[string][]admin.Occupant
	affs      map[string]map[string]string
	reason    string
}

func (f *fakeRooms) Service() string { return "conference." + testDomain }
func (f *fakeRooms) Rooms() []admin.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rooms)
}
func (f *fakeRooms) find(room string) int {
	return slices.IndexFunc(f.rooms, func(r admin.RoomInfo) bool { return r.JID == room })
}
func (f *fakeRooms) Occupants(room string) ([]admin.Occupant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(room) < 0 {
		return nil, admin.ErrNotFound
	}
	return slices.Clone(f.occupants[room]), nil
}
func (f *fakeRooms) Destroy(_ context.Context, room, reason, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(room)
	if i < 0 {
		return admin.ErrNotFound
	}
	f.rooms = slices.Delete(f.rooms, i, i+1)
	f.reason = reason
	return nil
}
func (f *fakeRooms) Affiliations(_ context.Context, room string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(room) < 0 {
		return nil, admin.ErrNotFound
	}
	return maps.Clone(f.affs[room]), nil
}
func (f *fakeRooms) SetAffiliation(_ context.Context, room, who, aff, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.find(room) < 0 {
		return admin.ErrNotFound
	}
	if aff == "none" {
		delete(f.affs[room], who)
	} else {
		f.affs[room][who] = aff
	}
	return nil
}

func (f *fakeRooms) affiliation(room, who string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.affs[room][who]
}

// newFakeRooms is a family room with grandma in it, and an empty one.
func newFakeRooms() *fakeRooms {
	family, games := "family@conference."+testDomain, "games@conference."+testDomain
	return &fakeRooms{
		rooms: []admin.RoomInfo{
			{JID: family, Name: "Family", Description: "Everyone at home", Subject: "Sunday lunch", Persistent: true, MembersOnly: true, Archived: true, Occupants: 1},
			{JID: games, Public: true},
		},
		occupants: map[string][]admin.Occupant{family: {{Nick: "Gran", JID: "grandma@" + testDomain + "/tablet", Role: "participant", Affiliation: "member"}}},
		affs:      map[string]map[string]string{family: {"grandma@" + testDomain: "member"}, games: {}},
	}
}

// roomsHarness runs the window over a real server whose room engine is a
// stand-in.
func roomsHarness(t *testing.T, f *fakeRooms) *harness {
	api := newTestAPI(t)
	api.(*admin.Local).MUC = f
	return harnessOver(t, api)
}

// TestRoomsTab: the Rooms tab lists the rooms with how many are in them;
// selecting one shows its configuration, occupants and affiliations;
// Set gives someone a place (and says why it cannot, in words); Destroy
// asks first, and Cancel keeps the room.
func TestRoomsTab(t *testing.T) {
	f := newFakeRooms()
	h := roomsHarness(t, f)
	family := "family@conference." + testDomain
	h.showTab("Rooms")
	h.waitFor("the rooms", func() bool {
		return h.showsText("Family ("+family+": 1 person in it)") && h.showsText("games@conference."+testDomain+": empty")
	})
	h.tap("Family (" + family + ": 1 person in it)")
	h.waitFor("the family room's details", func() bool {
		return h.showsText("Kept when empty, not listed, members only, history kept.") &&
			h.showsText("Gran (grandma@"+testDomain+"/tablet), participant, member") &&
			h.showsText("grandma@"+testDomain+": member")
	})

	test.Type(h.ui.rooms.who, "troll@example.org")
	h.ui.rooms.affiliation.SetSelected("outcast")
	h.tap("Set")
	h.waitFor("troll banned", func() bool { return f.affiliation(family, "troll@example.org") == "outcast" })
	h.waitFor("troll shown banned", func() bool { return h.showsText("troll@example.org: outcast") })
	test.Type(h.ui.rooms.who, "a b")
	h.ui.rooms.affiliation.SetSelected("member")
	h.tap("Set")
	h.waitFor("why not", func() bool {
		return h.showsText("Cannot change a b in " + family + ": set room affiliation in " + family + ": \"a b\" is not an address")
	})

	h.tap("Destroy room…")
	h.waitFor("the question", func() bool { return h.dialogTitled("Destroy " + family + "?") })
	h.tap("Cancel")
	h.settle()
	if rooms, _ := h.api.Rooms(h.ctx()); len(rooms) != 2 {
		t.Fatalf("Cancel destroyed the room: %+v", rooms)
	}
	h.tap("Destroy room…")
	h.waitFor("the question", func() bool { return h.dialogTitled("Destroy " + family + "?") })
	h.tap("Destroy")
	h.waitFor("the room gone", func() bool { return !h.showsText(family) })
	if rooms, _ := h.api.Rooms(h.ctx()); len(rooms) != 1 {
		t.Errorf("rooms after Destroy: %+v", rooms)
	}
}

// TestRoomsTabNoEngine: a server without rooms says so.
func TestRoomsTabNoEngine(t *testing.T) {
	api := newTestAPI(t)
	api.(*admin.Local).MUC = nil
	h := harnessOver(t, api)
	h.showTab("Rooms")
	h.waitFor("why there are no rooms", func() bool {
		return h.showsText("Cannot read the chat rooms: this server has no chat rooms")
	})
}
