package muc

import (
	"context"
	"slices"
	"strconv"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// entry is a message the room sent, kept for history on join.
type entry struct {
	el      *stanza.Element // as broadcast, without to
	at      time.Time
	delayed bool // already carries its delay (from the archive)
	size    int  // its footprint
}

// ring keeps a room's last messages: at most historyKeep, taking at most
// historyBytes of memory (stanza.Element.Footprint).
type ring struct {
	items []entry
	bytes int
}

func (g *ring) add(e entry) {
	e.size = e.el.Footprint()
	g.items = append(g.items, e)
	g.bytes += e.size
	drop := 0
	for len(g.items)-drop > historyKeep || g.bytes > historyBytes && len(g.items)-drop > 1 {
		g.bytes -= g.items[drop].size
		drop++
	}
	if drop > 0 {
		// In place: the ring is read only under the room's lock, and
		// nothing keeps its slice.
		n := copy(g.items, g.items[drop:])
		clear(g.items[n:])
		g.items = g.items[:n]
	}
}

// remove drops the message with the room's archive id (moderation): only
// a stanza-id by the room counts.
func (g *ring) remove(id string, room jid.JID) {
	by := room.String()
	for i, e := range g.items {
		for _, sid := range e.el.Elements() {
			if sid.Name == "stanza-id" && sid.NS == nsSID && sid.Attr("by") == by && sid.Attr("id") == id {
				g.bytes -= e.size
				g.items = slices.Delete(g.items, i, i+1)
				return
			}
		}
	}
}

// drop forgets the message el (one whose archiving failed).
func (g *ring) drop(el *stanza.Element) {
	for i, e := range g.items {
		if e.el == el {
			g.bytes -= e.size
			g.items = slices.Delete(g.items, i, i+1)
			return
		}
	}
}

// History is what a joining occupant asked of the history
// (<history maxchars maxstanzas seconds since/>, XEP-0045 7.2.15): -1 and
// the zero time mean "not given".
type History struct {
	MaxChars, MaxStanzas, Seconds int
	Since                         time.Time
}

// ParseHistory reads a <history/> element; nil gives the default. A value
// that is not a number or time is ignored, as if not given.
func ParseHistory(h *stanza.Element) History {
	out := History{MaxChars: -1, MaxStanzas: -1, Seconds: -1}
	if h == nil {
		return out
	}
	num := func(name string) int {
		v := h.Attr(name)
		if v == "" {
			return -1
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
	out.MaxChars, out.MaxStanzas, out.Seconds = num("maxchars"), num("maxstanzas"), num("seconds")
	if s := h.Attr("since"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			out.Since = t
		}
	}
	return out
}

// pick returns what of items (oldest first) the request lets through, at
// now: the newest first counted, each limit applied.
func (h History) pick(items []entry, size func(entry) int, now time.Time) []entry {
	max := h.MaxStanzas
	if max < 0 {
		max = historyDefault
	}
	chars := 0
	start := len(items)
	for i := len(items) - 1; i >= 0 && len(items)-i <= max; i-- {
		e := items[i]
		if h.Seconds >= 0 && now.Sub(e.at) > time.Duration(h.Seconds)*time.Second {
			break
		}
		if !h.Since.IsZero() && e.at.Before(h.Since) {
			break
		}
		if h.MaxChars >= 0 {
			chars += size(e)
			if chars > h.MaxChars {
				break
			}
		}
		start = i
	}
	return items[start:]
}

// archived says whether the room's messages go to an archive now: the
// room is configured to archive and the server's archives are on.
func (r *room) archived(m *Module) bool {
	return m.archive != nil && r.cfg.Archive && m.archive.Enabled()
}

// fill reads the history kept in memory from the archive, once after
// the room was loaded (a restart), r.mu held.
func (m *Module) fill(ctx context.Context, r *room) {
	if !r.filled && r.archived(m) && len(r.history.items) == 0 {
		r.filled = true
		if msgs, err := m.archive.Recent(ctx, r.jid, historyKeep, time.Time{}); err != nil {
			m.log.Warn("the room's recent messages could not be read from its archive; joining occupants get none", "room", r.jid.String(), "err", err)
		} else {
			for _, el := range msgs {
				at := m.now()
				if d := el.Child("delay", stanza.NSDelay); d != nil {
					if t, err := time.Parse(time.RFC3339Nano, d.Attr("stamp")); err == nil {
						at = t
					}
				}
				r.history.add(entry{el: el, at: at, delayed: true})
			}
		}
	}
}

// historyFor is the history a joining session gets, r.mu held.
func (m *Module) historyFor(ctx context.Context, r *room, x *stanza.Element, to jid.JID) []delivery {
	m.fill(ctx, r)
	var h History
	if x != nil {
		h = ParseHistory(x.Child("history", NS))
	} else {
		h = ParseHistory(nil)
	}
	out := []delivery{}
	for _, e := range h.pick(r.history.items, func(e entry) int { return len(e.el.String()) }, m.now()) {
		el := e.el
		if !e.delayed {
			el = el.ShallowClone()
			el.Append(stanza.New("delay", stanza.NSDelay, "from", r.jid.String(), "stamp", e.at.UTC().Format("2006-01-02T15:04:05.000Z")))
		}
		out = append(out, addressed(el, to))
	}
	return out
}
