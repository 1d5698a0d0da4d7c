package gui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestLANTab: checking an account on the LAN chat tab makes it take part,
// unchecking takes it out, as the admin API says; the tab says why
// nothing runs (the test server offers no LAN host: it never touches the
// network's multicast).
func TestLANTab(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "wonderland-tea-1")
	h.showTab("LAN chat")
	check := func() *widget.Check {
		for _, o := range h.ui.lan.accounts.Objects {
			if c, ok := o.(*widget.Check); ok && c.Text == alice {
				return c
			}
		}
		return nil
	}
	h.waitFor("alice's check", func() bool { return check() != nil })
	h.waitFor("why nothing runs", func() bool { return h.showsText("Not running: this server does not offer it (--no-mdns was given).") })
	optedIn := func(want bool) func() bool {
		return func() bool {
			st, err := h.api.LinkLocal(h.ctx())
			return err == nil && slices.Contains(st.OptedIn, "alice") == want
		}
	}
	test.Tap(check())
	h.waitFor("alice taking part", optedIn(true))
	h.waitFor("the check shown checked", func() bool { c := check(); return c != nil && c.Checked })
	test.Tap(check())
	h.waitFor("alice out", optedIn(false))
}
