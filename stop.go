package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"

	"hearth/server/admin"
	"hearth/storage"
)

const stopSynopsis = "hearth stop [--data DIR]"

// stop asks the server running on the data directory to stop cleanly,
// over the admin socket (local only, like every admin action), and waits
// until it has let go of the data directory. No server running is no error.
func (c *cli) stop(ctx context.Context, argv []string) error {
	fs := c.newFlagSet("stop", stopSynopsis)
	var data string
	dataFlag(fs, &data)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 0, 0, stopSynopsis); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	dir, err := c.dataDir(data)
	if err != nil {
		return err
	}
	api, err := admin.Dial(dir)
	if errors.Is(err, admin.ErrOffline) {
		fmt.Fprintf(c.stdout, "no Hearth server is running on %s\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	client := api.(*admin.Client)
	defer client.Close()
	if err := client.Stop(ctx); err != nil {
		return err
	}
	if err := storage.WaitReleased(ctx, filepath.Join(dir, dbName)); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("the server on %s was asked to stop and has not finished yet (it may still be handing messages to devices); "+
				"hearth status shows whether it still runs", dir)
		}
		return fmt.Errorf("the server on %s was asked to stop, but whether it has finished could not be checked (%v); "+
			"hearth status shows whether it still runs", dir, err)
	}
	fmt.Fprintln(c.stdout, "stopped")
	return nil
}

// control is the server's admin API as the admin socket serves it, with
// what the command adds: Stop (hearth stop), and ShowWindow (hearth
// started again while the window is hidden), while a window runs.
type control struct {
	admin.API
	// stop ends the serve run, as SIGTERM does; why goes to the log.
	stop func(why string)
	show atomic.Pointer[func()] // set while a window runs
}

func (c *control) Stop() { c.stop("asked over the admin socket (hearth stop)") }

// ShowWindow shows the window, if this run has one.
func (c *control) ShowWindow() error {
	show := c.show.Load()
	if show == nil {
		return errors.New("this Hearth runs without a window")
	}
	(*show)()
	return nil
}

// setShow sets how to show the window; nil when there is none.
func (c *control) setShow(show func()) {
	if show == nil {
		c.show.Store(nil)
		return
	}
	c.show.Store(&show)
}

// stopCommand is the command line that stops this server from a terminal:
// hearth stop, with --data when the data directory was given (flag or
// HEARTH_DATA) rather than the default. hearth is how a terminal runs
// this binary (hearthCommand).
func stopCommand(hearth, given, dir string) string {
	if given == "" {
		return hearth + " stop"
	}
	return hearth + " stop --data " + shellQuote(dir)
}

// hearthCommand is how a terminal runs this binary: "hearth" when that
// name on the PATH is this very file, else the file's absolute path (a
// binary started as ./bin/hearth, or from a launcher).
func hearthCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "hearth"
	}
	onPath, err := exec.LookPath("hearth")
	if err == nil {
		a, errA := os.Stat(onPath)
		b, errB := os.Stat(exe)
		if errA == nil && errB == nil && os.SameFile(a, b) {
			return "hearth"
		}
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
