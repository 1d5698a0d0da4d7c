package storage

import (
	"errors"
	"slices"
	"testing"
)

// TestLinkLocalUsers: opting in and out, idempotent; an account that
// does not exist cannot; a deleted account leaves.
func TestLinkLocalUsers(t *testing.T) {
	db := newDB(t)
	ctx := t.Context()
	addUser(t, db, "alice", "bob")
	check := func(want ...string) {
		t.Helper()
		got, err := db.LinkLocalUsers(ctx)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("LinkLocalUsers = %q, %v; want %q", got, err, want)
		}
	}
	check()
	for _, u := range []string{"bob", "alice", "alice"} {
		if err := db.SetLinkLocal(ctx, u, true); err != nil {
			t.Fatal(err)
		}
	}
	check("alice", "bob")
	if err := db.SetLinkLocal(ctx, "bob", false); err != nil {
		t.Fatal(err)
	}
	check("alice")
	for _, on := range []bool{true, false} {
		if err := db.SetLinkLocal(ctx, "nobody", on); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetLinkLocal(nobody, %v) = %v, want ErrNotFound", on, err)
		}
	}
	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	check()
}
