package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"hearth/server/admin"
)

const (
	backupSynopsis  = "hearth backup [FILE|FOLDER] [--data DIR]"
	restoreSynopsis = "hearth restore FILE --data DIR"
)

// backup writes a backup of the data directory: through the running
// server, which goes on serving, or from the database directly.
func (c *cli) backup(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("backup", backupSynopsis)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 0, 1, backupSynopsis); err != nil {
		return err
	}
	target := "."
	if len(pos) == 1 {
		target = pos[0]
	}
	target, err = filepath.Abs(target)
	if err != nil {
		return fmt.Errorf("backup file: %w", err)
	}
	return c.withAPIUntimed(ctx, a, "", func(ctx context.Context, api admin.API) error {
		start := time.Now()
		info, err := api.Backup(ctx, target)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "backed up %s to %s (%s, %d files, %.1fs)\n", info.Domain, info.Path, info.Size(), info.Files+1, time.Since(start).Seconds())
		fmt.Fprintln(c.stdout, "It holds the server's private keys and everyone's messages: keep it where only you can read it.")
		fmt.Fprintf(c.stdout, "To restore it: hearth restore %s --data NEW-DIRECTORY\n", info.Path)
		return nil
	})
}

// restore puts a backup into a new data directory.
func (c *cli) restore(ctx context.Context, argv []string) error {
	fs := c.newFlagSet("restore", restoreSynopsis)
	var data string
	dataFlag(fs, &data)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 1, 1, restoreSynopsis); err != nil {
		return err
	}
	dir, err := c.dataDir(data)
	if err != nil {
		return err
	}
	info, users, err := admin.Restore(ctx, pos[0], dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored the backup of %s made %s into %s: %d accounts, %d files\n",
		info.Domain, info.Created.Local().Format("2006-01-02 15:04"), dir, users, info.Files)
	fmt.Fprintf(c.stdout, "Start it with: hearth serve --data %s\n", dir)
	return nil
}
