package storage

import (
	"slices"
	"testing"
	"time"
)

func TestRosterItems(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	for _, tt := range []struct {
		name    string
		put     RosterItem
		want    RosterItem // read back; zero: same as put
		wantErr bool
	}{
		{name: "minimal", put: RosterItem{Contact: "bob@example.org"},
			want: RosterItem{Contact: "bob@example.org", Subscription: "none"}},
		{name: "full", put: RosterItem{Contact: "carol@example.org", Name: "Carol ❤", Subscription: "both",
			Ask: true, Approved: true, Groups: []string{"Family", "with \"quotes\"\n", "日本"}}},
		{name: "replace", put: RosterItem{Contact: "bob@example.org", Name: "Bob", Subscription: "to", Groups: []string{"Work"}}},
		{name: "groups dropped", put: RosterItem{Contact: "carol@example.org", Subscription: "from", Groups: []string{}},
			want: RosterItem{Contact: "carol@example.org", Subscription: "from"}},
		{name: "bad subscription", put: RosterItem{Contact: "dave@example.org", Subscription: "remove"}, wantErr: true},
		{name: "empty contact", put: RosterItem{}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := db.RosterVersion(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			ver, err := db.PutRosterItem(ctx, "alice", tt.put)
			after, _ := db.RosterVersion(ctx, "alice")
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if after != before {
					t.Errorf("failed put moved version %d -> %d", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ver <= before || ver != after {
				t.Errorf("version %d -> %d, RosterVersion %d", before, ver, after)
			}
			want := tt.want
			if want.Contact == "" {
				want = tt.put
			}
			got, err := db.RosterItem(ctx, "alice", tt.put.Contact)
			if err != nil {
				t.Fatal(err)
			}
			if !sameItem(got, want) {
				t.Errorf("RosterItem = %#v, want %#v", got, want)
			}
		})
	}
	items, ver, err := db.Roster(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Contact != "bob@example.org" || items[1].Contact != "carol@example.org" || ver != 4 {
		t.Errorf("Roster = %#v, version %d", items, ver)
	}
}

func sameItem(a, b RosterItem) bool {
	return a.Contact == b.Contact && a.Name == b.Name && a.Subscription == b.Subscription &&
		a.Ask == b.Ask && a.Approved == b.Approved && slices.Equal(a.Groups, b.Groups)
}

// Roster versions only grow: through puts and deletes, across users, and
// across deleting and re-creating a user.
func TestRosterVersions(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	if _, ver, err := db.Roster(ctx, "alice"); err != nil || ver != 0 {
		t.Fatalf("new roster: version %d, %v", ver, err)
	}
	put := func(user, contact string) func() (int64, error) {
		return func() (int64, error) { return db.PutRosterItem(ctx, user, RosterItem{Contact: contact}) }
	}
	del := func(user, contact string) func() (int64, error) {
		return func() (int64, error) { return db.DeleteRosterItem(ctx, user, contact) }
	}
	var last int64
	for _, tt := range []struct {
		name    string
		step    func() (int64, error)
		wantErr error
	}{
		{"put", put("alice", "a@x"), nil},
		{"put other", put("alice", "b@x"), nil},
		{"put same", put("alice", "b@x"), nil},
		{"delete", del("alice", "a@x"), nil},
		{"delete again", del("alice", "a@x"), ErrNotFound},
		{"bob's roster", put("bob", "a@x"), nil},
		{"delete last", del("alice", "b@x"), nil},
		{"put after emptying", put("alice", "a@x"), nil},
		{"re-create", func() (int64, error) {
			if err := db.DeleteUser(ctx, "alice"); err != nil {
				return 0, err
			}
			addUser(t, db, "alice")
			return db.PutRosterItem(ctx, "alice", RosterItem{Contact: "a@x"})
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ver, err := tt.step()
			if !matches(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if ver <= last {
				t.Errorf("version %d after %d", ver, last)
			}
			last = ver
		})
	}
	if got, err := db.RosterVersion(ctx, "alice"); err != nil || got != last {
		t.Errorf("RosterVersion = %d, %v; want %d", got, err, last)
	}
}

func TestRosterSubscribers(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	for _, it := range []RosterItem{
		{Contact: "none@x", Subscription: "none", Ask: true},
		{Contact: "to@x", Subscription: "to"},
		{Contact: "from@x", Subscription: "from"},
		{Contact: "both@x", Subscription: "both"},
		{Contact: "approved@x", Approved: true},
	} {
		if _, err := db.PutRosterItem(ctx, "alice", it); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		user string
		want []string
	}{
		{"alice", []string{"both@x", "from@x"}},
		{"nobody", nil},
	} {
		t.Run(tt.user, func(t *testing.T) {
			got, err := db.RosterSubscribers(ctx, tt.user)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("RosterSubscribers = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	start := time.Now().Add(-time.Second)
	for _, tt := range []struct {
		name string
		op   func() error
		want []string // contact:stanza, oldest first
	}{
		{"first", func() error { return db.AddPending(ctx, "alice", "x@example.org", []byte("<presence id='1'/>")) },
			[]string{"x@example.org:<presence id='1'/>"}},
		{"second", func() error { return db.AddPending(ctx, "alice", "y@example.org", []byte("<presence id='2'/>")) },
			[]string{"x@example.org:<presence id='1'/>", "y@example.org:<presence id='2'/>"}},
		{"replace", func() error { return db.AddPending(ctx, "alice", "x@example.org", []byte("<presence id='3'/>")) },
			[]string{"y@example.org:<presence id='2'/>", "x@example.org:<presence id='3'/>"}},
		{"other user", func() error { return db.AddPending(ctx, "bob", "z@example.org", nil) },
			[]string{"y@example.org:<presence id='2'/>", "x@example.org:<presence id='3'/>"}},
		{"delete", func() error { return db.DeletePending(ctx, "alice", "y@example.org") },
			[]string{"x@example.org:<presence id='3'/>"}},
		{"delete absent", func() error { return db.DeletePending(ctx, "alice", "y@example.org") },
			[]string{"x@example.org:<presence id='3'/>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err != nil {
				t.Fatal(err)
			}
			ps, err := db.PendingFor(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Contact+":"+string(p.Stanza))
				if p.Received.Before(start) || p.Received.After(time.Now()) {
					t.Errorf("Received = %v", p.Received)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PendingFor = %q, want %q", got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		user, contact string
		want          bool
	}{
		{"alice", "x@example.org", true},
		{"alice", "y@example.org", false},
		{"alice", "z@example.org", false},
		{"bob", "z@example.org", true},
		{"nobody", "x@example.org", false},
	} {
		got, err := db.HasPending(ctx, tt.user, tt.contact)
		if err != nil || got != tt.want {
			t.Errorf("HasPending(%s, %s) = %v, %v", tt.user, tt.contact, got, err)
		}
	}
	if ps, err := db.PendingFor(ctx, "bob"); err != nil || len(ps) != 1 || len(ps[0].Stanza) != 0 {
		t.Errorf("empty stanza reads back as %#v, %v", ps, err)
	}
}
