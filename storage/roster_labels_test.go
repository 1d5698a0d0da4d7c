package storage

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

// TestLabelRosterItem: labels change, the subscription state never does.
func TestLabelRosterItem(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateUser(ctx, User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	it, v1, err := db.LabelRosterItem(ctx, "alice", "bob@example.org", "Bob", []string{"Family"})
	if err != nil || it.Subscription != "none" || it.Ask || it.Approved {
		t.Fatalf("new item = %+v, %v", it, err)
	}
	if _, err := db.PutRosterItem(ctx, "alice", RosterItem{Contact: "bob@example.org", Name: "Bob", Subscription: "to", Ask: true, Approved: true}); err != nil {
		t.Fatal(err)
	}
	it, v2, err := db.LabelRosterItem(ctx, "alice", "bob@example.org", "Bobby", []string{"Friends", "Work"})
	if err != nil || it.Subscription != "to" || !it.Ask || !it.Approved || it.Name != "Bobby" || v2 <= v1 {
		t.Fatalf("relabelled item = %+v (ver %d after %d), %v", it, v2, v1, err)
	}
	stored, err := db.RosterItem(ctx, "alice", "bob@example.org")
	if err != nil || stored.Subscription != "to" || !stored.Ask || !stored.Approved || stored.Name != "Bobby" || !slices.Equal(stored.Groups, []string{"Friends", "Work"}) {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if _, _, err := db.LabelRosterItem(ctx, "nobody", "bob@example.org", "", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
