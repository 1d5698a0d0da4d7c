package gui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
)

// TestInvite: Invite… on the Users tab makes an invitation for a new
// account through the API and shows its link, which copies, with a QR
// code.
func TestInvite(t *testing.T) {
	h := newHarness(t)
	h.showTab("Users")
	h.waitFor("the domain after the name field", func() bool { return h.ui.users.suffix.Text == "@"+h.domain })
	h.tap("Invite…")
	h.waitFor("the invitation", func() bool { return h.dialogTitled("Invitation to " + h.domain) })

	is, err := h.api.Invites(h.ctx())
	if err != nil || len(is) != 1 || is[0].Kind != "account" || is[0].State != "valid" {
		t.Fatalf("invitations after Invite…: %+v, %v", is, err)
	}
	link := is[0].Link
	if is[0].LANLink != "" {
		link = is[0].LANLink
	}
	if !strings.Contains(link, "/invite/"+is[0].Token) || !h.showsText(link) {
		t.Errorf("the dialog does not show the link %s: %v", link, h.texts())
	}
	if !h.showsImage() {
		t.Error("the dialog shows no QR code")
	}
	h.tap("Copy link")
	if got := h.app.Clipboard().Content(); got != link {
		t.Errorf("clipboard holds %q, want the link %s", got, link)
	}
	h.tap("Done")
}

// showsImage reports whether the top overlay shows an image made in
// code (a QR code), not a themed icon.
func (h *harness) showsImage() bool {
	found := false
	if o := h.win.Canvas().Overlays().Top(); o != nil {
		walk(o, func(o fyne.CanvasObject) {
			if img, ok := o.(*canvas.Image); ok && img.Image != nil {
				found = true
			}
		})
	}
	return found
}
