//go:build !nogui && cgo && (linux || freebsd || openbsd || netbsd)

package main

import (
	"github.com/godbus/dbus/v5"
)

// trayWatcher is the D-Bus name of the StatusNotifierItem host that shows
// tray icons on Linux desktops (KDE, GNOME with the AppIndicator
// extension, XFCE, ...); Fyne's tray registers with it.
const trayWatcher = "org.kde.StatusNotifierWatcher"

// trayAvailable reports whether the desktop shows tray icons: whether
// someone owns the watcher's name on the session bus.
func trayAvailable() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, trayWatcher).Store(&has); err != nil {
		return false
	}
	return has
}
