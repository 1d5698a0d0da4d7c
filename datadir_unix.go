//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// checkDataDir refuses a data directory that other users could tamper
// with: one they can write to could have its TLS key or database swapped,
// and one they own is theirs to change.
func checkDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("data directory %s belongs to another user (uid %d), who could change what hearth trusts; run hearth as that user, or make it yours: chown -R %d %s",
			dir, st.Uid, os.Geteuid(), dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("data directory %s can be written by other users (mode %04o), who could replace its keys; make it yours alone: chmod 700 %s",
			dir, perm, dir)
	}
	return nil
}
