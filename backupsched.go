package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"hearth/server/admin"
	"hearth/server/settings"
)

// The server's own backups (setting backup.schedule): a check every
// backupCheck makes one into admin's BackupFolder when the newest of them
// is older than the schedule's period, then deletes all but the newest
// backup.keep. Their names start with autoPrefix, so backups people make
// by hand in the same folder are never deleted.
const (
	autoPrefix   = "hearth-auto-"
	backupCheck  = 10 * time.Minute
	backupFirst  = time.Minute // after the start, so as not to slow it
	backupRetry  = time.Hour   // after a failure
	backupSuffix = ".tar.gz"
)

type backupScheduler struct {
	local *admin.Local
	log   *slog.Logger
	now   func() time.Time
}

func (s *backupScheduler) run(ctx context.Context) error {
	wait := backupFirst
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = backupCheck
		if err := s.check(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("the scheduled backup failed; it is tried again in an hour (hearth backup makes one by hand)", "err", err)
			wait = backupRetry
		}
	}
}

// check makes a backup if one is due, and prunes the old ones.
func (s *backupScheduler) check(ctx context.Context) error {
	v, err := s.local.Values(ctx)
	if err != nil {
		return err
	}
	var period time.Duration
	switch v.String(settings.KeyBackupSchedule) {
	case "daily":
		period = 24 * time.Hour
	case "weekly":
		period = 7 * 24 * time.Hour
	default:
		return nil
	}
	dir, err := s.local.BackupFolder(ctx)
	if err != nil {
		return err
	}
	own := autoBackups(dir) // none while the folder is missing: Backup makes it
	now := s.now()
	if len(own) == 0 || now.Sub(modTime(filepath.Join(dir, own[len(own)-1]))) >= period {
		file := filepath.Join(dir, autoPrefix+strings.TrimPrefix(admin.BackupName(s.local.Domain, now), "hearth-"))
		info, err := s.local.Backup(ctx, file)
		if err != nil {
			return err
		}
		s.log.Info("scheduled backup made", "file", info.Path, "bytes", info.Bytes)
		own = autoBackups(dir)
	}
	keep := max(1, v.Int(settings.KeyBackupKeep))
	for _, name := range own[:max(0, len(own)-keep)] {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			s.log.Warn("an old scheduled backup could not be deleted", "file", name, "err", err)
		}
	}
	return nil
}

// autoBackups lists the scheduled backups in dir, oldest first (their
// names hold the time they were made).
func autoBackups(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, autoPrefix) && strings.HasSuffix(n, backupSuffix) {
			out = append(out, n)
		}
	}
	// By the time in the name (YYYYMMDD-HHMMSS, before the suffix),
	// whatever the domain before it.
	stamp := func(n string) string { return n[max(0, len(n)-len(backupSuffix)-15):] }
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(stamp(a), stamp(b)) })
	return out
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
