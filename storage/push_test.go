package storage

import (
	"errors"
	"testing"
	"time"
)

// TestPush: registrations are kept per service and node, replaced in
// place, bounded per account, and removed one node or a whole service.
func TestPush(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	now := time.Now()
	add := func(service, node, res string) error {
		return db.AddPush(ctx, "alice", Push{Service: service, Node: node, Resource: res, Options: []byte("<x/>"), Created: now}, 2)
	}
	if err := errors.Join(add("push.example.org", "a", "phone"), add("push.example.org", "b", "tablet"), add("push.example.org", "a", "phone2")); err != nil {
		t.Fatal(err)
	}
	if err := add("other.example.org", "c", "pc"); !errors.Is(err, ErrQuota) {
		t.Errorf("a third registration past the limit of 2: %v, want ErrQuota", err)
	}
	if err := db.AddPush(ctx, "nobody", Push{Service: "s", Node: "n", Created: now}, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("for no such account: %v, want ErrNotFound", err)
	}
	ps, err := db.Pushes(ctx, "alice")
	if err != nil || len(ps) != 2 || ps[0].Node != "a" || ps[0].Resource != "phone2" || string(ps[0].Options) != "<x/>" {
		t.Fatalf("Pushes = %+v, %v; want a (replaced, phone2) and b", ps, err)
	}
	if us, err := db.PushUsers(ctx); err != nil || len(us) != 1 || us[0] != "alice" {
		t.Errorf("PushUsers = %q, %v", us, err)
	}
	if ok, err := db.RemovePushMade(ctx, "alice", "push.example.org", "b", now.Add(-time.Hour)); err != nil || ok {
		t.Errorf("remove a registration made at another time: %v, %v; want nothing removed", ok, err)
	}
	if ok, err := db.RemovePushMade(ctx, "alice", "push.example.org", "b", now); err != nil || !ok {
		t.Errorf("remove the registration made then: %v, %v", ok, err)
	}
	if err := add("push.example.org", "b", "tablet"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.RemovePush(ctx, "alice", "push.example.org", "b"); err != nil || n != 1 {
		t.Errorf("remove one node: %d, %v", n, err)
	}
	if err := add("push.example.org", "d", "pc"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.RemovePush(ctx, "alice", "push.example.org", ""); err != nil || n != 2 {
		t.Errorf("remove the service's nodes: %d, %v; want 2", n, err)
	}
}
