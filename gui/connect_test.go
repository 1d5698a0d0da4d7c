package gui

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"hearth/server/admin"
)

// qrShown returns the QR code in the open dialog.
func (h *harness) qrShown() *canvas.Image {
	h.t.Helper()
	var found *canvas.Image
	walk(h.win.Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if img, ok := o.(*canvas.Image); ok && img.Image != nil && img.ScaleMode == canvas.ImageScalePixels && found == nil {
			found = img
		}
	})
	if found == nil {
		h.t.Fatal("no QR code in the dialog")
	}
	return found
}

// TestConnectSheet: a new account's "Connect a device" sheet has the
// account, its new password, the LAN address and port, the fingerprints
// and the account's xmpp: address as a QR code; it copies as text. The
// sheet from a user's row has no password, which Hearth does not keep.
func TestConnectSheet(t *testing.T) {
	h := newHarness(t)
	info, err := h.api.Info(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	h.showTab("Users")
	h.waitFor("the domain", func() bool { return h.ui.users.suffix.Text == "@"+h.domain })
	test.Type(h.ui.users.name, "alice")
	h.tap("Add user")
	h.waitFor("the new password", func() bool { return h.dialogTitled("Account created") })
	password := h.shownPassword()
	h.tap("Connect a device…")
	jid := "alice@" + h.domain
	h.waitFor("the sheet", func() bool { return h.dialogTitled("Connect a device: " + jid) })

	_, port, _ := strings.Cut(info.Listeners[0].Addr, "127.0.0.1:")
	leaf := info.Certificates.Names[0]
	for _, want := range []string{jid, password, "192.0.2.7\n2001:db8::7", port + " (STARTTLS)",
		groupFingerprint(info.CertFingerprint), leaf.SHA1, groupFingerprint(info.Certificates.CA.SHA256), "xmpp:" + jid} {
		if !h.showsText(want) {
			t.Errorf("the sheet does not show %q:\n%s", want, strings.Join(h.texts(), "\n"))
		}
	}
	checkQR(t, h.qrShown(), "xmpp:"+jid)

	h.tap("Copy as text")
	text := h.app.Clipboard().Content()
	for _, want := range []string{"Account:", jid, "Password:", password, "Server:", "192.0.2.7, 2001:db8::7", "Server SHA-256:", info.CertFingerprint, "xmpp:" + jid} {
		if !strings.Contains(text, want) {
			t.Errorf("the copied text does not hold %q:\n%s", want, text)
		}
	}
	h.tap("Done")
	h.checkLogin(jid, password, true)

	// From the list: no password to show.
	h.waitFor("alice in the list", func() bool { return h.row(jid) != nil })
	test.Tap(h.row(jid).sheet)
	h.waitFor("the sheet", func() bool { return h.dialogTitled("Connect a device: " + jid) })
	if h.showsText(password) || !h.showsText("the one given when the account was made") {
		t.Errorf("the sheet from the list should not have a password:\n%s", strings.Join(h.texts(), "\n"))
	}
}

func TestWriteQRPNG(t *testing.T) {
	var b bytes.Buffer
	if err := writeQRPNG(&b, "xmpp:alice@home.test"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Dx(); s < 256 {
		t.Errorf("the saved QR code is %d pixels wide, too small to print", s)
	}
}

func TestConnectDetailsText(t *testing.T) {
	info := admin.Info{Domain: "home.test", Listeners: []admin.Listener{{Name: "c2s", Addr: "[::]:5222"}},
		LAN: admin.LANStatus{Addresses: []string{"192.168.1.20"}}, CertFingerprint: "AA:BB",
		Certificates: admin.Certificates{Mode: "acme", Names: []admin.CertName{{Name: "home.test", SHA1: "CC:DD"}}}}
	got := newConnectDetails(info, "bob@home.test", "").Text()
	want := `Connect a device to Hearth

Account:               bob@home.test
Server:                192.168.1.20
Port:                  5222 (STARTTLS)
Server SHA-256:        AA:BB
Server SHA-1:          CC:DD
Address (QR code):     xmpp:bob@home.test
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
