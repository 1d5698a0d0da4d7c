package modtest

import (
	"sync"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Conn is a session transport that records what it is sent. It is safe
// for concurrent use.
type Conn struct {
	mu     sync.Mutex
	sent   []string // serialised when sent: later changes do not show
	closed bool
}

var _ router.Conn = (*Conn)(nil)

// Send records el; it never refuses, and counts el as written at once.
func (c *Conn) Send(el *stanza.Element, done func(bool)) bool {
	s := el.String()
	c.mu.Lock()
	c.sent = append(c.sent, s)
	c.mu.Unlock()
	if done != nil {
		done(true)
	}
	return true
}

// Room is always plenty.
func (c *Conn) Room() (stanzas, bytes int) { return 1 << 20, 1 << 30 }

// Close records that the stream was closed.
func (c *Conn) Close(condition, text string) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// Closed reports whether Close was called.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Len returns how many stanzas were sent since the last Take.
func (c *Conn) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sent)
}

// Take returns the stanzas sent since the last Take, serialised, in order.
func (c *Conn) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = nil
	return sent
}

// Session returns an unbound session for the full JID whose transport is a
// new Conn: set fields such as Secure, then bind it with r.Bind.
func Session(t testing.TB, full string) (*router.Session, *Conn) {
	t.Helper()
	j, err := jid.Parse(full)
	if err != nil {
		t.Fatalf("session JID %q: %v", full, err)
	}
	c := &Conn{}
	return &router.Session{JID: j, Conn: c}, c
}

// Bind binds a new Session for the full JID on r.
func Bind(t testing.TB, r *router.Router, full string) (*router.Session, *Conn) {
	t.Helper()
	s, c := Session(t, full)
	r.Bind(s)
	return s, c
}
