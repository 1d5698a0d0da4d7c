package carbons

import (
	"testing"

	"hearth/server/internal/mod/modtest"
)

// TestReplacedSession: a session that replaces another of the same
// resource (the router does not report the old one's end) takes its
// place; the account counts one session with carbons, not two.
func TestReplacedSession(t *testing.T) {
	r := modtest.Router()
	m := New(Deps{Router: r})
	old, _ := modtest.Bind(t, r, "alice@example.org/Dino.0a1b2c3d")
	m.setEnabled(old, true)
	s, _ := modtest.Bind(t, r, "alice@example.org/Dino.0a1b2c3d")
	m.setEnabled(s, true)
	if n, tot := m.users["alice"], m.total.Load(); n != 1 || tot != 1 || m.enabled[old] {
		t.Fatalf("after the replacement: %d sessions of alice, %d in all, old still on: %v; want 1, 1, false", n, tot, m.enabled[old])
	}
	m.setEnabled(s, false)
	if len(m.enabled) != 0 || len(m.users) != 0 || len(m.byJID) != 0 || m.total.Load() != 0 {
		t.Fatalf("after disabling: %v %v %v %d", m.enabled, m.users, m.byJID, m.total.Load())
	}
}
