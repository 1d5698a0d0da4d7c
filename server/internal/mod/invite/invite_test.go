package invite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"hearth/storage"
)

// TestRunPurges: at start Run deletes invitations that expired more than
// Keep ago, keeps newer ones, and returns once its context ends.
func TestRunPurges(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	for tok, exp := range map[string]time.Time{"long-gone-token-01234567": now.Add(-Keep - time.Hour), "recent-token-0123456789a": now.Add(-time.Hour)} {
		if err := db.CreateInvite(ctx, storage.Invite{Token: tok, Kind: storage.InviteAccount, Expires: exp, MaxUses: 1}); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { New(Deps{DB: db, Domain: "home.test"}).Run(rctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := db.Invite(ctx, "long-gone-token-01234567"); errors.Is(err, storage.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the long expired invitation is still there after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := db.Invite(ctx, "recent-token-0123456789a"); err != nil {
		t.Errorf("the recently expired invitation: %v", err)
	}
}
