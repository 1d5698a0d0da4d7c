package c2s

import (
	"net"
	"sync"
)

// Limits on connections, checked when one is accepted, before a byte is
// read from it.
type ConnLimits struct {
	// PerAddress: connections one address (an IPv6 /64) may have open,
	// logged in or not. A family behind one router shares one address.
	PerAddress int
	// UnauthPerAddress: connections one address may have that have not
	// logged in yet.
	UnauthPerAddress int
	// Unauth: connections that have not logged in yet, from all
	// addresses together.
	Unauth int
}

// Defaults of ConnLimits.
const (
	DefaultConnsPerAddress       = 64
	DefaultUnauthConnsPerAddress = 16
	DefaultUnauthConns           = 512
)

func (l ConnLimits) withDefaults() ConnLimits {
	if l.PerAddress <= 0 {
		l.PerAddress = DefaultConnsPerAddress
	}
	if l.UnauthPerAddress <= 0 {
		l.UnauthPerAddress = DefaultUnauthConnsPerAddress
	}
	if l.Unauth <= 0 {
		l.Unauth = DefaultUnauthConns
	}
	return l
}

// admission counts open connections per address and those not yet
// logged in, and refuses new ones over ConnLimits.
type admission struct {
	mu     sync.Mutex
	lim    ConnLimits
	addrs  map[string]*addrConns
	unauth int
}

type addrConns struct {
	all     int
	waiting []*ticket // still logging in, oldest first
}

func newAdmission(l ConnLimits) *admission {
	return &admission{lim: l.withDefaults(), addrs: make(map[string]*addrConns)}
}

// setLimits changes the limits for connections accepted from now on.
func (a *admission) setLimits(l ConnLimits) {
	a.mu.Lock()
	a.lim = l.withDefaults()
	a.mu.Unlock()
}

// ticket is one admitted connection.
type ticket struct {
	a      *admission
	key    string
	drop   func() // closes the connection
	authed bool
	done   bool
}

// admit counts a new connection from addr, or says why it is refused;
// drop closes it, should it be evicted. When too many are logging in from
// all addresses, the one that has waited longest at the address with the
// most of them makes room: a few busy addresses cannot keep everyone else
// from logging in.
func (a *admission) admit(addr string, drop func()) (*ticket, string) {
	ip := addr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		ip = host
	}
	key := addrKey(ip)
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.addrs[key]
	if c == nil {
		c = &addrConns{}
	}
	switch {
	case len(c.waiting) >= a.lim.UnauthPerAddress:
		return nil, "too many connections from your address are logging in at once"
	case c.all >= a.lim.PerAddress:
		return nil, "too many connections from your address"
	case a.unauth >= a.lim.Unauth:
		if !a.evict(key) {
			return nil, "too many connections are logging in; try again in a moment"
		}
	}
	t := &ticket{a: a, key: key, drop: drop}
	c.all++
	c.waiting = append(c.waiting, t)
	a.unauth++
	a.addrs[key] = c
	return t, ""
}

// evict drops the oldest connection still logging in from the address
// with the most of them, unless that is the newcomer's own address with
// no more than the newcomer would have; a.mu is held.
func (a *admission) evict(newcomer string) bool {
	var busiest *addrConns
	for k, c := range a.addrs {
		if n := len(c.waiting); n > 0 && (busiest == nil || n > len(busiest.waiting)) && !(k == newcomer && n <= 1) {
			busiest = c
		}
	}
	if busiest == nil {
		return false
	}
	victim := busiest.waiting[0]
	victim.leave()
	go victim.drop() // closing may block on the socket; not under a.mu
	return true
}

// leave takes t out of the counts; t.a.mu is held.
func (t *ticket) leave() {
	if t.done {
		return
	}
	t.done = true
	c := t.a.addrs[t.key]
	c.all--
	if !t.authed {
		t.unwait(c)
	}
	if c.all == 0 {
		delete(t.a.addrs, t.key)
	}
}

// unwait takes t out of its address's connections still logging in;
// t.a.mu is held.
func (t *ticket) unwait(c *addrConns) {
	for i, w := range c.waiting {
		if w == t {
			c.waiting = append(c.waiting[:i:i], c.waiting[i+1:]...)
			break
		}
	}
	t.a.unauth--
}

// authenticated moves the connection out of the not-logged-in counts.
func (t *ticket) authenticated() {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	if t.authed || t.done {
		return
	}
	t.authed = true
	t.unwait(t.a.addrs[t.key])
}

// release forgets the connection.
func (t *ticket) release() {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	t.leave()
}

// unauthenticated is how many connections have not logged in yet.
func (a *admission) unauthenticated() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unauth
}
