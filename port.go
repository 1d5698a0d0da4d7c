package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"hearth/server/admin"
)

const (
	exportSynopsis = "hearth export FILE|FOLDER [--user JID]... [--data DIR]"
	importSynopsis = "hearth import FILE|FOLDER [--replace] [--host DOMAIN] [--dry-run] [--data DIR]"
)

// exportAccounts writes accounts to a XEP-0227 file.
func (c *cli) exportAccounts(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("export", exportSynopsis)
	var users stringList
	fs.Var(&users, "user", "export only this account (repeat for more); default: every account")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 1, 1, exportSynopsis); err != nil {
		return err
	}
	file, err := filepath.Abs(pos[0]) // a folder gets a file per account
	if err != nil {
		return fmt.Errorf("export file: %w", err)
	}
	return c.withAPIUntimed(ctx, a, "", func(ctx context.Context, api admin.API) error {
		p, ok := api.(admin.Porter)
		if !ok {
			return errors.New("this server cannot export accounts; update it")
		}
		info, err := p.Export(ctx, file, users)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "exported %d %s to %s (%s, XEP-0227):\n", len(info.Accounts), plural(len(info.Accounts), "account", "accounts"), info.Path, admin.ByteSize(info.Bytes))
		for _, acc := range info.Accounts {
			fmt.Fprintf(c.stdout, "  %s\n", describePorted(acc))
		}
		fmt.Fprintln(c.stdout, "It holds everyone's login keys (not their passwords) and messages: keep it where only you can read it.")
		return nil
	})
}

// importAccounts reads accounts from a XEP-0227 file or folder.
func (c *cli) importAccounts(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("import", importSynopsis)
	var opt admin.ImportOptions
	fs.BoolVar(&opt.Replace, "replace", false, "let imported accounts take the place of existing ones of the same name (which are deleted with all they own)")
	fs.StringVar(&opt.Host, "host", "", "import the accounts of this domain in the file (default: this server's, or the file's only one)")
	fs.BoolVar(&opt.DryRun, "dry-run", false, "check the file and say what would be imported, without importing")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if err := args(pos, 1, 1, importSynopsis); err != nil {
		return err
	}
	path, err := filepath.Abs(pos[0])
	if err != nil {
		return fmt.Errorf("import file: %w", err)
	}
	hint := "" // a new data directory takes the domain the accounts come from
	if opt.Host != "" {
		hint = "@" + opt.Host
	}
	return c.withAPIUntimed(ctx, a, hint, func(ctx context.Context, api admin.API) error {
		p, ok := api.(admin.Porter)
		if !ok {
			return errors.New("this server cannot import accounts; update it")
		}
		rep, err := p.Import(ctx, path, opt)
		if err != nil {
			return err
		}
		verb := "imported"
		if rep.DryRun {
			verb = "would import (dry run, nothing changed)"
		}
		fmt.Fprintf(c.stdout, "%s %d %s of %s:\n", verb, len(rep.Accounts), plural(len(rep.Accounts), "account", "accounts"), rep.From)
		for _, acc := range rep.Accounts {
			fmt.Fprintf(c.stdout, "  %s\n", describePorted(acc))
			fmt.Fprintf(c.stdout, "    login keys: %s\n", acc.Keys)
			for _, s := range acc.Skipped {
				fmt.Fprintf(c.stdout, "    not imported: %s\n", s)
			}
		}
		for _, h := range rep.OtherHosts {
			fmt.Fprintf(c.stdout, "The file also holds accounts of %s, not imported: import them with --host %s.\n", h, h)
		}
		return nil
	})
}

func describePorted(a admin.PortedAccount) string {
	parts := []string{fmt.Sprintf("%d %s", a.Contacts, plural(a.Contacts, "contact", "contacts"))}
	if a.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d subscription %s", a.Pending, plural(a.Pending, "request", "requests")))
	}
	if a.VCard {
		parts = append(parts, "vCard")
	}
	if a.Private > 0 {
		parts = append(parts, fmt.Sprintf("%d private XML %s", a.Private, plural(a.Private, "element", "elements")))
	}
	if a.Offline > 0 {
		parts = append(parts, fmt.Sprintf("%d offline %s", a.Offline, plural(a.Offline, "message", "messages")))
	}
	if a.PEPNodes > 0 {
		parts = append(parts, fmt.Sprintf("%d PEP %s with %d %s", a.PEPNodes, plural(a.PEPNodes, "node", "nodes"), a.PEPItems, plural(a.PEPItems, "item", "items")))
	}
	s := a.JID + ": " + strings.Join(parts, ", ")
	if a.Replaced {
		s += " (replaced the existing account)"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
