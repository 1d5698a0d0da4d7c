package main

import (
	"context"

	"hearth/internal/bench"
)

// bench runs the load generator against a running server (hearth bench -h).
func (c *cli) bench(ctx context.Context, args []string) error {
	return bench.Run(ctx, args, c.stdout)
}
