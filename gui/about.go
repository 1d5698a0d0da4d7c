package gui

import (
	"cmp"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"hearth/internal/buildinfo"
)

// showAbout shows the About box: the server's version, and the commit and
// toolchain of this binary (the window runs in the server's process).
func (u *UI) showAbout(version string) {
	b := buildinfo.Read()
	commit := widget.NewLabelWithStyle(cmp.Or(b.Commit, "not recorded in this build"), fyne.TextAlignLeading, fyne.TextStyle{Monospace: b.Commit != ""})
	commit.Selectable = true
	commit.Wrapping = fyne.TextWrapBreak
	rows := []fyne.CanvasObject{
		key("Version"), widget.NewLabel(cmp.Or(version, b.String())),
		key("Commit"), commit,
	}
	if b.Modified {
		rows = append(rows, key(""), wrapped("built with changes not committed"))
	}
	if b.Date != "" {
		rows = append(rows, key("Commit date"), widget.NewLabel(b.Date))
	}
	rows = append(rows, key("Built with"), widget.NewLabel(b.Go))
	title := widget.NewLabelWithStyle("Hearth", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	content := container.NewVBox(title, wrapped("An XMPP server for a home: family chat on your own machine."),
		container.New(layout.NewFormLayout(), rows...))
	d := dialog.NewCustom("About Hearth", "Close", content, u.win)
	d.Resize(fyne.NewSize(520, d.MinSize().Height))
	d.Show()
}
