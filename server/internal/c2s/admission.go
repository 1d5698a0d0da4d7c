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

type addrConns struct{ all, unauth int }

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
	authed bool
	done   bool
}

// admit counts a new connection from addr, or says why it is refused.
func (a *admission) admit(addr string) (*ticket, string) {
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
	case a.unauth >= a.lim.Unauth:
		return nil, "too many connections are logging in; try again in a moment"
	case c.unauth >= a.lim.UnauthPerAddress:
		return nil, "too many connections from your address are logging in at once"
	case c.all >= a.lim.PerAddress:
		return nil, "too many connections from your address"
	}
	c.all++
	c.unauth++
	a.unauth++
	a.addrs[key] = c
	return &ticket{a: a, key: key}, ""
}

// authenticated moves the connection out of the not-logged-in counts.
func (t *ticket) authenticated() {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	if t.authed || t.done {
		return
	}
	t.authed = true
	t.a.addrs[t.key].unauth--
	t.a.unauth--
}

// release forgets the connection.
func (t *ticket) release() {
	t.a.mu.Lock()
	defer t.a.mu.Unlock()
	if t.done {
		return
	}
	t.done = true
	c := t.a.addrs[t.key]
	c.all--
	if !t.authed {
		c.unauth--
		t.a.unauth--
	}
	if c.all == 0 {
		delete(t.a.addrs, t.key)
	}
}

// unauthenticated is how many connections have not logged in yet.
func (a *admission) unauthenticated() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unauth
}
