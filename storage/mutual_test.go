package storage

import (
	"errors"
	"slices"
	"testing"
)

// MutualRosterItem turns any state into both, keeping the name and the
// groups, adding or renaming the group, dropping the contact's pending
// request, and bumps the version only when something changed.
func TestMutualRosterItem(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	const bob = "bob@home.test"
	for _, tt := range []struct {
		name           string
		before         *RosterItem // nil: not on the roster
		pending        bool
		group, replace string
		want           RosterItem
		changed        bool
	}{
		{name: "new", group: "Family",
			want: RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Family"}}, changed: true},
		{name: "same again", group: "Family",
			want: RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Family"}}},
		{name: "asked and pending", before: &RosterItem{Contact: bob, Name: "Bobby", Subscription: "none", Ask: true, Approved: true, Groups: []string{"Kids"}},
			pending: true, group: "Family",
			want: RosterItem{Contact: bob, Name: "Bobby", Subscription: "both", Groups: []string{"Kids", "Family"}}, changed: true},
		{name: "renamed group", group: "Home", replace: "Family",
			want: RosterItem{Contact: bob, Name: "Bobby", Subscription: "both", Groups: []string{"Kids", "Home"}}, changed: true},
		{name: "no group", before: &RosterItem{Contact: bob, Subscription: "from"},
			want: RosterItem{Contact: bob, Subscription: "both"}, changed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				if _, err := db.PutRosterItem(ctx, "alice", *tt.before); err != nil {
					t.Fatal(err)
				}
			}
			if tt.pending {
				if err := db.AddPending(ctx, "alice", bob, []byte("<presence/>")); err != nil {
					t.Fatal(err)
				}
			}
			v0, _ := db.RosterVersion(ctx, "alice")
			it, _, ver, err := db.MutualRosterItem(ctx, "alice", bob, tt.group, tt.replace)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := db.RosterItem(ctx, "alice", bob)
			if err != nil || !sameItem(it, tt.want) || !sameItem(stored, tt.want) {
				t.Errorf("item %+v, stored %+v, %v; want %+v", it, stored, err, tt.want)
			}
			v1, _ := db.RosterVersion(ctx, "alice")
			if changed := ver != 0; changed != tt.changed || tt.changed && (ver != v1 || v1 <= v0) || !tt.changed && v1 != v0 {
				t.Errorf("version %d -> %d, returned %d; want changed %v", v0, v1, ver, tt.changed)
			}
			if ok, _ := db.HasPending(ctx, "alice", bob); ok {
				t.Error("bob's request still pending")
			}
		})
	}
	if _, _, _, err := db.MutualRosterItem(ctx, "nobody", bob, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}

	// A contact whose account is gone (deleted while the family circle
	// paired it) is not put on the roster: the deletion's clean-up of
	// rosters may already have run.
	addUser(t, db, "dave")
	if err := db.DeleteUser(ctx, "dave"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"dave@home.test", "nobody@home.test", "home.test"} {
		if _, _, _, err := db.MutualRosterItem(ctx, "alice", c, "Family", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("contact %s without an account: %v, want ErrNotFound", c, err)
		}
		if _, err := db.RosterItem(ctx, "alice", c); !errors.Is(err, ErrNotFound) {
			t.Errorf("contact %s without an account is on alice's roster: %v", c, err)
		}
	}

	addUser(t, db, "carol")
	if _, err := db.PutRosterItem(ctx, "carol", RosterItem{Contact: bob, Subscription: "to"}); err != nil {
		t.Fatal(err)
	}
	users, items, err := db.RosterHolders(ctx, bob)
	if err != nil || !slices.Equal(users, []string{"alice", "carol"}) || items[1].Subscription != "to" {
		t.Errorf("RosterHolders = %q, %+v, %v", users, items, err)
	}
}
