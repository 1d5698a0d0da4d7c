package server

import (
	"context"

	"hearth/server/admin"
	"hearth/server/internal/jid"
)

// Console implements admin.Live: the XML console's view of a session,
// from c2s's tap, as the admin API's frames. The goroutine ends when the
// watch does (ctx done or the session ended).
func (h *hooks) Console(ctx context.Context, full string) (<-chan admin.ConsoleFrame, bool) {
	j, err := jid.Parse(full)
	if err != nil {
		return nil, false
	}
	frames, ok := h.s.c2s.Watch(ctx, j)
	if !ok {
		return nil, false
	}
	out := make(chan admin.ConsoleFrame, cap(frames))
	go func() {
		defer close(out)
		for f := range frames {
			dir := admin.DirIn
			if f.Out {
				dir = admin.DirOut
			}
			af := admin.ConsoleFrame{At: f.At, Dir: dir, XML: f.XML, Dropped: f.Dropped}
			select {
			case out <- af:
			case <-ctx.Done():
				// Nobody reads any more; the watch ends with ctx and
				// closes frames.
			}
		}
	}()
	return out, true
}
