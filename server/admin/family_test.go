package admin

import (
	"slices"
	"testing"

	"hearth/storage"
)

// MakeMutual makes two accounts of the server contacts of each other with
// subscription both, keeping names and groups, and answers a contact on
// another server or an unknown account with the right kind of error; a
// running server is asked to do it (and told about new accounts).
func TestMakeMutual(t *testing.T) {
	for _, live := range []bool{false, true} {
		name := "database only"
		if live {
			name = "running server"
		}
		t.Run(name, func(t *testing.T) { testMakeMutual(t, live) })
	}
}

func testMakeMutual(t *testing.T, live bool) {
	var h *hooks
	setup := func(l *Local) {
		if live {
			h = &hooks{db: l.DB, info: Info{Domain: domain, Running: true}}
			l.Live = h
		}
	}
	eachAPI(t, setup, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		for _, u := range []string{"alice", "bob"} {
			if err := api.AddUser(ctx, u, "silver-kettle-pw"); err != nil {
				t.Fatal(err)
			}
		}
		// alice asked to see bob, and bob has not answered yet.
		if _, err := l.DB.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@test.home", Name: "Bobby",
			Subscription: "none", Ask: true, Groups: []string{"Kids"}}); err != nil {
			t.Fatal(err)
		}
		if err := l.DB.AddPending(ctx, "bob", "alice@test.home", []byte("<presence/>")); err != nil {
			t.Fatal(err)
		}
		checkErr(t, "mutual", api.MakeMutual(ctx, "alice", "bob@test.home"), nil)
		checkErr(t, "mutual again", api.MakeMutual(ctx, "bob@test.home", "alice@test.home"), nil)
		checkErr(t, "remote contact", api.MakeMutual(ctx, "alice", "dad@example.org"), ErrInvalid)
		checkErr(t, "itself", api.MakeMutual(ctx, "alice", "alice@test.home"), ErrInvalid)
		checkErr(t, "unknown contact", api.MakeMutual(ctx, "alice", "nobody@test.home"), ErrNotFound)
		checkErr(t, "unknown user", api.MakeMutual(ctx, "nobody", "bob@test.home"), ErrNotFound)

		for _, c := range []struct {
			user string
			want []RosterItem
		}{
			{"alice", []RosterItem{{JID: "bob@test.home", Name: "Bobby", Subscription: "both", Groups: []string{"Kids"}}}},
			{"bob", []RosterItem{{JID: "alice@test.home", Subscription: "both"}}},
		} {
			got, err := api.Roster(ctx, c.user)
			if err != nil || !slices.EqualFunc(got, c.want, rosterEqual) {
				t.Errorf("roster of %s = %+v, %v; want %+v", c.user, got, err, c.want)
			}
		}
		if ok, err := l.DB.HasPending(ctx, "bob", "alice@test.home"); err != nil || ok {
			t.Errorf("alice's request to bob still pending: %v, %v", ok, err)
		}
		if live {
			if got, want := h.get(&h.added), []string{"alice", "bob"}; !slices.Equal(got, want) {
				t.Errorf("UserAdded calls %q, want %q", got, want)
			}
			if got, want := h.get(&h.mutual), []string{"alice bob@test.home", "bob alice@test.home"}; !slices.Equal(got, want) {
				t.Errorf("MakeMutual calls %q, want %q", got, want)
			}
		}
	})
}

// Without a running server, a deleted account still leaves every roster
// and its unanswered requests go (a running server's own test is
// server.TestDeletedAccountLeavesRosters).
func TestDeleteUserLeavesRosters(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := l.AddUser(ctx, u, "silver-kettle-pw"); err != nil {
			t.Fatal(err)
		}
	}
	checkErr(t, "mutual", l.MakeMutual(ctx, "alice", "bob@test.home"), nil)
	if err := l.DB.AddPending(ctx, "carol", "bob@test.home", []byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	checkErr(t, "delete bob", l.DeleteUser(ctx, "bob"), nil)
	if got, err := l.Roster(ctx, "alice"); err != nil || len(got) != 0 {
		t.Errorf("alice's roster after bob was deleted = %+v, %v", got, err)
	}
	if ok, err := l.DB.HasPending(ctx, "carol", "bob@test.home"); err != nil || ok {
		t.Errorf("bob's request to carol kept: %v, %v", ok, err)
	}
}
