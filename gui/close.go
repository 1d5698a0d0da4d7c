package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Closing says what closing the window may do. Closing the window never
// stops the server by surprise: it asks whether to keep serving in the
// background or to stop.
type Closing struct {
	// Stop stops the server (and with it the window).
	Stop func()
	// Tray: the desktop shows a system tray, where Hearth's icon opens
	// the window again or stops the server.
	Tray bool
	// StopCommand is what to type in a terminal to stop the server, for
	// a desktop without a tray: "hearth stop", with --data if needed.
	StopCommand string
}

// Button labels of the close dialog and the tray menu.
const (
	keepServingLabel = "Keep serving in the background"
	stopServerLabel  = "Stop the server"
	openLabel        = "Open Hearth"
)

// SetClosing makes closing the window ask whether to keep serving or
// stop, and, where the desktop has a system tray, puts Hearth's icon
// there. Without SetClosing, closing the window closes it (tests, and a
// window that is not the server's own). Call it before the window shows.
func (u *UI) SetClosing(c Closing) {
	u.closing = &c
	if c.Tray {
		if d, ok := u.app.(desktop.App); ok {
			stop := fyne.NewMenuItem(stopServerLabel, c.Stop)
			stop.IsQuit = true // Fyne adds no "Quit" of its own
			u.trayMenu = fyne.NewMenu("Hearth", fyne.NewMenuItem(openLabel, u.showWindow), stop)
			d.SetSystemTrayMenu(u.trayMenu)
			d.SetSystemTrayIcon(Icon)
			d.SetSystemTrayWindow(u.win) // a tap on the icon shows the window
		}
	}
	// After SetSystemTrayWindow, which sets its own (hide without a word).
	u.win.SetCloseIntercept(u.askClose)
}

// askClose asks what closing the window means: keep serving with the
// window hidden, stop the server, or nothing (Cancel).
func (u *UI) askClose() {
	c := u.closing
	if c == nil {
		u.win.Close()
		return
	}
	if u.asking {
		return // the question is on screen already
	}
	u.asking = true
	text := "Family devices can sign in and talk to each other only while Hearth runs. " +
		"It can keep serving with this window closed."
	var how fyne.CanvasObject
	if c.Tray {
		how = wrapped("Hearth's icon in the system tray opens this window again, or stops the server.")
	} else {
		cmd := widget.NewLabelWithStyle(c.StopCommand, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
		cmd.Selectable = true
		cmd.Wrapping = fyne.TextWrapBreak // a long path must not widen the dialog
		how = container.NewVBox(
			wrapped("This desktop has no system tray. To open this window again, start Hearth again "+
				"(from its launcher, or hearth in a terminal). To stop the server, run in a terminal:"),
			cmd,
			wrapped("(hearth status shows whether it runs.)"),
		)
	}
	var d *dialog.CustomDialog
	keep := widget.NewButton(keepServingLabel, func() {
		d.Hide()
		u.hideWindow()
	})
	keep.Importance = widget.HighImportance
	stop := widget.NewButton(stopServerLabel, func() {
		d.Hide()
		c.Stop()
	})
	stop.Importance = widget.DangerImportance
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	content := container.NewVBox(wrapped(text), how)
	d = dialog.NewCustomWithoutButtons("Close the window?", content, u.win)
	d.SetOnClosed(func() { u.asking = false })
	d.SetButtons([]fyne.CanvasObject{cancel, stop, keep})
	d.Resize(fyne.NewSize(560, d.MinSize().Height))
	d.Show()
}

// hideWindow hides the window; the server and the UI's updates go on.
func (u *UI) hideWindow() {
	u.hidden = true
	u.win.Hide()
	u.federation.left() // a federation test needs the window in sight
}

// ShowWindow shows the window again, in front (a second Hearth started on
// the same data directory asks for it). Call it on the UI goroutine.
func (u *UI) ShowWindow() { u.showWindow() }

// showWindow shows the window again, in front.
func (u *UI) showWindow() {
	u.hidden = false
	u.win.Show()
	u.win.RequestFocus()
	u.catchUp()
}
