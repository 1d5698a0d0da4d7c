//go:build nogui || !cgo

package main

import (
	"context"
	"errors"
)

// guiAvailable is false: this build has no GUI.
func guiAvailable() bool { return false }

// runGUI fails: this build has no GUI.
func runGUI(ctx context.Context, c *control, stopCommand string) error {
	return errors.New("this build of hearth has no GUI (built with the nogui tag or without cgo); run it with --headless")
}
