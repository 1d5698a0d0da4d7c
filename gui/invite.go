package gui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// invite makes an invitation for one new account, valid a week, and
// shows its link and QR code: the person invited chooses their own name
// and password in their app (XEP-0401, XEP-0445).
func (t *usersTab) invite() {
	if t.inviteButton.Disabled() {
		return
	}
	t.inviteButton.Disable()
	t.u.call(func(ctx context.Context) func() {
		inv, err := t.u.api.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteAccount})
		return func() {
			t.inviteButton.Enable()
			if err != nil {
				t.u.showError(describe("Cannot make an invitation", err))
				return
			}
			t.showInvite(inv)
		}
	})
}

// showInvite shows an invitation: the link to send, copyable, and a QR
// code of it to scan with a phone's camera. At home the code holds the
// LAN's address of the page, which leads a phone to trust the home CA
// first.
func (t *usersTab) showInvite(inv admin.Invite) {
	link := inv.Link
	if inv.LANLink != "" {
		link = inv.LANLink
	}
	linkLabel := widget.NewLabelWithStyle(link, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	linkLabel.Selectable = true
	linkLabel.Wrapping = fyne.TextWrapBreak
	var copyButton *widget.Button
	copyButton = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() {
		t.u.app.Clipboard().SetContent(link)
		copyButton.SetText("Copied")
		copyButton.SetIcon(theme.ConfirmIcon())
	})
	text := container.NewVBox(
		wrapped(fmt.Sprintf("Send this link to the person you invite, or let them scan the code with their phone's camera. "+
			"They choose their own name and password in their chat app. The invitation works once, until %s.",
			inv.Expires.Local().Format("2 January 2006"))),
		linkLabel,
		container.NewHBox(copyButton, layout.NewSpacer()),
	)
	if inv.LANLink != "" {
		other := widget.NewLabel("Away from home: " + inv.Link)
		other.Selectable = true
		other.Wrapping = fyne.TextWrapBreak
		text.Add(other)
	}
	text.Add(wrapped("It works once, until " + inv.Expires.Local().Format("2 January at 15:04") + ". Send the link, or let them scan the code with their phone's camera."))
	var qr fyne.CanvasObject = widget.NewLabel("")
	if img := newQRImage(link); img != nil {
		qr = container.NewCenter(img)
	}
	content := container.NewBorder(nil, nil, nil, qr, text)
	dlg := dialog.NewCustom("Invitation to "+t.domain, "Done", content, t.u.win)
	dlg.Resize(fyne.NewSize(820, dlg.MinSize().Height))
	dlg.Show()
}
