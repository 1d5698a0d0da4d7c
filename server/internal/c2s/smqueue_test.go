package c2s

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
)

// gated is a framing whose writes wait for the test to say how they end.
type gated struct {
	*stuck
	wrote   chan []*stanza.Element
	results chan gatedResult
}

type gatedResult struct {
	n   int
	err error
}

func newGated() *gated {
	return &gated{stuck: &stuck{closed: make(chan struct{})}, wrote: make(chan []*stanza.Element, 16), results: make(chan gatedResult, 16)}
}

func (g *gated) Write(els []*stanza.Element) (int, error) {
	g.wrote <- els
	r := <-g.results
	return r.n, r.err
}
func (g *gated) SetWriteDeadline(time.Time) error { return nil }
func (g *gated) StopReading()                     {}

var errReset = errors.New("connection reset by peer")

func chat(id string) *stanza.Element {
	return stanza.New("message", stanza.NSClient, "to", "alice@hearth.test/phone", "id", id, "type", "chat").
		Append(stanza.New("body", stanza.NSClient).AppendText("hello"))
}

// TestSMWriteFailedKeepsUncounted: a write that fails after stream
// management was turned on must not drop the stanzas of its burst that
// stream management does not count (those queued before <enabled/>):
// they are not among the unacknowledged, so they go back to their
// senders (done(false)) or to the lost handler, as without stream
// management. Dropping them loses a message and, for offline delivery,
// leaves its flush waiting forever for the done.
func TestSMWriteFailedKeepsUncounted(t *testing.T) {
	for _, resume := range []bool{true, false} {
		name := "without resumption"
		if resume {
			name = "with resumption"
		}
		t.Run(name+", enabled while the write was under way", func(t *testing.T) {
			g := newGated()
			o := newOut(g, 100, 1<<20, time.Second)
			done := make(chan bool, 1)
			o.Send(chat("m1"), func(w bool) { done <- w })
			<-g.wrote // the writer took m1 and is writing it
			if !o.enableSM(stanza.New("enabled", NSSM), resume) {
				t.Fatal("enableSM refused")
			}
			g.results <- gatedResult{0, errReset}
			select {
			case w := <-done:
				if w {
					t.Fatal("m1 reported written")
				}
			case <-time.After(2 * time.Second):
				t.Fatal("m1 was neither written nor handed back: its sender's done was never called")
			}
		})
		t.Run(name+", in the burst of <enabled/>", func(t *testing.T) {
			g := newGated()
			o := newOut(g, 100, 1<<20, time.Second)
			lostCh := make(chan []*stanza.Element, 4)
			o.leftover = func(q []*stanza.Element) { lostCh <- q }
			o.Send(chat("m0"), nil)
			<-g.wrote
			o.Send(chat("m1"), nil) // untracked: goes to the lost handler
			o.enableSM(stanza.New("enabled", NSSM), resume)
			o.Send(chat("m2"), nil) // counted
			g.results <- gatedResult{1, nil}
			burst := <-g.wrote
			if len(burst) < 3 {
				t.Fatalf("burst of %d elements", len(burst))
			}
			g.results <- gatedResult{0, errReset}
			if !resume {
				// The session ends: everything unwritten is handed back.
				<-o.Done()
			} else {
				// Held: m2 waits among the unacknowledged; end it.
				time.Sleep(50 * time.Millisecond)
				o.Close("", "")
				<-o.Done()
			}
			var ids []string
			for {
				select {
				case q := <-lostCh:
					for _, el := range q {
						ids = append(ids, el.Attr("id"))
					}
					continue
				default:
				}
				break
			}
			if got := strings.Join(ids, ","); !strings.Contains(got, "m1") || !strings.Contains(got, "m2") {
				t.Fatalf("handed back %q; want m1 and m2", got)
			}
		})
	}
}

// sink is a framing that takes every write whole.
type sink struct{ *stuck }

func (s *sink) Write(els []*stanza.Element) (int, error) { return len(els), nil }
func (s *sink) SetWriteDeadline(time.Time) error         { return nil }

// TestSMUnackedBoundedByMemory: what a client has not acknowledged stays
// in memory (it is written again on resumption or handed back at the
// end), so it counts against the queue's bytes as it counts against its
// stanzas: a client that reads and never acknowledges must be cut off at
// QueueBytes, not hold QueueLimit stanzas of the largest size.
func TestSMUnackedBoundedByMemory(t *testing.T) {
	const maxBytes = 1 << 20
	big := chat("big")
	big.Append(stanza.New("x", "urn:example").AppendText(strings.Repeat("z", 100<<10)))
	f := &sink{&stuck{closed: make(chan struct{})}}
	o := newOut(f, 100_000, maxBytes, time.Second)
	o.enableSM(stanza.New("enabled", NSSM), false)
	n := 0
	for o.Send(big, nil) {
		n++
		// Let the writer move it to the unacknowledged.
		for {
			o.mu.Lock()
			idle := len(o.queue) == 0 && !o.running
			o.mu.Unlock()
			if idle {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if n > 100 {
			t.Fatalf("a client that never acknowledges holds %d stanzas of %d bytes (%d MiB) with QueueBytes %d", n, big.Footprint(), n*big.Footprint()>>20, maxBytes)
		}
	}
	if fit := maxBytes / big.Footprint(); n > fit+1 {
		t.Fatalf("took %d stanzas of %d bytes with room for %d bytes", n, big.Footprint(), maxBytes)
	}
	if s, b := o.Room(); s != 0 || b != 0 {
		t.Fatalf("Room %d, %d after the cut-off", s, b)
	}
}
