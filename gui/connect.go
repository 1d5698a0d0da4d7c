package gui

import (
	"cmp"
	"fmt"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/skip2/go-qrcode"

	"hearth/server/admin"
)

// connectDetails is what a person needs to set up one device for an
// account: the "Connect this device" sheet, as text.
type connectDetails struct {
	Account  string
	Password string // only when it was just made; Hearth keeps no copy
	Server   string // the addresses to type by hand, one a line
	Port     string
	SHA256   string // the server's certificate
	SHA1     string
	CASHA256 string // the home CA's, in local mode
	URI      string // xmpp:account, for the QR code
}

// newConnectDetails gathers the sheet for jid from the server's info.
func newConnectDetails(info admin.Info, jid, password string) connectDetails {
	d := connectDetails{Account: jid, Password: password, URI: "xmpp:" + jid}
	d.Server, d.Port = connectAddress(info)
	leaf := admin.CertName{SHA256: info.CertFingerprint}
	if i := slices.IndexFunc(info.Certificates.Names, func(n admin.CertName) bool { return n.Name == info.Domain }); i >= 0 {
		leaf = info.Certificates.Names[i]
		leaf.SHA256 = cmp.Or(leaf.SHA256, info.CertFingerprint)
	}
	d.SHA256, d.SHA1 = leaf.SHA256, leaf.SHA1
	if info.Certificates.Mode == "local" {
		d.CASHA256 = info.Certificates.CA.SHA256
	}
	return d
}

// Text is the sheet as plain text, to copy, paste and print.
func (d connectDetails) Text() string {
	var b strings.Builder
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-22s %s\n", k+":", strings.ReplaceAll(v, "\n", ", "))
		}
	}
	fmt.Fprintf(&b, "Connect a device to Hearth\n\n")
	row("Account", d.Account)
	row("Password", d.Password)
	row("Server", d.Server)
	row("Port", d.Port)
	row("Server SHA-256", d.SHA256)
	row("Server SHA-1", d.SHA1)
	row("Home CA SHA-256", d.CASHA256)
	row("Address (QR code)", d.URI)
	return b.String()
}

// writeQRPNG writes uri as a QR code, big enough to print and scan.
func writeQRPNG(w io.Writer, uri string) error {
	q, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		return err
	}
	return png.Encode(w, q.Image(512))
}

// newQRImage draws text as a QR code about qrSize wide, each module a
// whole number of pixels so that it stays sharp; nil if it cannot.
func newQRImage(text string) *canvas.Image {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return nil
	}
	img := q.Image(-1) // one pixel a module; the canvas scales it up
	c := canvas.NewImageFromImage(img)
	c.FillMode = canvas.ImageFillContain
	c.ScaleMode = canvas.ImageScalePixels
	n := float32(img.Bounds().Dx())
	side := n * max(1, float32(math.Round(float64(qrSize/n))))
	c.SetMinSize(fyne.NewSize(side, side))
	return c
}

// showConnect shows the "Connect this device" sheet for jid: what to type
// into the device's app, the fingerprints to compare, and the account's
// address as a QR code; it copies as text and saves the QR code as an
// image, to print. password is shown when it was just made.
func (t *usersTab) showConnect(jid, password string) {
	d := newConnectDetails(t.u.overview.info, jid, password)
	bold := func(s string) *widget.Label {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		l.Selectable = true
		return l
	}
	mono := func(s string) *widget.Label {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		l.Selectable = true
		return l
	}
	rows := []fyne.CanvasObject{key("Account"), bold(d.Account)}
	if d.Password != "" {
		rows = append(rows, key("Password"), mono(d.Password))
	} else {
		rows = append(rows, key("Password"), widget.NewLabel("the one given when the account was made"))
	}
	rows = append(rows, key("Server"), bold(d.Server), key("Port"), widget.NewLabel(d.Port))
	if d.SHA256 != "" {
		rows = append(rows, key("Server SHA-256"), mono(groupFingerprint(d.SHA256)))
	}
	if d.SHA1 != "" {
		rows = append(rows, key("Server SHA-1"), mono(d.SHA1))
	}
	if d.CASHA256 != "" {
		rows = append(rows, key("Home CA SHA-256"), mono(groupFingerprint(d.CASHA256)))
	}
	details := container.NewVBox(
		wrapped("In the XMPP app on the device, sign in with:"),
		container.New(layout.NewFormLayout(), rows...),
		wrapped("If the app shows a fingerprint when it first connects, it must be the same as one above. "+
			"Reset password on the Users tab makes a new password when the old one is lost."),
	)
	var qr fyne.CanvasObject = widget.NewLabel("")
	if img := newQRImage(d.URI); img != nil {
		caption := widget.NewLabelWithStyle(d.URI, fyne.TextAlignCenter, fyne.TextStyle{})
		caption.Selectable = true
		note := widget.NewLabelWithStyle("The code holds the address,\nnever the password.", fyne.TextAlignCenter, fyne.TextStyle{})
		qr = container.NewVBox(container.NewCenter(img), caption, note)
	}

	var copyButton *widget.Button
	copyButton = widget.NewButtonWithIcon("Copy as text", theme.ContentCopyIcon(), func() {
		t.u.app.Clipboard().SetContent(d.Text())
		copyButton.SetText("Copied")
		copyButton.SetIcon(theme.ConfirmIcon())
	})
	save := widget.NewButtonWithIcon("Save QR code…", theme.DocumentSaveIcon(), func() {
		fd := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil || w == nil {
				return // cancelled, or the dialog said why
			}
			err = writeQRPNG(w, d.URI)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.u.showError(fmt.Errorf("the QR code was not saved: %w", err))
			}
		}, t.u.win)
		name, _, _ := strings.Cut(jid, "@")
		fd.SetFileName("hearth-" + name + ".png")
		fd.Show()
	})
	content := container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), copyButton, save), nil, qr, details)
	dlg := dialog.NewCustom("Connect a device: "+jid, "Done", content, t.u.win)
	dlg.Resize(fyne.NewSize(820, dlg.MinSize().Height))
	dlg.Show()
}
