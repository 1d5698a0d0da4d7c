package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"hearth/server/admin"
)

const uploadsSynopsis = "hearth uploads [list] | hearth uploads purge [--user USER] [--expired]"

// uploads shows the files people shared (XEP-0363) and each account's
// use, or deletes files: an account's, the expired ones, or both.
func (c *cli) uploads(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("uploads", uploadsSynopsis)
	user := fs.String("user", "", "purge: only this `account`'s files")
	expired := fs.Bool("expired", false, "purge: only files past their expiry (and those of deleted accounts)")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	verb := "list"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	switch verb {
	case "list":
		if err := args(pos, 0, 0, "hearth uploads list"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			st, err := api.Uploads(ctx)
			if err != nil {
				return err
			}
			return writeUploads(c.stdout, st)
		})
	case "purge":
		if err := args(pos, 0, 0, "hearth uploads purge [--user USER] [--expired]"); err != nil {
			return err
		}
		if *user == "" && !*expired {
			return usagef("uploads purge: say whose files (--user USER), or --expired for the expired ones")
		}
		return c.withAPI(ctx, a, *user, func(ctx context.Context, api admin.API) error {
			res, err := api.PurgeUploads(ctx, *user, *expired)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "deleted %d files (%s)\n", res.Files, admin.ByteSize(res.Bytes))
			return nil
		})
	}
	return usagef("uploads: unknown command %q (usage: %s)", verb, uploadsSynopsis)
}

// writeUploads writes hearth uploads list.
func writeUploads(out io.Writer, st admin.UploadStatus) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	url := st.URL
	if url == "" {
		url = "(the server is not running, or its HTTPS listener is off)"
	}
	fmt.Fprintf(w, "served at:\t%s\n", termSafe(url))
	limit := func(n int64) string {
		if n <= 0 {
			return "no limit"
		}
		return admin.ByteSize(n)
	}
	fmt.Fprintf(w, "largest file:\t%s\n", limit(st.MaxFileBytes))
	fmt.Fprintf(w, "per account:\t%s kept, %s a day\n", limit(st.QuotaBytes), limit(st.DailyBytes))
	fmt.Fprintf(w, "kept for:\t%s\n", st.Expiry)
	fmt.Fprintf(w, "in all:\t%d files, %s\n", st.Files, admin.ByteSize(st.Bytes))
	if err := w.Flush(); err != nil {
		return err
	}
	if len(st.Users) == 0 {
		return nil
	}
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "JID\tFILES\tSIZE\tOF QUOTA")
	for _, u := range st.Users {
		share := "-"
		if st.QuotaBytes > 0 {
			share = fmt.Sprintf("%.0f%%", 100*float64(u.Bytes)/float64(st.QuotaBytes))
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", termSafe(u.JID), u.Files, admin.ByteSize(u.Bytes), share)
	}
	return w.Flush()
}
