package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"hearth/server/admin"
)

func (c *cli) roster(ctx context.Context, argv []string) error {
	const synopsis = "hearth roster list|add|del USER [CONTACT] [--name N] [--group G]..."
	fs, a := c.adminFlagSet("roster", synopsis)
	name := fs.String("name", "", "the contact's `name` (add)")
	var groups stringList
	fs.Var(&groups, "group", "a `group` of the contact (add; repeatable)")
	verb, pos, err := c.verb(fs, argv, synopsis)
	if err != nil {
		return err
	}
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "list":
		if err := args(pos, 1, 1, "hearth roster list USER"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			items, err := api.Roster(ctx, pos[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "CONTACT\tNAME\tSUBSCRIPTION\tGROUPS")
			for _, it := range items {
				sub := it.Subscription
				if it.Ask {
					sub += " (asked)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", it.JID, orDash(it.Name), sub, orDash(strings.Join(it.Groups, ", ")))
			}
			return w.Flush()
		}
	case "add":
		if err := args(pos, 2, 2, "hearth roster add USER CONTACT [--name N] [--group G]..."); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			return api.AddRosterItem(ctx, pos[0], admin.RosterItem{JID: pos[1], Name: *name, Groups: groups})
		}
	case "del":
		if err := args(pos, 2, 2, "hearth roster del USER CONTACT"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error { return api.RemoveRosterItem(ctx, pos[0], pos[1]) }
	default:
		return usagef("roster: unknown command %q", verb)
	}
	return c.withAPI(ctx, a, pos[0], call)
}
