package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/storage"
)

// TestKill9ArchiveAndOffline: alice sends to bob, who is offline, and the
// server is killed with kill -9 right after it acknowledged a message
// (with more in flight). Every acknowledged message is, after the
// restart, in bob's offline queue (he gets it at his next login) and in
// both archives (XEP-0313): they share the group commit, and the
// acknowledgement waits for both.
func TestKill9ArchiveAndOffline(t *testing.T) {
	e, args := durableServer(t, "limits.offline_messages", "1000000")
	data := strings.TrimPrefix(args[2], "--data=")
	s, _ := start(t, e, args...)
	alice := connect(t, s.c2sTLS, "alice", "correct horse")
	snd := &sender{p: alice, to: "bob@test.home", prefix: "m", size: 200}
	stop := make(chan struct{})
	go snd.run(stop, 20, 8)
	// Kill as soon as 500 are acknowledged, while the sender goes on.
	deadline := time.Now().Add(30 * time.Second)
	for len(snd.acked()) < 500 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.kill9(t)
	close(stop)
	alice.drain(t)
	acked := snd.acked()
	if len(acked) < 500 {
		t.Fatalf("only %d acknowledged in 30 s", len(acked))
	}
	if len(alice.bounced) > 0 {
		t.Fatalf("%d refused", len(alice.bounced))
	}

	// The archives, as the restarted server finds them.
	inArchive := func(user string) map[string]bool {
		t.Helper()
		db, err := storage.Open(context.Background(), filepath.Join(data, "hearth.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ids := map[string]bool{}
		idRE := regexp.MustCompile(` id="(m[0-9]+)"`)
		after := int64(0)
		for {
			rows, err := db.ArchivePage(context.Background(), storage.ArchiveQuery{User: user, After: after, Max: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if m := idRE.FindSubmatch(r.Stanza); m != nil {
					ids[string(m[1])] = true
				}
				after = r.ID
			}
			if len(rows) < 1000 {
				return ids
			}
		}
	}
	bobs, alices := inArchive("bob"), inArchive("alice")

	s2, _ := start(t, e, args...)
	bob := connect(t, s2.c2sTLS, "bob", "battery staple")
	bob.send(`<presence/>`)
	bob.quiet(2 * time.Second)
	var lost, unarchived []string
	for _, id := range acked {
		if bob.got[id] == 0 {
			lost = append(lost, id)
		}
		if !bobs[id] || !alices[id] {
			unarchived = append(unarchived, id)
		}
	}
	t.Logf("%d sent, %d acknowledged when killed; after the restart bob got %d offline, his archive has %d, alice's %d",
		snd.sent, len(acked), len(bob.got), len(bobs), len(alices))
	if len(lost) > 0 {
		t.Errorf("%d acknowledged messages not in bob's offline queue, such as %v", len(lost), lost[:min(5, len(lost))])
	}
	if len(unarchived) > 0 {
		t.Errorf("%d acknowledged messages missing from an archive, such as %v", len(unarchived), unarchived[:min(5, len(unarchived))])
	}
	bob.conn.Close()
	s2.stop(t)
}
