package admin

import (
	"context"
	"log/slog"
	"testing"
)

// TestLogRing: the ring keeps the newest records, flattens groups, and a
// watcher that does not read loses records (counted) without blocking
// whoever logs.
func TestLogRing(t *testing.T) {
	ring := NewLogRing(3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := ring.Subscribe(ctx)
	stderr := slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(LogTee(stderr, ring.Handler(slog.LevelInfo))).With("part", "c2s").WithGroup("tls")
	log.Debug("not kept")
	for i := range 5 {
		log.Info("login succeeded", "n", i)
	}
	got := ring.Since(0)
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("kept %+v, want records 3 to 5", got)
	}
	r := got[2]
	if r.Level != "INFO" || r.Message != "login succeeded" || len(r.Attrs) != 2 ||
		r.Attrs[0] != (LogAttr{"part", "c2s"}) || r.Attrs[1] != (LogAttr{"tls.n", "4"}) {
		t.Errorf("record %+v", r)
	}
	if s := ring.Since(4); len(s) != 1 || s[0].Seq != 5 {
		t.Errorf("Since(4) = %+v", s)
	}
	for range cap(live) + 10 {
		log.Info("more")
	}
	n := 0
	for range cap(live) {
		<-live
		n++
	}
	log.Info("after the gap")
	if r := <-live; r.Message != "after the gap" || r.Dropped != 15 {
		t.Errorf("after a full buffer: %+v, want 15 dropped", r)
	}
	cancel()
	if _, ok := <-live; ok {
		t.Error("watch not closed when ctx ended")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
