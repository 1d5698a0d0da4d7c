package storage

import (
	"errors"
	"io/fs"
	"maps"
	"testing"
	"testing/fstest"
)

// TestFamilyCircleMembers: the circle remembers whom it took in and with
// which group; a deleted account leaves it, clearing empties it, and an
// account that is gone cannot join.
func TestFamilyCircleMembers(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob", "carol")
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := db.JoinFamilyCircle(ctx, u, "Family"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.JoinFamilyCircle(ctx, "bob", "Home"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	got, err := db.FamilyCircle(ctx)
	if want := map[string]string{"alice": "Family", "bob": "Home"}; err != nil || !maps.Equal(got, want) {
		t.Errorf("FamilyCircle = %v, %v; want %v", got, err, want)
	}
	if err := db.JoinFamilyCircle(ctx, "carol", "Family"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted account joins: %v, want ErrNotFound", err)
	}
	if err := db.ClearFamilyCircle(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := db.FamilyCircle(ctx); err != nil || len(got) != 0 {
		t.Errorf("FamilyCircle after clear = %v, %v", got, err)
	}
}

// TestRelabelRosterGroup: a renamed family group takes the old name's
// place only on items that have it; an item its owner took out of the
// group, or removed, stays as it is.
func TestRelabelRosterGroup(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	const bob = "bob@home.test"
	for _, tt := range []struct {
		name       string
		before     *RosterItem // nil: not on the roster
		old, group string
		want       *RosterItem // nil: not on the roster
		changed    bool
	}{
		{name: "not on the roster", old: "Family", group: "Home"},
		{name: "renamed", before: &RosterItem{Contact: bob, Name: "Bobby", Subscription: "both", Groups: []string{"Kids", "Family"}},
			old: "Family", group: "Home",
			want: &RosterItem{Contact: bob, Name: "Bobby", Subscription: "both", Groups: []string{"Kids", "Home"}}, changed: true},
		{name: "taken out of the group", before: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Kids"}},
			old: "Family", group: "Home",
			want: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Kids"}}},
		{name: "new name already there", before: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Home", "Family"}},
			old: "Family", group: "Home",
			want: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Home"}}, changed: true},
		{name: "no group any more", before: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Home"}},
			old: "Home", group: "",
			want: &RosterItem{Contact: bob, Subscription: "both"}, changed: true},
		{name: "a group at last", old: "", group: "Family",
			want: &RosterItem{Contact: bob, Subscription: "both", Groups: []string{"Family"}}, changed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				if _, err := db.PutRosterItem(ctx, "alice", *tt.before); err != nil {
					t.Fatal(err)
				}
			}
			v0, _ := db.RosterVersion(ctx, "alice")
			_, ver, err := db.RelabelRosterGroup(ctx, "alice", bob, tt.old, tt.group)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := db.RosterItem(ctx, "alice", bob)
			switch {
			case tt.want == nil && !errors.Is(err, ErrNotFound):
				t.Errorf("stored %+v, %v; want none", stored, err)
			case tt.want != nil && (err != nil || !sameItem(stored, *tt.want)):
				t.Errorf("stored %+v, %v; want %+v", stored, err, *tt.want)
			}
			v1, _ := db.RosterVersion(ctx, "alice")
			if changed := ver != 0; changed != tt.changed || changed && ver != v1 || !changed && v1 != v0 {
				t.Errorf("version %d -> %d, returned %d; want changed %v", v0, v1, ver, tt.changed)
			}
		})
	}
}

// TestFamilyCircleUpgrade: a database of schema 1 with the circle on
// counts the accounts that have contacts as taken in, with the group the
// setting names, so that the upgrade's first start gives back no family
// contact someone removed; an account with no contacts is not (the start
// pairs it). With the circle off, no one is.
func TestFamilyCircleUpgrade(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings map[string]string
		want     map[string]string
	}{
		{"on", map[string]string{"family.circle": "true", "family.group": "Home"}, map[string]string{"alice": "Home", "bob": "Home"}},
		{"on, default group", map[string]string{"family.circle": "true"}, map[string]string{"alice": "Family", "bob": "Family"}},
		{"off", map[string]string{"family.circle": "false"}, map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			_, w := emptyWriter(t)
			b, err := fs.ReadFile(migrationFS, "migrations/0001_init.sql")
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, w, fstest.MapFS{"migrations/0001_init.sql": &fstest.MapFile{Data: b}}); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"alice", "bob", "carol"} {
				if _, err := w.ExecContext(ctx, `INSERT INTO users (name, sha1_salt, sha1_iters, sha1_stored, sha1_server,
					sha256_salt, sha256_iters, sha256_stored, sha256_server, created) VALUES (?, x'00', 1, x'00', x'00', x'00', 1, x'00', x'00', 0)`, u); err != nil {
					t.Fatal(err)
				}
			}
			// alice removed bob; carol was added while no server ran.
			for _, it := range [][2]string{{"alice", "carol@home.test"}, {"bob", "alice@home.test"}} {
				if _, err := w.ExecContext(ctx, `INSERT INTO roster (username, contact) VALUES (?, ?)`, it[0], it[1]); err != nil {
					t.Fatal(err)
				}
			}
			for k, v := range tt.settings {
				if _, err := w.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, k, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := migrate(ctx, w, migrationFS); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			rows, err := w.QueryContext(ctx, `SELECT username, grp FROM family_circle`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var u, g string
				if err := rows.Scan(&u, &g); err != nil {
					t.Fatal(err)
				}
				got[u] = g
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("family circle after the upgrade = %v, want %v", got, tt.want)
			}
		})
	}
}
