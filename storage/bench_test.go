package storage

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkStoreOffline measures a durable store: one fsync'd commit per
// message, so the figure is mostly the disk's.
func BenchmarkStoreOffline(b *testing.B) {
	stanza := []byte(`<message from='bob@example.org/phone' to='alice@home.local' type='chat' id='x1'><body>Dinner is ready</body></message>`)
	for _, bb := range []struct {
		name string
		max  int
	}{
		{"nolimit", 0},
		{"quota", 1 << 30}, // counts the user's messages on each store
	} {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			db := newDB(b)
			users := make([]string, 16)
			for i := range users {
				users[i] = fmt.Sprint("u", i)
				addUser(b, db, users[i])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := db.StoreOffline(ctx, users[i%len(users)], "bob@example.org", stanza, bb.max); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkStoreOfflineParallel stores from many senders at once, each
// waiting for its message to be durable, as senders to offline users do:
// the group commit puts their stores in one transaction and one sync.
func BenchmarkStoreOfflineParallel(b *testing.B) {
	stanza := []byte(`<message from='bob@example.org/phone' to='alice@home.local' type='chat' id='x1'><body>Dinner is ready</body></message>`)
	db := newDB(b)
	users := make([]string, 16)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
		addUser(b, db, users[i])
	}
	before := db.CommitStats()
	b.ReportAllocs()
	b.SetParallelism(32)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := db.StoreOffline(context.Background(), users[i%int64(len(users))], "bob@example.org", stanza, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	st := db.CommitStats()
	if batches := st.Batches - before.Batches; batches > 0 {
		b.ReportMetric(float64(st.Writes-before.Writes)/float64(batches), "writes/commit")
	}
}

// BenchmarkRoster reads a 100-contact roster, as at every login.
func BenchmarkRoster(b *testing.B) {
	ctx := context.Background()
	db := newDB(b)
	addUser(b, db, "alice")
	for i := range 100 {
		it := RosterItem{Contact: fmt.Sprintf("contact%03d@example.org", i), Name: fmt.Sprint("Contact ", i),
			Subscription: "both", Groups: []string{"Family", "Friends"}}
		if i%4 == 0 {
			it.Groups = nil
		}
		if _, err := db.PutRosterItem(ctx, "alice", it); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		items, _, err := db.Roster(ctx, "alice")
		if err != nil || len(items) != 100 {
			b.Fatal(len(items), err)
		}
	}
}

// BenchmarkPutRosterItem measures a roster change: a transaction of three
// statements and one fsync'd commit.
func BenchmarkPutRosterItem(b *testing.B) {
	ctx := context.Background()
	db := newDB(b)
	addUser(b, db, "alice")
	it := RosterItem{Contact: "bob@example.org", Subscription: "both", Groups: []string{"Family"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.PutRosterItem(ctx, "alice", it); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIsBlocked measures the check on an inbound stanza.
func BenchmarkIsBlocked(b *testing.B) {
	ctx := context.Background()
	db := newDB(b)
	addUser(b, db, "alice")
	if err := db.Block(ctx, "alice", []string{"spam@example.org", "example.net"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.IsBlocked(ctx, "alice", "bob@example.org"); err != nil {
			b.Fatal(err)
		}
	}
}
