package tasks

import (
	"context"
	"testing"
)

// TestGroup: work runs until Close cancels it; Close waits for it; no work
// starts after Close.
func TestGroup(t *testing.T) {
	g := New()
	started := make(chan struct{})
	done := false
	if !g.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		done = true
	}) {
		t.Fatal("work refused before Close")
	}
	<-started
	if g.Closed() {
		t.Fatal("closed before Close")
	}
	g.Close()
	if !done || !g.Closed() {
		t.Fatalf("Close returned with the work running (%v) or not closed (%v)", done, g.Closed())
	}
	if g.Go(func(context.Context) { t.Error("work ran after Close") }) {
		t.Fatal("work accepted after Close")
	}
}
