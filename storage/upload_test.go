package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestUploads: slots count against the quota and the day, go through
// their states once, and expired ones and those of deleted accounts are
// listed for deletion.
func TestUploads(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	for _, u := range []string{"alice", "bob"} {
		addUser(t, db, u)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	up := func(slot, user string, size int64, at time.Time) Upload {
		return Upload{Slot: slot, User: user, Filename: slot + ".bin", Size: size, Created: at, Expires: at.Add(10 * time.Minute)}
	}
	if err := db.AddUpload(ctx, up("a1", "alice", 600, now), 1000, 2000); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUpload(ctx, up("a2", "alice", 500, now), 1000, 2000); !errors.Is(err, ErrQuota) || errors.Is(err, ErrUploadDaily) {
		t.Fatalf("over the quota: %v", err)
	}
	if err := db.AddUpload(ctx, up("a2", "alice", 400, now), 1000, 2000); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUpload(ctx, up("b1", "bob", 900, now), -1, 800); !errors.Is(err, ErrUploadDaily) {
		t.Fatalf("over the day: %v", err)
	}
	if err := db.BeginUpload(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := db.BeginUpload(ctx, "a1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("begun twice: %v", err)
	}
	if err := db.FinishUpload(ctx, "a1", now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := db.FinishUpload(ctx, "a2", now.Add(24*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finished without a PUT: %v", err)
	}
	u, err := db.UploadOf(ctx, "a1")
	if err != nil || u.State != UploadStored || u.Size != 600 || !u.Expires.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("a1: %+v %v", u, err)
	}
	use, err := db.UploadUsages(ctx)
	if err != nil || len(use) != 1 || use[0] != (UploadUsage{User: "alice", Files: 1, Bytes: 1000}) {
		t.Fatalf("use: %+v %v", use, err)
	}
	// An hour later the open slot a2 has expired; the stored a1 has not.
	dead, err := db.DeadUploads(ctx, now.Add(time.Hour), 10)
	if err != nil || len(dead) != 1 || dead[0].Slot != "a2" {
		t.Fatalf("dead: %+v %v", dead, err)
	}
	// bob's row outlives bob: it is dead at once.
	if err := db.AddUpload(ctx, up("b2", "bob", 1, now), -1, -1); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	dead, err = db.DeadUploads(ctx, now, 10)
	if err != nil || len(dead) != 1 || dead[0].Slot != "b2" {
		t.Fatalf("dead after bob went: %+v %v", dead, err)
	}
}
