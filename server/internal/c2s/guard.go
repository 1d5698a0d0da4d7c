package c2s

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// guard slows password guessing without letting anyone lock an account
// out (RFC 6120 13.9.4). An address is an IPv4 address or an IPv6 /64,
// which one attacker has whole.
//
//   - Per address and account: from the free-th failure in the window on,
//     every further attempt from that address at that account must wait a
//     delay that doubles with each failure, up to maxDelay. Somebody else
//     behind the same address (a family's router, public Wi-Fi) is not
//     held up by it.
//   - Per address, at any account: the same from the addrFree-th failure
//     (an address trying account after account).
//   - An address with nearly as many recent failures as are free gets one
//     attempt at a time: starting many exchanges at once buys no more
//     guesses.
//   - Per account, from any address: from the free-th failure on, the
//     answers to its failures are held back by a growing delay and given
//     one after another, so that guesses from many addresses at once come
//     no faster. A correct password is answered at once and never refused
//     because of others' failures.
//
// Refusals are not counted as failures, so retrying never makes a wait
// longer; nor is a refusal that says nothing about the password (a
// mechanism the client then drops, an abort).
type guard struct {
	free      int
	addrFree  int
	window    time.Duration
	base      time.Duration
	maxDelay  time.Duration
	maxTarpit time.Duration
	now       func() time.Time

	mu      sync.Mutex
	addrs   map[string]*record  // by address
	pairs   map[string]*record  // by address and account
	users   map[string]*account // by account
	sweepAt int

	failed    atomic.Int64 // failed logins since the start
	throttled atomic.Int64 // attempts refused because their address had to wait
	delayed   atomic.Int64 // failure answers held back
}

// record is the recent failures of an address, or of an address at an
// account.
type record struct {
	fails   []time.Time // within the window, oldest first; at most maxFails
	until   time.Time   // no attempt before this
	pending int         // attempts under way (addresses)
}

// account is the recent failures at one account, from anywhere.
type account struct {
	record
	gate chan struct{} // held while a failure answer is held back
}

const (
	// maxFails is how many failures a record keeps: the delays have
	// reached their ceiling long before.
	maxFails = 64
	// minSweep is how many records may exist before expired ones are
	// dropped; maxRecords is the most kept: past it, the oldest
	// expiring ones go first (an attacker with a whole IPv6 /32 of
	// addresses must not grow memory without bound).
	minSweep   = 4096
	maxRecords = 100_000
)

func newGuard(free int, window time.Duration) *guard {
	return &guard{
		free: free, addrFree: 10 * free, window: window,
		base: time.Second, maxDelay: 15 * time.Minute, maxTarpit: 5 * time.Second,
		now:     time.Now,
		addrs:   make(map[string]*record),
		pairs:   make(map[string]*record),
		users:   make(map[string]*account),
		sweepAt: minSweep,
	}
}

