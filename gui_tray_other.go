//go:build !nogui && cgo && !linux && !freebsd && !openbsd && !netbsd

package main

// trayAvailable is true: Windows and macOS always show tray
// icons.
func trayAvailable() bool { return true }
