package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/storage"
)

// TestBackupDuringLoad: `hearth backup` runs while alice sends bob, who is
// offline, messages as fast as the server takes them. The backup,
// restored into a new data directory and served, has every message
// acknowledged before the backup began: bob gets each from his offline
// queue, and each is in his archive. The server went on taking messages
// while the backup was made.
func TestBackupDuringLoad(t *testing.T) {
	e, args := durableServer(t, "limits.offline_messages", "1000000")
	data := strings.TrimPrefix(args[2], "--data=")
	s, _ := start(t, e, args...)
	alice := connect(t, s.c2sTLS, "alice", "correct horse")
	snd := &sender{p: alice, to: "bob@test.home", prefix: "m", size: 300}
	stop := make(chan struct{})
	go snd.run(stop, 20, 8)
	for deadline := time.Now().Add(30 * time.Second); len(snd.acked()) < 500 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	acked := snd.acked()
	if len(acked) < 500 {
		t.Fatalf("only %d acknowledged in 30 s", len(acked))
	}
	file := filepath.Join(t.TempDir(), "family.tar.gz")
	check(t, e, "", 0, "backed up test.home to "+regexp.QuoteMeta(file), "backup", file, "--data="+data)
	during := len(snd.acked()) - len(acked)
	close(stop)
	s.stop(t)
	alice.drain(t)
	if len(alice.bounced) > 0 {
		t.Fatalf("%d refused", len(alice.bounced))
	}

	restored := filepath.Join(t.TempDir(), "restored")
	check(t, e, "", 0, "restored the backup of test.home .* 2 accounts", "restore", file, "--data="+restored)
	r := check(t, e, "", 1, "", "restore", file, "--data="+restored)
	if !strings.Contains(r.stderr, "not empty") {
		t.Errorf("a second restore into the same directory: %q", r.stderr)
	}
	args2 := append([]string{}, args...)
	args2[2] = "--data=" + restored
	s2, _ := start(t, e, args2...)
	bob := connect(t, s2.c2sTLS, "bob", "battery staple")
	bob.send(`<presence/>`)
	bob.quiet(2 * time.Second)
	bob.conn.Close()
	s2.stop(t)

	db, err := storage.Open(context.Background(), filepath.Join(restored, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	archived, err := db.CountArchive(context.Background(), storage.ArchiveQuery{User: "bob"}, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, id := range acked {
		if bob.got[id] == 0 {
			lost = append(lost, id)
		}
	}
	t.Logf("%d acknowledged when the backup began, %d more while it ran; the restored server gave bob %d, his archive holds %d",
		len(acked), during, len(bob.got), archived)
	if len(lost) > 0 {
		t.Errorf("%d messages acknowledged before the backup are not in it, such as %v", len(lost), lost[:min(5, len(lost))])
	}
	if archived < len(acked) {
		t.Errorf("bob's restored archive holds %d messages, fewer than the %d acknowledged before the backup", archived, len(acked))
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup file: %v %v", fi, err)
	}
}
