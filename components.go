package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"hearth/server/admin"
)

const componentsSynopsis = "hearth components [list] | hearth components add NAME | hearth components remove NAME"

// components lists, adds and removes external components (XEP-0114).
func (c *cli) components(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("components", componentsSynopsis)
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
		if err := args(pos, 0, 0, "hearth components list"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			cs, err := api.Components(ctx)
			if err != nil {
				return err
			}
			return writeComponents(c.stdout, cs)
		})
	case "add":
		if err := args(pos, 1, 1, "hearth components add NAME"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			nc, err := api.AddComponent(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "component %s added; its secret (shown this once, keep it in the component's configuration):\n%s\n", nc.Name, nc.Secret)
			return nil
		})
	case "remove", "del":
		if err := args(pos, 1, 1, "hearth components remove NAME"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			return api.RemoveComponent(ctx, pos[0])
		})
	}
	return usagef("components: unknown command %q (usage: %s)", verb, componentsSynopsis)
}

func writeComponents(w io.Writer, cs []admin.Component) error {
	if len(cs) == 0 {
		_, err := fmt.Fprintln(w, "no external components; add one with hearth components add NAME")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tFROM\tIN\tOUT")
	for _, x := range cs {
		state, from := "not connected", ""
		if x.Connected {
			state = "connected since " + x.Since.Local().Format(time.DateTime)
			from = x.Addr
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", x.Name, state, from, x.In, x.Out)
	}
	return tw.Flush()
}
