package component

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// inbox is alice's session: it keeps the ids of the errors it gets.
type inbox struct {
	mu     sync.Mutex
	errors map[string]string // id -> condition
}

func (b *inbox) Send(el *stanza.Element, done func(bool)) bool {
	b.mu.Lock()
	if el.Attr("type") == "error" {
		cond := ""
		if e := el.Child("error", ""); e != nil && e.FirstElement() != nil {
			cond = e.FirstElement().Name
		}
		b.errors[el.Attr("id")] = cond
	}
	b.mu.Unlock()
	if done != nil {
		done(true)
	}
	return true
}
func (b *inbox) Room() (int, int)  { return 1 << 20, 1 << 30 }
func (b *inbox) Close(_, _ string) {}

// TestSendRacesEnd: stanzas given to a component while its connection
// ends are each written to it or bounced to their sender (or refused at
// once), never lost. Run it with -race.
func TestSendRacesEnd(t *testing.T) {
	const rounds, perRound = 300, 40
	alice := jid.MustParse("alice@example.org/kitchen")
	for round := range rounds {
		r := router.New(router.Config{Domain: "example.org"})
		box := &inbox{errors: map[string]string{}}
		r.Bind(&router.Session{JID: alice, Conn: box})
		s := &Service{cfg: Config{Router: r, WriteTimeout: time.Second}, log: slog.New(slog.DiscardHandler)}
		ours, theirs := net.Pipe()
		c := &conn{s: s, name: "bot.example.org", nc: ours, q: make(chan *stanza.Stanza, QueueLimit), done: make(chan struct{})}

		// The component reads what it is given.
		written := map[string]bool{}
		var reader sync.WaitGroup
		reader.Go(func() {
			hdr := strings.NewReader(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>`)
			dec := stream.NewDecoder(io.MultiReader(hdr, theirs), stream.PreAuth)
			if _, err := dec.Header(); err != nil {
				t.Error(err)
				return
			}
			for {
				el, err := dec.Next()
				if err != nil {
					if !errors.Is(err, stream.ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
						t.Errorf("round %d: the component read: %v", round, err)
					}
					_, _ = io.Copy(io.Discard, theirs)
					return
				}
				written[el.Attr("id")] = true
			}
		})

		var writer sync.WaitGroup
		writer.Go(c.writer)
		refused := map[string]bool{}
		var sender sync.WaitGroup
		sender.Go(func() {
			for i := range perRound {
				id := fmt.Sprintf("q%d", i)
				st := iq(t, id)
				if e := c.send(st); e != nil {
					refused[id] = true
					r.Bounce(context.Background(), st, e)
				}
			}
		})
		for range rand.IntN(2 * perRound) {
			runtime.Gosched()
		}
		// What run does when the stream ends.
		c.end(nil)
		writer.Wait()
		c.bounceQueued(context.Background())
		sender.Wait()
		reader.Wait()

		for i := range perRound {
			id := fmt.Sprintf("q%d", i)
			box.mu.Lock()
			cond, bounced := box.errors[id]
			box.mu.Unlock()
			switch {
			case written[id] && bounced:
				t.Fatalf("round %d: %s was written to the component and bounced too", round, id)
			case written[id]:
			case bounced:
				if cond != stanza.ServiceUnavailable && cond != stanza.ResourceConstraint {
					t.Fatalf("round %d: %s bounced with %s", round, id, cond)
				}
			default:
				t.Fatalf("round %d: %s was neither written nor bounced (refused at once: %v)", round, id, refused[id])
			}
		}
	}
}

func iq(t *testing.T, id string) *stanza.Stanza {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, `<iq type='get' id='%s' from='alice@example.org/kitchen' to='bot.example.org'><query xmlns='urn:example:q'/></iq>`, id)
	el, err := decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	st, serr := stanza.Parse(el)
	if serr != nil {
		t.Fatal(serr)
	}
	return st
}
