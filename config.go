package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"hearth/server/admin"
)

func (c *cli) config(ctx context.Context, argv []string) error {
	const synopsis = "hearth config list|get|set [KEY] [VALUE]"
	fs, a := c.adminFlagSet("config", synopsis)
	verb, pos, err := c.verb(fs, argv, synopsis)
	if err != nil {
		return err
	}
	var call func(ctx context.Context, api admin.API) error
	switch verb {
	case "list":
		if err := args(pos, 0, 0, "hearth config list"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			ss, err := api.Settings(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "KEY\tVALUE\tDEFAULT\tDESCRIPTION")
			for _, s := range ss {
				help := s.Help
				if s.Restart {
					help += " (restart)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Key, orDash(s.Value), orDash(s.Default), help)
			}
			return w.Flush()
		}
	case "get":
		if err := args(pos, 1, 1, "hearth config get KEY"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			ss, err := api.Settings(ctx)
			if err != nil {
				return err
			}
			for _, s := range ss {
				if s.Key == pos[0] {
					fmt.Fprintln(c.stdout, s.Value)
					return nil
				}
			}
			return fmt.Errorf("config get %s: unknown setting: %w", pos[0], admin.ErrInvalid)
		}
	case "set":
		if err := args(pos, 2, 2, "hearth config set KEY VALUE"); err != nil {
			return err
		}
		call = func(ctx context.Context, api admin.API) error {
			restart, err := api.SetSetting(ctx, pos[0], pos[1])
			if err != nil {
				return err
			}
			if restart {
				fmt.Fprintln(c.stdout, "restart needed")
			}
			return nil
		}
	default:
		return usagef("config: unknown command %q", verb)
	}
	return c.withAPI(ctx, a, "", call)
}
