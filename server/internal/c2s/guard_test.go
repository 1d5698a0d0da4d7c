package c2s

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// testGuard is a guard on a clock the test moves.
func testGuard() (*guard, *time.Time) {
	g := newGuard(5, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	return g, &now
}

func TestGuardNeverLocksOut(t *testing.T) {
	g, now := testGuard()
	const attacker, family = "198.51.100.7", "203.0.113.9"
	// attempt goes as authenticate does: begin, the account's wait once
	// the name is known, then a failure or a success, then end.
	attempt := func(ip, user string, right bool) (refused bool) {
		if g.begin(ip) > 0 {
			return true
		}
		defer g.end(ip)
		if g.waitFor(ip, user) > 0 {
			return true
		}
		if !right {
			g.fail(ip, user)
		}
		return false
	}
	for range 5 {
		if attempt(attacker, "alice", false) {
			t.Fatal("refused within the free attempts")
		}
	}
	refusals := 0
	for range 50 {
		if attempt(attacker, "alice", false) {
			refusals++
		}
	}
	if refusals != 50 {
		t.Errorf("%d of 50 further guesses refused while the address waits", refusals)
	}
	if g.stats().FailedLogins != 5 {
		t.Errorf("refusals were counted as failures: %+v", g.stats())
	}
	// alice from home, and somebody else's account from the attacker's
	// own address, are not held up.
	if attempt(family, "alice", true) {
		t.Error("alice refused from her own address")
	}
	if attempt(attacker, "bob", true) {
		t.Error("bob refused behind the attacker's address (a shared router)")
	}
	// The wait grows with each failure after it passes.
	*now = now.Add(2 * time.Second)
	_, w1 := g.fail(attacker, "alice")
	_, w2 := g.fail(attacker, "alice")
	if w1 <= 0 || w2 != 2*w1 {
		t.Errorf("waits %v then %v: want doubling", w1, w2)
	}
	// An address trying many accounts waits too, past addrFree.
	for i := range g.addrFree {
		g.fail("192.0.2.1", fmt.Sprintf("user%d", i)) // one failure at each
	}
	if g.begin("192.0.2.1") == 0 {
		t.Error("an address that failed at 50 accounts may go on at once")
	}
}

func TestGuardOneAttemptAtATime(t *testing.T) {
	g, _ := testGuard()
	for i := range g.free - 1 {
		g.fail("198.51.100.7", fmt.Sprintf("user%d", i))
	}
	if g.begin("198.51.100.7") != 0 {
		t.Fatal("first attempt refused")
	}
	if g.begin("198.51.100.7") == 0 {
		t.Fatal("a second attempt at once from an address that failed")
	}
	g.end("198.51.100.7")
	if g.begin("198.51.100.7") != 0 {
		t.Fatal("refused after the first attempt ended")
	}
	// An address without failures is not counted at all.
	for range 100 {
		if g.begin("203.0.113.9") != 0 {
			t.Fatal("an address without failures refused")
		}
	}
}

func TestGuardIPv6Prefix(t *testing.T) {
	if a, b := addrKey("2001:db8:1:2::1"), addrKey("2001:db8:1:2:ffff::7"); a != b {
		t.Errorf("one /64 counted as %q and %q", a, b)
	}
	if a, b := addrKey("2001:db8:1:2::1"), addrKey("2001:db8:1:3::1"); a == b {
		t.Errorf("two /64s counted as one: %q", a)
	}
	if a := addrKey("::ffff:192.0.2.1"); a != "192.0.2.1" {
		t.Errorf("an IPv4-mapped address counted as %q", a)
	}
}

// TestGuardBounded: an attacker with more addresses than anyone can
// count (an IPv6 /32) cannot grow the guard's memory without bound.
func TestGuardBounded(t *testing.T) {
	g, _ := testGuard()
	for i := range 3 * maxRecords {
		g.fail(fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff), "alice")
	}
	g.mu.Lock()
	n := len(g.addrs) + len(g.pairs) + len(g.users)
	fails := len(g.users["alice"].fails)
	g.mu.Unlock()
	if n > 2*maxRecords+minSweep {
		t.Errorf("%d records after %d failures from as many addresses", n, 3*maxRecords)
	}
	if fails > maxFails {
		t.Errorf("alice's record keeps %d failures", fails)
	}
}

// TestGuardHoldsInTurn: the held-back answers to one account's failures
// go out one after another, whatever the number of connections.
func TestGuardHoldsInTurn(t *testing.T) {
	g, _ := testGuard()
	g.fail("198.51.100.7", "alice")
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	first := make(chan struct{})
	wg.Go(func() {
		g.mu.Lock()
		u := g.users["alice"]
		g.mu.Unlock()
		go func() {
			for len(u.gate) == 0 {
				time.Sleep(time.Millisecond)
			}
			close(first)
		}()
		g.hold(context.Background(), "alice", 200*time.Millisecond)
		mu.Lock()
		order = append(order, "long")
		mu.Unlock()
	})
	<-first
	wg.Go(func() {
		g.hold(context.Background(), "alice", time.Millisecond)
		mu.Lock()
		order = append(order, "short")
		mu.Unlock()
	})
	wg.Wait()
	if len(order) != 2 || order[0] != "long" {
		t.Errorf("answers went out as %q; want the short wait after the long one", order)
	}
	if g.stats().Delayed != 2 {
		t.Errorf("delayed = %d", g.stats().Delayed)
	}
}
