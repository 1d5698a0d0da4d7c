package storage

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestFASTTokens: the two slots of a device, replay counts, rotation, and
// every way an account's tokens go.
func TestFASTTokens(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	s1, s256, err := NewCredentials("silver-kettle-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, User{Name: "alice", SHA1: s1, SHA256: s256}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := func(seed string) FASTToken {
		return FASTToken{User: "alice", Agent: "phone", Seed: []byte(seed), Mechanism: "HT-SHA-256-NONE", Issued: now, Expires: now.Add(time.Hour)}
	}
	list := func() []FASTToken {
		t.Helper()
		ts, err := db.FASTTokens(ctx, "alice", "phone", now)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	use := func(seed string, next bool, count int64) bool {
		t.Helper()
		tk := tok(seed)
		tk.Next = next
		ok, err := db.UseFASTToken(ctx, tk, count)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	if err := db.AddFASTToken(ctx, FASTToken{User: "nobody", Agent: "x", Seed: []byte("s"), Issued: now, Expires: now.Add(time.Hour)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("token for a missing account: %v, want ErrNotFound", err)
	}
	if err := db.AddFASTToken(ctx, tok("one")); err != nil {
		t.Fatal(err)
	}
	if ts := list(); len(ts) != 1 || !ts[0].Next || string(ts[0].Seed) != "one" || ts[0].Count != -1 {
		t.Fatalf("after add: %+v", ts)
	}
	if !use("one", true, 1) {
		t.Fatal("first use refused")
	}
	if use("one", false, 1) {
		t.Error("count 1 again accepted (replay)")
	}
	if !use("one", false, -1) || !use("one", false, 5) || use("one", false, 4) {
		t.Error("counts: none must pass, a higher one pass, a lower one fail")
	}
	// Rotation: the old token stays valid until the new one is used.
	if err := db.AddFASTToken(ctx, tok("two")); err != nil {
		t.Fatal(err)
	}
	if ts := list(); len(ts) != 2 {
		t.Fatalf("after rotation: %d tokens, want 2", len(ts))
	}
	if !use("one", false, 6) {
		t.Error("old token refused before the new one was used")
	}
	if !use("two", true, -1) {
		t.Fatal("new token refused")
	}
	if ts := list(); len(ts) != 1 || ts[0].Next || string(ts[0].Seed) != "two" {
		t.Fatalf("after the new token's first use: %+v", ts)
	}
	if use("one", false, 7) {
		t.Error("old token accepted after the new one was used")
	}
	// Expired tokens are not listed.
	if ts, _ := db.FASTTokens(ctx, "alice", "phone", now.Add(2*time.Hour)); len(ts) != 0 {
		t.Errorf("expired tokens listed: %+v", ts)
	}
	// At most MaxFASTAgents devices.
	for i := range MaxFASTAgents + 3 {
		tk := tok(fmt.Sprint("d", i))
		tk.Agent = fmt.Sprint("device-", i)
		tk.Expires = now.Add(time.Duration(2+i) * time.Hour)
		if err := db.AddFASTToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if ts, _ := db.FASTTokens(ctx, "alice", "phone", now); len(ts) != 0 {
		t.Errorf("the device whose tokens expire first kept them past the limit: %+v", ts)
	}
	// A password change, disabling, deleting: all gone.
	for _, tt := range []struct {
		name string
		do   func() error
	}{
		{"password", func() error { return db.SetCredentials(ctx, "alice", s1, s256) }},
		{"disabled", func() error { return db.SetDisabled(ctx, "alice", true) }},
		{"deleted", func() error { return db.DeleteUser(ctx, "alice") }},
	} {
		if err := db.SetDisabled(ctx, "alice", false); err != nil {
			t.Fatal(err)
		}
		if err := db.AddFASTToken(ctx, tok("three")); err != nil {
			t.Fatal(err)
		}
		if err := tt.do(); err != nil {
			t.Fatal(err)
		}
		if ts := list(); len(ts) != 0 {
			t.Errorf("%s: tokens left: %+v", tt.name, ts)
		}
	}
	if err := db.SetDisabled(ctx, "alice", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetDisabled of a deleted account: %v, want ErrNotFound", err)
	}
}
