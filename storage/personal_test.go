package storage

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

func TestVCard(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	for _, xml := range []string{"<vCard xmlns='vcard-temp'><FN>A</FN></vCard>", "<vCard xmlns='vcard-temp'/>"} {
		if err := db.SetVCard(ctx, "alice", []byte(xml)); err != nil {
			t.Fatal(err)
		}
		got, err := db.VCard(ctx, "alice")
		if err != nil || string(got) != xml {
			t.Errorf("VCard = %q, %v; want %q", got, err, xml)
		}
	}
	if _, err := db.VCard(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob's VCard: %v", err)
	}
}

func TestPrivate(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	const key = "storage storage:bookmarks"
	steps := []struct {
		user, key, set string // set "": only read
		want           string // "": ErrNotFound
	}{
		{"alice", key, "<storage xmlns='storage:bookmarks'/>", "<storage xmlns='storage:bookmarks'/>"},
		{"alice", key, "<storage xmlns='storage:bookmarks'><conference/></storage>", "<storage xmlns='storage:bookmarks'><conference/></storage>"},
		{"alice", "storage other:ns", "", ""},
		{"bob", key, "", ""},
		{"bob", "x y", "<x xmlns='y'/>", "<x xmlns='y'/>"},
		{"alice", key, "", "<storage xmlns='storage:bookmarks'><conference/></storage>"},
	}
	for _, tt := range steps {
		if tt.set != "" {
			if err := db.SetPrivate(ctx, tt.user, tt.key, []byte(tt.set)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Private(ctx, tt.user, tt.key)
		if tt.want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Private(%s, %s) = %q, %v; want ErrNotFound", tt.user, tt.key, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("Private(%s, %s) = %q, %v; want %q", tt.user, tt.key, got, err, tt.want)
		}
	}
}

func TestBlockList(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	if err := db.Block(ctx, "bob", []string{"b@x"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		op   func() error
		want []string
	}{
		{"empty", func() error { return nil }, nil},
		{"block nothing", func() error { return db.Block(ctx, "alice", nil) }, nil},
		{"block", func() error { return db.Block(ctx, "alice", []string{"z@x", "a@x", "x/res", "x"}) }, []string{"a@x", "x", "x/res", "z@x"}},
		{"block again", func() error { return db.Block(ctx, "alice", []string{"a@x", "b@x", "b@x"}) }, []string{"a@x", "b@x", "x", "x/res", "z@x"}},
		{"unblock", func() error { return db.Unblock(ctx, "alice", []string{"x", "z@x", "absent@x"}) }, []string{"a@x", "b@x", "x/res"}},
		{"unblock all", func() error { return db.Unblock(ctx, "alice", nil) }, nil},
		{"block after all", func() error { return db.Block(ctx, "alice", []string{"c@x"}) }, []string{"c@x"}},
		{"unblock all, empty", func() error { return db.Unblock(ctx, "alice", []string{}) }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err != nil {
				t.Fatal(err)
			}
			got, err := db.BlockList(ctx, "alice")
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("BlockList = %q, %v; want %q", got, err, tt.want)
			}
			for _, j := range []string{"a@x", "b@x", "c@x", "x", "x/res", "z@x", "nobody@x"} {
				blocked, err := db.IsBlocked(ctx, "alice", j)
				if err != nil || blocked != slices.Contains(tt.want, j) {
					t.Errorf("IsBlocked(%s) = %v, %v", j, blocked, err)
				}
			}
		})
	}
	// bob's list is his own.
	if got, err := db.BlockList(ctx, "bob"); err != nil || !slices.Equal(got, []string{"b@x"}) {
		t.Errorf("bob's BlockList = %q, %v", got, err)
	}
}

func TestBlockIsAtomic(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	// Every insert fails on the missing user; none may stay.
	if err := db.Block(ctx, "nobody", []string{"a@x", "b@x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Block = %v", err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM blocks`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows, %v", n, err)
	}
}

func TestLastActivity(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	for _, tt := range []struct {
		at     time.Time
		status string
	}{
		{time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("CET", 3600)), "Heading home"},
		{time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), ""},
	} {
		if err := db.SetLastActivity(ctx, "alice", tt.at, tt.status); err != nil {
			t.Fatal(err)
		}
		at, status, err := db.LastActivity(ctx, "alice")
		if err != nil || !at.Equal(tt.at) || status != tt.status || at.Location() != time.UTC {
			t.Errorf("LastActivity = %v, %q, %v; want %v, %q", at, status, err, tt.at, tt.status)
		}
	}
}

func TestSettings(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	for _, tt := range []struct {
		name string
		op   func() error
		want map[string]string
	}{
		{"none", func() error { return nil }, map[string]string{}},
		{"set", func() error { return db.SetSetting(ctx, "domain", "home.local") }, map[string]string{"domain": "home.local"}},
		{"set another", func() error { return db.SetSetting(ctx, "federation.enabled", "false") },
			map[string]string{"domain": "home.local", "federation.enabled": "false"}},
		{"replace", func() error { return db.SetSetting(ctx, "domain", "example.org") },
			map[string]string{"domain": "example.org", "federation.enabled": "false"}},
		{"empty value", func() error { return db.SetSetting(ctx, "acme.email", "") },
			map[string]string{"domain": "example.org", "federation.enabled": "false", "acme.email": ""}},
		{"delete", func() error { return db.DeleteSetting(ctx, "federation.enabled") },
			map[string]string{"domain": "example.org", "acme.email": ""}},
		{"delete absent", func() error { return db.DeleteSetting(ctx, "federation.enabled") },
			map[string]string{"domain": "example.org", "acme.email": ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err != nil {
				t.Fatal(err)
			}
			got, err := db.Settings(ctx)
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("Settings = %v, %v; want %v", got, err, tt.want)
			}
			for _, k := range []string{"domain", "federation.enabled", "acme.email"} {
				v, err := db.Setting(ctx, k)
				want, ok := tt.want[k]
				if ok && (err != nil || v != want) || !ok && !errors.Is(err, ErrNotFound) {
					t.Errorf("Setting(%s) = %q, %v", k, v, err)
				}
			}
		})
	}
}