// addrKey is what an address is counted as: an IPv6 address by its /64.
func addrKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil {
		return ip
	}
	if v4 := a.To4(); v4 != nil {
		return v4.String()
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

func pairKey(ip, user string) string { return addrKey(ip) + " " + user }

// recent drops r's failures older than the window and returns how many
// are left.
func (g *guard) recent(r *record, now time.Time) int {
	i := 0
	for i < len(r.fails) && now.Sub(r.fails[i]) > g.window {
		i++
	}
	r.fails = r.fails[i:]
	return len(r.fails)
}

// add records a failure at now in r.
func (g *guard) add(r *record, now time.Time) int {
	g.recent(r, now)
	if len(r.fails) == maxFails {
		r.fails = r.fails[1:]
	}
	r.fails = append(r.fails, now)
	return len(r.fails)
}

// delay is the wait after n failures in the window with free ones: none
// for the first free-1, then base, doubling with each failure up to
// ceiling.
func (g *guard) delay(n, free int, ceiling time.Duration) time.Duration {
	if n < free {
		return 0
	}
	d := g.base
	for i := free; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// begin asks whether ip may make an attempt now. When it may, the attempt
// is under way until end; otherwise begin reports how long to wait.
func (g *guard) begin(ip string) time.Duration {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.addrs[addrKey(ip)]
	if r == nil {
		// No failures: nothing to count (a record for every address that
		// ever logged in would only grow).
		return 0
	}
	if d := r.until.Sub(now); d > 0 {
		g.throttled.Add(1)
		return d
	}
	if r.pending > 0 && g.recent(r, now) >= g.free-1 {
		// One attempt at a time from an address about to be made to
		// wait: starting many at once buys no more guesses.
		g.throttled.Add(1)
		return g.base
	}
	r.pending++
	return 0
}

// end ends an attempt begin let through.
func (g *guard) end(ip string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.addrs[addrKey(ip)]; r != nil && r.pending > 0 {
		r.pending--
	}
}

// waitFor reports how long ip must wait before another attempt at user;
// a refusal is counted as throttled.
func (g *guard) waitFor(ip, user string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r := g.pairs[pairKey(ip, user)]; r != nil {
		if d := r.until.Sub(g.now()); d > 0 {
			g.throttled.Add(1)
			return d
		}
	}
	return 0
}

// fail records a failed attempt from ip at user ("" for an account that
// does not exist, which gets no account record: it would only grow the
// map) and returns how long to hold back its answer and how long the
// address now has to wait.
func (g *guard) fail(ip, user string) (tarpit, wait time.Duration) {
	g.failed.Add(1)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	if user != "" {
		u := g.users[user]
		if u == nil {
			u = &account{gate: make(chan struct{}, 1)}
			g.users[user] = u
		}
		tarpit = g.delay(g.add(&u.record, now), g.free, g.maxTarpit)
		p := g.record(g.pairs, pairKey(ip, user))
		if d := g.delay(g.add(p, now), g.free, g.maxDelay); d > 0 {
			// Counted from when the held-back answer goes out.
			p.until = now.Add(tarpit + d)
			wait = d
		}
	}
	a := g.record(g.addrs, addrKey(ip))
	if d := g.delay(g.add(a, now), g.addrFree, g.maxDelay); d > 0 {
		a.until = now.Add(tarpit + d)
		wait = max(wait, d)
	}
	return tarpit, wait
}

// hold holds back the answer to a failure at user for d, one after
// another with the account's other held-back failures. It returns early
// when ctx ends.
func (g *guard) hold(ctx context.Context, user string, d time.Duration) error {
	g.mu.Lock()
	u := g.users[user]
	g.mu.Unlock()
	if u == nil || d <= 0 {
		return nil
	}
	g.delayed.Add(1)
	select {
	case u.gate <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.gate }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// record returns m's record for key, making it; g.mu is held.
func (g *guard) record(m map[string]*record, key string) *record {
	r := m[key]
	if r == nil {
		r = &record{}
		m[key] = r
	}
	return r
}

// sweep drops the records that have nothing left to say once there are
// many, and bounds them all; g.mu is held. It runs when the records have
// doubled since the last sweep, so its cost is spread over the failures
// that grew them.
func (g *guard) sweep(now time.Time) {
	n := len(g.addrs) + len(g.pairs) + len(g.users)
	if n < g.sweepAt {
		return
	}
	for _, m := range []map[string]*record{g.addrs, g.pairs} {
		for k, r := range m {
			if g.recent(r, now) == 0 && !r.until.After(now) && r.pending == 0 {
				delete(m, k)
			}
		}
	}
	for k, u := range g.users {
		if g.recent(&u.record, now) == 0 && len(u.gate) == 0 {
			delete(g.users, k)
		}
	}
	// Still too many: an attack from more addresses than a family has.
	// Drop records at random (map order) until under the bound; the
	// addresses dropped start afresh, which costs an attacker little but
	// bounds the memory it can take.
	for _, m := range []map[string]*record{g.pairs, g.addrs} {
		for k, r := range m {
			if len(g.addrs)+len(g.pairs)+len(g.users) <= maxRecords {
				break
			}
			if r.pending == 0 {
				delete(m, k)
			}
		}
	}
	g.sweepAt = max(minSweep, 2*(len(g.addrs)+len(g.pairs)+len(g.users)))
}

// GuardStats are the login guard's counts.
type GuardStats struct {
	// FailedLogins: wrong passwords and unknown accounts since the start.
	FailedLogins int64
	// Throttled: attempts refused because their address had to wait.
	Throttled int64
	// Delayed: failure answers held back because their account was being
	// guessed at.
	Delayed int64
	// ThrottledAddresses: addresses (or addresses at an account) that
	// must wait now.
	ThrottledAddresses int
}

func (g *guard) stats() GuardStats {
	g.mu.Lock()
	now := g.now()
	n := 0
	for _, m := range []map[string]*record{g.addrs, g.pairs} {
		for _, r := range m {
			if r.until.After(now) {
				n++
			}
		}
	}
	g.mu.Unlock()
	return GuardStats{FailedLogins: g.failed.Load(), Throttled: g.throttled.Load(), Delayed: g.delayed.Load(), ThrottledAddresses: n}
}
