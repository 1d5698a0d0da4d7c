//go:build !nogui && cgo

package main

import (
	"context"
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"

	"hearth/gui"
	"hearth/server/admin"
)

// guiAvailable reports whether there is a display to open a window on.
func guiAvailable() bool {
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// runGUI shows the admin window and runs Fyne's event loop on the calling
// goroutine, which must be the main one. It returns when the window is
// closed, after calling quit, or when ctx is done (the server is stopping),
// and only once every goroutine the window started has stopped.
func runGUI(ctx context.Context, api admin.API, quit func()) error {
	a := app.NewWithID("home.hearth.app")
	a.SetIcon(gui.Icon)
	ui := gui.New(a, api)

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
		quit() // the user closed the window
	}
	return nil
}
