//go:build !nogui && cgo

package main

import (
	"context"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"hearth/gui"
	_ "hearth/internal/locale" // before Fyne reads the locale
)

// guiAvailable reports whether there is a display to open a window on.
func guiAvailable() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// runGUI shows the admin window over c's API and runs Fyne's event loop on
// the calling goroutine, which must be the main one. Closing the window
// asks whether to keep serving in the background (the window hides; a tray
// icon opens it again where the desktop has a tray, and so does starting
// Hearth again: c.ShowWindow) or to stop the server. It returns when ctx
// is done (the server is stopping), or after stopping the server when
// Fyne's loop ends otherwise (the desktop session asks it to), and only
// once every goroutine the window started has stopped. stopCommand is
// what stops the server from a terminal.
func runGUI(ctx context.Context, c *control, stopCommand string) error {
	a := app.NewWithID("home.hearth.app")
	a.SetIcon(gui.Icon)
	ui := gui.New(a, c.API)
	quit := func() { c.stop("asked in the window") }
	ui.SetClosing(gui.Closing{Stop: quit, Tray: trayAvailable(), StopCommand: stopCommand})
	c.setShow(func() { fyne.Do(ui.ShowWindow) })
	defer c.setShow(nil)

	uiCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		ui.Wait()
	}()
	ui.Run(uiCtx)
	// fyne.Do queues the call until the event loop runs, so a context
	// already done makes ShowAndRun return at once.
	stop := context.AfterFunc(ctx, func() { fyne.Do(a.Quit) })
	defer stop()

	ui.Window().SetMaster()
	ui.Window().ShowAndRun()
	if ctx.Err() == nil {
		c.stop("the window closed with the desktop session (a logout or shutdown)")
	}
	return nil
}
