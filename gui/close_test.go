package gui

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2"
)

// trayApp is a test app on a desktop with a system tray: it keeps the
// tray menu Hearth sets.
type trayApp struct {
	fyne.App
	menu   *fyne.Menu
	icon   fyne.Resource
	window fyne.Window
}

func (a *trayApp) SetSystemTrayMenu(m *fyne.Menu)    { a.menu = m }
func (a *trayApp) SetSystemTrayIcon(r fyne.Resource) { a.icon = r }
func (a *trayApp) SetSystemTrayWindow(w fyne.Window) { a.window = w }

// trayItem returns the tray menu's item labelled label.
func (a *trayApp) trayItem(t *testing.T, label string) *fyne.MenuItem {
	t.Helper()
	if a.menu == nil {
		t.Fatal("no tray menu")
	}
	i := slices.IndexFunc(a.menu.Items, func(it *fyne.MenuItem) bool { return it.Label == label })
	if i < 0 {
		t.Fatalf("no tray menu item %q", label)
	}
	return a.menu.Items[i]
}

// TestCloseWindow: closing the window asks; "keep serving" hides the
// window while the server goes on answering logins and the window goes on
// following it, "stop" stops the server, Cancel does nothing. Without a
// tray, the dialog says how to stop the server from a terminal.
func TestCloseWindow(t *testing.T) {
	for _, tc := range []struct {
		name        string
		button      string
		wantHidden  bool
		wantStopped bool
	}{
		{"keep serving", keepServingLabel, true, false},
		{"stop", stopServerLabel, false, true},
		{"cancel", "Cancel", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			alice := h.addUser("alice", "silver-kettle-pw")
			stopped := false
			h.ui.SetClosing(Closing{Stop: func() { stopped = true }, StopCommand: "hearth stop --data /srv/hearth"})

			h.ui.askClose()
			h.waitFor("the close dialog", func() bool { return h.dialogTitled("Close the window?") })
			h.ui.askClose() // closing again while asked: still one question
			if n := len(h.win.Canvas().Overlays().List()); n != 1 {
				t.Errorf("%d dialogs after closing twice, want 1", n)
			}
			for _, s := range []string{"no system tray", "start Hearth again", "hearth stop --data /srv/hearth", "hearth status"} {
				if !h.showsText(s) {
					t.Errorf("the close dialog does not say %q", s)
				}
			}
			h.tap(tc.button)
			if h.win.Canvas().Overlays().Top() != nil {
				t.Error("the dialog is still open")
			}
			if h.ui.hidden != tc.wantHidden || stopped != tc.wantStopped {
				t.Errorf("after %q: hidden %v, stopped %v; want %v, %v", tc.button, h.ui.hidden, stopped, tc.wantHidden, tc.wantStopped)
			}
			if tc.wantStopped {
				return
			}
			// The server still answers logins, and the window, hidden or
			// not, still follows it.
			h.checkLogin(alice, "silver-kettle-pw", true)
			if _, err := login(t, h.api, alice, "silver-kettle-pw"); err != nil {
				t.Fatalf("alice cannot sign in after the window was closed: %v", err)
			}
			h.waitFor("alice's session on the overview", func() bool { return h.ui.overview.online.Subtitle == "1 session" })
			// Hearth started again shows the window.
			h.ui.ShowWindow()
			if h.ui.hidden {
				t.Error("ShowWindow left the window hidden")
			}
		})
	}
}

// TestCloseWindowTray: on a desktop with a system tray, Hearth puts its
// icon there with "Open Hearth" and "Stop the server", and the close
// dialog points to it.
func TestCloseWindowTray(t *testing.T) {
	h := newHarness(t)
	tray := &trayApp{App: h.app}
	h.ui.app = tray
	stopped := false
	h.ui.SetClosing(Closing{Stop: func() { stopped = true }, Tray: true, StopCommand: "hearth stop"})
	if tray.icon != Icon || tray.window != h.win {
		t.Errorf("tray icon %v, window %v; want Hearth's icon and window", tray.icon, tray.window)
	}
	if !tray.trayItem(t, stopServerLabel).IsQuit {
		t.Error(`"Stop the server" is not the tray menu's quit item: Fyne would add a "Quit" of its own`)
	}

	h.ui.askClose()
	h.waitFor("the close dialog", func() bool { return h.dialogTitled("Close the window?") })
	if !h.showsText("icon in the system tray") || h.showsText("hearth stop") {
		t.Errorf("the close dialog should point to the tray icon, not to a command:\n%q", h.texts())
	}
	h.tap(keepServingLabel)
	if !h.ui.hidden || stopped {
		t.Fatalf("after keep serving: hidden %v, stopped %v", h.ui.hidden, stopped)
	}
	tray.trayItem(t, openLabel).Action()
	if h.ui.hidden {
		t.Error(`"Open Hearth" did not show the window`)
	}
	tray.trayItem(t, stopServerLabel).Action()
	if !stopped {
		t.Error(`"Stop the server" did not stop the server`)
	}
}
