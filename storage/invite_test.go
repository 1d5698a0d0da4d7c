package storage

import (
	"errors"
	"testing"
	"time"
)

// TestInvites: an invitation is created, listed, used up one use at a
// time, refused once expired, keeps its account name from other
// invitations, goes with its inviter, and is revoked.
func TestInvites(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	now := time.Now()
	week := now.Add(7 * 24 * time.Hour)
	creds := func(name string) User {
		s1, s256, err := NewCredentials("silver-kettle-pw")
		if err != nil {
			t.Fatal(err)
		}
		return User{Name: name, SHA1: s1, SHA256: s256}
	}
	mk := func(i Invite) {
		t.Helper()
		if err := db.CreateInvite(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	mk(Invite{Token: "two", Kind: InviteAccountContact, Inviter: "alice", Expires: week, MaxUses: 2})
	mk(Invite{Token: "kept", Kind: InviteAccount, User: "carol", Expires: week, MaxUses: 1})
	mk(Invite{Token: "old", Kind: InviteContact, Inviter: "alice", Expires: now.Add(-time.Minute), MaxUses: 1})
	if err := db.CreateInvite(ctx, Invite{Token: "two", Kind: InviteAccount, Expires: week, MaxUses: 1}); !errors.Is(err, ErrExists) {
		t.Errorf("second token: %v, want ErrExists", err)
	}
	if err := db.CreateInvite(ctx, Invite{Token: "ghost", Kind: InviteContact, Inviter: "nobody", Expires: week, MaxUses: 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("inviter without account: %v, want ErrNotFound", err)
	}
	if is, err := db.Invites(ctx); err != nil || len(is) != 3 {
		t.Fatalf("Invites = %v, %v", is, err)
	}

	// Two uses: bob, then dave; a third is refused and nothing is made.
	if i, err := db.RedeemInvite(ctx, "two", creds("bob"), now); err != nil || i.Inviter != "alice" {
		t.Fatalf("redeem for bob: %+v, %v", i, err)
	}
	if _, err := db.RedeemInvite(ctx, "two", creds("bob"), now); !errors.Is(err, ErrExists) {
		t.Errorf("bob again: %v, want ErrExists", err)
	}
	if _, err := db.RedeemInvite(ctx, "two", creds("carol"), now); !errors.Is(err, ErrInviteName) {
		t.Errorf("carol's kept name: %v, want ErrInviteName", err)
	}
	if _, err := db.RedeemInvite(ctx, "two", creds("dave"), now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RedeemInvite(ctx, "two", creds("erin"), now); !errors.Is(err, ErrInviteUsed) {
		t.Errorf("third use: %v, want ErrInviteUsed", err)
	}
	if ok, _ := db.UserExists(ctx, "erin"); ok {
		t.Error("erin exists after a refused redemption")
	}
	if i, _ := db.Invite(ctx, "two"); i.Uses != 2 || i.Check(now) != ErrInviteUsed {
		t.Errorf("uses %d, check %v", i.Uses, i.Check(now))
	}
	// The kept name is for its own token only.
	if _, err := db.RedeemInvite(ctx, "kept", creds("frank"), now); !errors.Is(err, ErrInviteName) {
		t.Errorf("kept token for another name: %v", err)
	}
	if _, err := db.RedeemInvite(ctx, "kept", creds("carol"), now); err != nil {
		t.Fatal(err)
	}
	// Contact invitations: expiry checked.
	if _, err := db.UseInvite(ctx, "old", now); !errors.Is(err, ErrInviteExpired) {
		t.Errorf("expired: %v", err)
	}
	if _, err := db.UseInvite(ctx, "nope", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	// A reset sets bob's password and spends the use.
	mk(Invite{Token: "reset", Kind: InviteReset, User: "bob", Expires: week, MaxUses: 1})
	u := creds("bob")
	if _, err := db.RedeemInvite(ctx, "reset", u, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.User(ctx, "bob"); string(got.SHA256.StoredKey) != string(u.SHA256.StoredKey) {
		t.Error("reset did not change bob's credentials")
	}
	// Long expired ones are purged, the rest stay.
	if n, err := db.PurgeInvites(ctx, now.Add(-30*time.Second)); err != nil || n != 1 {
		t.Errorf("purge: %d, %v; want the one expired a minute ago", n, err)
	}
	if _, err := db.Invite(ctx, "old"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old after the purge: %v", err)
	}
	// Revoked; and alice's invitations go with her.
	if err := db.DeleteInvite(ctx, "reset"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteInvite(ctx, "reset"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Invite(ctx, "two"); !errors.Is(err, ErrNotFound) {
		t.Errorf("alice's invitation after her account went: %v", err)
	}
}
