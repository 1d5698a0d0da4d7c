package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"hearth/server/admin"
)

const turnSynopsis = "hearth turn [status]"

// turnStatus shows the STUN/TURN service for calls: whether it runs,
// where, its relays and what went through them.
func (c *cli) turnStatus(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("turn", turnSynopsis)
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	if len(pos) > 0 && pos[0] == "status" {
		pos = pos[1:]
	}
	if err := args(pos, 0, 0, turnSynopsis); err != nil {
		return err
	}
	return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
		info, err := api.Info(ctx)
		if err != nil {
			return err
		}
		return writeTURN(c.stdout, info)
	})
}

// writeTURN writes hearth turn status.
func writeTURN(out io.Writer, info admin.Info) error {
	st := info.TURN
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	switch {
	case !info.Running:
		fmt.Fprintln(w, "calls (STUN/TURN):\tthe server is not running")
	case st.Running:
		fmt.Fprintln(w, "calls (STUN/TURN):\trunning; devices learn of it through XEP-0215")
		fmt.Fprintf(w, "listening:\t%s\n", termSafe(strings.Join(st.Listening, ", ")))
		fmt.Fprintf(w, "relays:\ton %s, UDP ports %d-%d (forward them and the STUN/TURN port on your router for calls from outside)\n", termSafe(st.RelayAddress), st.RelayMin, st.RelayMax)
		fmt.Fprintf(w, "allocations:\t%d now (at most %d, %d per account)\n", st.Allocations, st.MaxAllocations, st.PerUser)
		fmt.Fprintf(w, "relayed:\t%s in %d datagrams\n", admin.ByteSize(st.BytesRelayed), st.PacketsRelayed)
		fmt.Fprintf(w, "refused:\t%d with wrong or expired credentials, %d over a quota\n", st.RefusedAuth, st.RefusedQuota)
	case !st.Enabled:
		fmt.Fprintln(w, "calls (STUN/TURN):\toff: turn it on with: hearth config set turn.enabled true (then restart)")
	default:
		fmt.Fprintf(w, "calls (STUN/TURN):\tnot running: %s\n", termSafe(st.Reason))
	}
	return w.Flush()
}
