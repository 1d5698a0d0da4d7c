package c2s

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// guard slows password guessing without letting anyone lock an account
// out (RFC 6120 13.9.4):
//
//   - Per address (an IPv4 address, or an IPv6 /64, which one attacker
//     has whole): from the free-th failure in the window on, every further
//     attempt from it must wait a delay that doubles with each failure,
//     up to maxDelay. An attempt that comes early is refused without
//     being counted, so retrying never makes it worse.
//   - Per account, failures from any address: from the free-th failure in
//     the window on, the answer to each failure is held back (a tarpit)
//     by a delay that grows the same way, up to maxTarpit. A correct
//     password is answered at once and refused never: whoever guesses at
//     alice's account from many addresses slows himself, not alice.
//
// Only wrong passwords and unknown accounts count; a refusal that says
// nothing about the password (a mechanism the client then drops) does not.
type guard struct {
	free      int
	window    time.Duration
	base      time.Duration
	maxDelay  time.Duration
	maxTarpit time.Duration
	now       func() time.Time

	mu    sync.Mutex
	addrs map[string]*record
	users map[string]*record

	failed    atomic.Int64 // failed logins since the start
	throttled atomic.Int64 // attempts refused because of their address
}

// record is one address's or account's recent failures.
type record struct {
	fails []time.Time // within the window, oldest first
	until time.Time   // no attempt before this (addresses)
}

// maxRecords bounds the records kept before expired ones are dropped.
const maxRecords = 4096

func newGuard(free int, window time.Duration) *guard {
	return &guard{
		free: free, window: window,
		base: time.Second, maxDelay: 15 * time.Minute, maxTarpit: 5 * time.Second,
		now:   time.Now,
		addrs: make(map[string]*record),
		users: make(map[string]*record),
	}
}

// addrKey is what an address is counted as: an IPv6 address by its /64.
func addrKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

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

// delay is the wait after n failures in the window: none for the first
// free-1, then base, doubling with each failure up to ceiling.
func (g *guard) delay(n int, ceiling time.Duration) time.Duration {
	if n < g.free {
		return 0
	}
	d := g.base
	for i := g.free; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// wait reports how long the address must still wait before it may try
// again (0: it may now). A refusal is counted as throttled, never as a
// failure.
func (g *guard) wait(ip string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.addrs[addrKey(ip)]
	if r == nil {
		return 0
	}
	if d := r.until.Sub(g.now()); d > 0 {
		g.throttled.Add(1)
		return d
	}
	return 0
}

// fail records a failed attempt from ip at user ("" for an account that
// does not exist, which gets no record: it would only grow the map) and
// returns how long to hold back its answer and how long the address must
// now wait.
func (g *guard) fail(ip, user string) (tarpit, addrWait time.Duration) {
	g.failed.Add(1)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	r := g.addrs[addrKey(ip)]
	if r == nil {
		r = &record{}
		g.addrs[addrKey(ip)] = r
	}
	if user != "" {
		u := g.users[user]
		if u == nil {
			u = &record{}
			g.users[user] = u
		}
		g.recent(u, now)
		u.fails = append(u.fails, now)
		tarpit = g.delay(len(u.fails), g.maxTarpit)
	}
	g.recent(r, now)
	r.fails = append(r.fails, now)
	if d := g.delay(len(r.fails), g.maxDelay); d > 0 {
		// Counted from when the held-back answer goes out.
		r.until = now.Add(tarpit + d)
		addrWait = d
	}
	return tarpit, addrWait
}

// sweep drops expired records once there are many; g.mu is held.
func (g *guard) sweep(now time.Time) {
	for _, m := range []map[string]*record{g.addrs, g.users} {
		if len(m) < maxRecords {
			continue
		}
		for k, r := range m {
			if g.recent(r, now) == 0 && !r.until.After(now) {
				delete(m, k)
			}
		}
	}
}

// GuardStats are the login guard's counts.
type GuardStats struct {
	// FailedLogins: wrong passwords and unknown accounts since the start.
	FailedLogins int64
	// Throttled: attempts refused because their address had to wait.
	Throttled int64
	// ThrottledAddresses: addresses that must wait now.
	ThrottledAddresses int
}

func (g *guard) stats() GuardStats {
	g.mu.Lock()
	now := g.now()
	n := 0
	for _, r := range g.addrs {
		if r.until.After(now) {
			n++
		}
	}
	g.mu.Unlock()
	return GuardStats{FailedLogins: g.failed.Load(), Throttled: g.throttled.Load(), ThrottledAddresses: n}
}
