package muc

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// countConn is a transport that only counts what it is sent: the
// benchmark measures the room's fan-out, not a writer.
type countConn struct{ n atomic.Int64 }

func (c *countConn) Send(el *stanza.Element, done func(bool)) bool {
	c.n.Add(1)
	if done != nil {
		done(true)
	}
	return true
}
func (c *countConn) Room() (int, int)             { return 1 << 20, 1 << 30 }
func (c *countConn) Close(condition, text string) {}

// BenchmarkBroadcast: one groupchat message to a room of 50 and 500
// occupants (each stanza shares the message's children; only the
// top-level element is copied per occupant).
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{50, 500} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := modtest.Router()
			m := New(Deps{DB: modtest.DB(b), Router: r, Domain: modtest.Domain})
			m.Register(r.Mux())
			m.SetRate(0) // the room's work, not its bound
			m.SetLimits(0, n+1, 0)
			ctx := context.Background()
			conns := make([]*countConn, n)
			var first jid.JID
			for i := range n {
				full := jid.MustParse(fmt.Sprintf("u%d@%s/pc", i, modtest.Domain))
				conns[i] = &countConn{}
				r.Bind(&router.Session{JID: full, Conn: conns[i]})
				p := stanza.New("presence", stanza.NSClient, "from", full.String(), "to", fmt.Sprintf("big@conference.%s/n%d", modtest.Domain, i)).
					Append(stanza.New("x", NS))
				st, _ := stanza.Parse(p)
				r.Route(ctx, st)
				if i == 0 {
					first = full
					cfg := stanza.New("iq", stanza.NSClient, "type", "set", "id", "c", "from", full.String(), "to", "big@conference."+modtest.Domain).
						Append(stanza.New("query", NSOwner).Append(stanza.New("x", stanza.NSDataForms, "type", "submit")))
					st, _ := stanza.Parse(cfg)
					r.Route(ctx, st)
				}
			}
			msg := stanza.New("message", stanza.NSClient, "type", "groupchat", "id", "m", "from", first.String(), "to", "big@conference."+modtest.Domain).
				Append(stanza.New("body", stanza.NSClient).AppendText("hello, everyone in the room"))
			st, _ := stanza.Parse(msg)
			before := conns[n-1].n.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Route(ctx, st)
			}
			b.StopTimer()
			if got := conns[n-1].n.Load() - before; got != int64(b.N) {
				b.Fatalf("the last occupant got %d of %d messages", got, b.N)
			}
		})
	}
}
