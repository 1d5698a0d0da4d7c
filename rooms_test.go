package main

import (
	"bytes"
	"context"

	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"hearth/server/admin"
	"hearth/storage"
)

// fakeRooms is a stand-in room engine behind the admin socket.
type fakeRooms struct {
	mu        sync.Mutex
	rooms     []admin.RoomInfo
	occupants map[string][]admin.Occupant
	affs      map[string]map[string]string
	destroyed []string // room, reason, alternate
}

var errNoRoom = admin.ErrNotFound

func (f *fakeRooms) Service() string { return "conference.test.home" }
func (f *fakeRooms) Rooms() []admin.RoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]admin.RoomInfo(nil), f.rooms...)
}
func (f *fakeRooms) has(room string) bool {
	for _, r := range f.rooms {
		if r.JID == room {
			return true
		}
	}
	return false
}
func (f *fakeRooms) Occupants(room string) ([]admin.Occupant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.has(room) {
		return nil, errNoRoom
	}
	return f.occupants[room], nil
}
func (f *fakeRooms) Destroy(_ context.Context, room, reason, alternate string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.has(room) {
		return errNoRoom
	}
	f.destroyed = append(f.destroyed, room, reason, alternate)
	return nil
}
func (f *fakeRooms) Affiliations(_ context.Context, room string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.has(room) {
		return nil, errNoRoom
	}
	return maps.Clone(f.affs[room]), nil
}
func (f *fakeRooms) SetAffiliation(_ context.Context, room, who, aff, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.has(room) {
		return errNoRoom
	}
	if aff == "none" {
		delete(f.affs[room], who)
	} else {
		f.affs[room][who] = aff
	}
	return nil
}

// TestRoomsCommand: hearth rooms over the admin socket of a server whose
// room engine is a stand-in: the list, a room shown, an affiliation
// given and taken, a room destroyed with a reason and a room to go to,
// and mistakes told in plain words.
func TestRoomsCommand(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	db, err := storage.Open(ctx, filepath.Join(data, dbName))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRooms{
		rooms: []admin.RoomInfo{
			{JID: "family@conference.test.home", Name: "Family", Description: "Everyone at home", Subject: "Sunday lunch",
				Persistent: true, MembersOnly: true, Archived: true, Occupants: 1},
			{JID: "games@conference.test.home", Name: "Games\x1b[2J", Public: true},
		},
		occupants: map[string][]admin.Occupant{"family@conference.test.home": {{Nick: "Gran", JID: "grandma@test.home/tablet", Role: "participant", Affiliation: "member"}}},
		affs:      map[string]map[string]string{"family@conference.test.home": {"grandma@test.home": "member", "dad@test.home": "owner"}, "games@conference.test.home": {}},
	}
	ln, err := admin.Listen(data)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- admin.Serve(ctx, ln, &admin.Local{DB: db, Domain: "test.home", DataDir: data, MUC: f})
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		db.Close()
	})
	run := func(code int, want string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		c := &cli{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		if got := c.run(t.Context(), append(args, "--data", data)); got != code {
			t.Errorf("hearth %s: exit code %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out.String(), errOut.String())
		}
		all := out.String() + errOut.String()
		if !regexp.MustCompile(want).MatchString(all) {
			t.Errorf("hearth %s: %q does not match %q", strings.Join(args, " "), all, want)
		}
		return all
	}
	run(0, `(?m)\AROOM +NAME +OCCUPANTS +FLAGS\n`+
		`family@conference\.test\.home +Family +1 +persistent,hidden,members-only,archived\n`+
		`games@conference\.test\.home +Games\?\[2J +0 +temporary,public,open\n\z`, "rooms")
	run(0, `(?s)room: +family@conference\.test\.home\nname: +Family\ndescription: +Everyone at home\nsubject: +Sunday lunch\n`+
		`flags: +persistent,hidden,members-only,archived\nNICK +JID +ROLE +AFFILIATION\nGran +grandma@test\.home/tablet +participant +member\n`+
		`AFFILIATED +AFFILIATION\ndad@test\.home +owner\ngrandma@test\.home +member\n\z`, "rooms", "show", "Family")
	run(0, `(?s)room: +games@conference\.test\.home\n.*occupants: +none\naffiliations: +none\n\z`, "rooms", "show", "games@conference.test.home")
	run(0, `^$`, "rooms", "affiliation", "family", "troll@example.org", "outcast")
	run(0, `^$`, "rooms", "affiliation", "family", "grandma", "none")
	if got := f.affs["family@conference.test.home"]; !maps.Equal(got, map[string]string{"dad@test.home": "owner", "troll@example.org": "outcast"}) {
		t.Errorf("affiliations after the command: %v", got)
	}
	run(0, `^$`, "rooms", "destroy", "games", "--reason", "nobody plays", "--alternate", "family@conference.test.home")
	if want := []string{"games@conference.test.home", "nobody plays", "family@conference.test.home"}; !slices.Equal(f.destroyed, want) {
		t.Errorf("destroyed %q, want %q", f.destroyed, want)
	}
	// Mistakes.
	run(1, `hearth: make grandma@test\.home member of attic@conference\.test\.home: there is no such room \(hearth rooms lists them\)\n`, "rooms", "affiliation", "attic", "grandma", "member")
	run(1, `"king" is not an affiliation: give one of owner, admin, member, outcast, none`, "rooms", "affiliation", "family", "grandma", "king")
	run(1, `"tea@conference\.example\.org" is not a room of this server: its rooms are at conference\.test\.home`, "rooms", "show", "tea@conference.example.org")
	run(2, `usage: hearth rooms show ROOM`, "rooms", "show")
	run(2, `--reason and --alternate are for hearth rooms destroy`, "rooms", "list", "--reason", "x")
	run(2, `rooms: unknown command "frob"`, "rooms", "frob")
}

// TestRoomsOffline: with no server running, hearth rooms says that rooms
// live in the running server.
func TestRoomsOffline(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "silver-kettle-pw", d)
	for _, args := range [][]string{{"rooms"}, {"rooms", "show", "family"}, {"rooms", "affiliation", "family", "alice", "owner"}} {
		r := check(t, e, "", 1, `^$`, append(args, d)...)
		if !strings.Contains(r.stderr, "chat rooms live in the running server; start Hearth first") {
			t.Errorf("hearth %s: stderr %q", strings.Join(args, " "), r.stderr)
		}
	}
	if r := check(t, e, "", 2, "", "rooms", "affiliation", "family", d); !strings.Contains(r.stderr, "usage: hearth rooms affiliation ROOM JID owner|admin|member|outcast|none") {
		t.Errorf("stderr %q", r.stderr)
	}
}
