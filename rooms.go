package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"hearth/server/admin"
)

const roomsSynopsis = "hearth rooms [list] | hearth rooms show ROOM | hearth rooms destroy ROOM [--reason TEXT] [--alternate ROOM] | " +
	"hearth rooms affiliation ROOM JID owner|admin|member|outcast|none"

// rooms lists and manages the running server's chat rooms (XEP-0045).
func (c *cli) rooms(ctx context.Context, argv []string) error {
	fs, a := c.adminFlagSet("rooms", roomsSynopsis)
	reason := fs.String("reason", "", "destroy: why, told to those in the room")
	alternate := fs.String("alternate", "", "destroy: the `room` to go to instead, told to those in the room")
	pos, err := c.parse(fs, argv)
	if err != nil {
		return err
	}
	verb := "list"
	if len(pos) > 0 {
		verb, pos = pos[0], pos[1:]
	}
	if verb != "destroy" && (*reason != "" || *alternate != "") {
		return usagef("rooms %s: --reason and --alternate are for hearth rooms destroy", verb)
	}
	switch verb {
	case "list":
		if err := args(pos, 0, 0, "hearth rooms list"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			rooms, err := api.Rooms(ctx)
			if err != nil {
				return err
			}
			return writeRooms(c.stdout, rooms)
		})
	case "show":
		if err := args(pos, 1, 1, "hearth rooms show ROOM"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			return showRoom(ctx, c.stdout, api, pos[0])
		})
	case "destroy":
		if err := args(pos, 1, 1, "hearth rooms destroy ROOM [--reason TEXT] [--alternate ROOM]"); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			return api.DestroyRoom(ctx, pos[0], *reason, *alternate)
		})
	case "affiliation":
		syn := "hearth rooms affiliation ROOM JID " + strings.Join(admin.Affiliations, "|")
		if err := args(pos, 3, 3, syn); err != nil {
			return err
		}
		return c.withAPI(ctx, a, "", func(ctx context.Context, api admin.API) error {
			return api.SetRoomAffiliation(ctx, pos[0], pos[1], pos[2])
		})
	}
	return usagef("rooms: unknown command %q (usage: %s)", verb, roomsSynopsis)
}

// roomFlags says in words how a room is configured.
func roomFlags(r admin.RoomInfo) string {
	var f []string
	add := func(on bool, yes, no string) {
		switch {
		case on:
			f = append(f, yes)
		case no != "":
			f = append(f, no)
		}
	}
	add(r.Persistent, "persistent", "temporary")
	add(r.Public, "public", "hidden")
	add(r.MembersOnly, "members-only", "open")
	add(r.Moderated, "moderated", "")
	add(r.PasswordProtected, "password", "")
	add(r.Archived, "archived", "")
	return strings.Join(f, ",")
}

// writeRooms writes hearth rooms list.
func writeRooms(out io.Writer, rooms []admin.RoomInfo) error {
	if len(rooms) == 0 {
		_, err := fmt.Fprintln(out, "no rooms")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ROOM\tNAME\tOCCUPANTS\tFLAGS")
	for _, r := range rooms {
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", termSafe(r.JID), orDash(termSafe(r.Name)), r.Occupants, roomFlags(r))
	}
	return w.Flush()
}

// showRoom writes hearth rooms show: the room's configuration, who is in
// it, who has a place in it.
func showRoom(ctx context.Context, out io.Writer, api admin.API, room string) error {
	occ, err := api.Occupants(ctx, room)
	if err != nil {
		return err
	}
	affs, err := api.RoomAffiliations(ctx, room)
	if err != nil {
		return err
	}
	rooms, err := api.Rooms(ctx)
	if err != nil {
		return err
	}
	// The room as it was named (its address or its name): the API
	// found it, so one of the list is it.
	var info admin.RoomInfo
	for _, r := range rooms {
		local, _, _ := strings.Cut(r.JID, "@")
		if strings.EqualFold(r.JID, room) || strings.EqualFold(local, room) {
			info = r
		}
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "room:\t%s\n", termSafe(info.JID))
	fmt.Fprintf(w, "name:\t%s\n", orDash(termSafe(info.Name)))
	fmt.Fprintf(w, "description:\t%s\n", orDash(termSafe(info.Description)))
	fmt.Fprintf(w, "subject:\t%s\n", orDash(termSafe(info.Subject)))
	fmt.Fprintf(w, "flags:\t%s\n", roomFlags(info))
	if err := w.Flush(); err != nil {
		return err
	}
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if len(occ) == 0 {
		fmt.Fprintln(w, "occupants:\tnone")
	} else {
		fmt.Fprintln(w, "NICK\tJID\tROLE\tAFFILIATION")
		for _, o := range occ {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", termSafe(o.Nick), termSafe(o.JID), o.Role, orDash(o.Affiliation))
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if len(affs) == 0 {
		fmt.Fprintln(w, "affiliations:\tnone")
	} else {
		fmt.Fprintln(w, "AFFILIATED\tAFFILIATION")
		for _, a := range affs {
			fmt.Fprintf(w, "%s\t%s\n", termSafe(a.JID), a.Affiliation)
		}
	}
	return w.Flush()
}
