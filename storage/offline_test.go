package storage

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestOffline(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	start := time.Now()
	var ids []int64
	for i := range 3 {
		id, err := db.StoreOffline(ctx, "alice", fmt.Sprintf("c%d@example.org", i), []byte(fmt.Sprintf("<message id='%d'/>", i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	bobID, err := db.StoreOffline(ctx, "bob", "c@example.org", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := db.OfflineFor(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("OfflineFor = %d messages", len(ms))
	}
	for i, m := range ms {
		if m.ID != ids[i] || m.From != fmt.Sprintf("c%d@example.org", i) || string(m.Stanza) != fmt.Sprintf("<message id='%d'/>", i) ||
			m.Stored.Before(start.Add(-time.Second)) || m.Stored.After(time.Now()) {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	for _, tt := range []struct {
		name      string
		user      string
		ids       []int64
		wantAlice []int64
		wantBob   int
	}{
		{"none", "alice", nil, ids, 1},
		{"someone else's", "alice", []int64{bobID}, ids, 1},
		{"unknown", "alice", []int64{1 << 40}, ids, 1},
		{"first", "alice", ids[:1], ids[1:], 1},
		{"rest and again", "alice", ids, nil, 1},
		{"bob's", "bob", []int64{bobID}, nil, 0},
	} {
		t.Run("delete/"+tt.name, func(t *testing.T) {
			if err := db.DeleteOffline(ctx, tt.user, tt.ids); err != nil {
				t.Fatal(err)
			}
			ms, err := db.OfflineFor(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, m := range ms {
				got = append(got, m.ID)
			}
			if !slices.Equal(got, tt.wantAlice) {
				t.Errorf("alice has %v, want %v", got, tt.wantAlice)
			}
			if n, err := db.CountOffline(ctx, "bob"); err != nil || n != tt.wantBob {
				t.Errorf("CountOffline(bob) = %d, %v; want %d", n, err, tt.wantBob)
			}
		})
	}
	// IDs are never reused, even after the newest message is deleted.
	id, err := db.StoreOffline(ctx, "alice", "c@example.org", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if id <= bobID {
		t.Errorf("new ID %d reuses one <= %d", id, bobID)
	}
}

func TestOfflineQuota(t *testing.T) {
	for _, tt := range []struct {
		max    int
		stores int
		want   int // stored before ErrQuota
	}{
		{max: 0, stores: 5, want: 5},
		{max: -1, stores: 5, want: 5},
		{max: 1, stores: 3, want: 1},
		{max: 3, stores: 5, want: 3},
		{max: 3, stores: 3, want: 3},
	} {
		t.Run(fmt.Sprintf("max=%d", tt.max), func(t *testing.T) {
			ctx := t.Context()
			db := newDB(t)
			addUser(t, db, "alice", "bob")
			for i := range tt.stores {
				_, err := db.StoreOffline(ctx, "alice", "x", nil, tt.max)
				if i < tt.want && err != nil {
					t.Fatalf("store %d: %v", i, err)
				}
				if i >= tt.want && !errors.Is(err, ErrQuota) {
					t.Fatalf("store %d: %v, want ErrQuota", i, err)
				}
			}
			if n, err := db.CountOffline(ctx, "alice"); err != nil || n != tt.want {
				t.Errorf("CountOffline = %d, %v; want %d", n, err, tt.want)
			}
			// The quota is per user.
			if _, err := db.StoreOffline(ctx, "bob", "x", nil, tt.max); err != nil {
				t.Errorf("bob: %v", err)
			}
			// Room again after a delivery.
			ms, err := db.OfflineFor(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := db.DeleteOffline(ctx, "alice", []int64{ms[0].ID}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.StoreOffline(ctx, "alice", "x", nil, tt.max); err != nil {
				t.Errorf("after delete: %v", err)
			}
		})
	}
}

func TestJSONInts(t *testing.T) {
	for _, tt := range []struct {
		ids  []int64
		want string
	}{
		{nil, "[]"},
		{[]int64{1}, "[1]"},
		{[]int64{1, -2, 1 << 62}, "[1,-2,4611686018427387904]"},
	} {
		if got := jsonInts(tt.ids); got != tt.want {
			t.Errorf("jsonInts(%v) = %s, want %s", tt.ids, got, tt.want)
		}
	}
}
