package gui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

const backupLabel = "Back up now"

// newBackupButton makes a backup into the server's backups folder
// (setting backup.dir) and says where it went. A backup may take a
// while: it has no time limit, and the button waits until it is done.
func newBackupButton(u *UI) *widget.Button {
	b := widget.NewButtonWithIcon(backupLabel, theme.DocumentSaveIcon(), nil)
	b.OnTapped = func() {
		b.Disable()
		b.SetText("Backing up…")
		u.background(func(ctx context.Context) {
			info, err := u.api.Backup(ctx, "")
			if u.ctx.Err() != nil {
				return
			}
			u.do(func() {
				b.Enable()
				b.SetText(backupLabel)
				if err != nil {
					u.showError(describe("the backup was not made", err))
					return
				}
				dialog.ShowInformation("Backed up", fmt.Sprintf("The server was backed up to\n%s\n(%s).\n\n"+
					"It holds everyone's messages and the server's private keys: keep it where only you can read it.\n"+
					"To restore it on another machine: hearth restore FILE --data NEW-FOLDER", info.Path, info.Size()), u.win)
			})
		})
	}
	return b
}
