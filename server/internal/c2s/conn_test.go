package c2s

import (
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// stuck is a framing whose writes never finish until it is closed: a
// client that stopped reading, with full socket buffers.
type stuck struct {
	once   sync.Once
	closed chan struct{}
}

func (f *stuck) Write([]*stanza.Element) (int, error) { <-f.closed; return 0, errClosed }
func (f *stuck) SetWriteDeadline(t time.Time) error {
	if !t.After(time.Now()) {
		f.Close() // a deadline now ends the blocked write
	}
	return nil
}
func (f *stuck) End(*stream.Error) error                          { return errClosed }
func (f *stuck) Close() error                                     { f.once.Do(func() { close(f.closed) }); return nil }
func (f *stuck) ReadOpen() (stream.Header, error)                 { return stream.Header{}, errClosed }
func (f *stuck) WriteOpen(stream.Header, []*stanza.Element) error { return errClosed }
func (f *stuck) Opened() bool                                     { return true }
func (f *stuck) Next() (*stanza.Element, error)                   { return nil, errClosed }
func (f *stuck) Pending() bool                                    { return false }
func (f *stuck) Restart()                                         {}
func (f *stuck) SetLimits(stream.Limits)                          {}
func (f *stuck) StartTLS(*tls.Config) error                       { return errClosed }
func (f *stuck) TLS() *tls.ConnectionState                        { return nil }
func (f *stuck) SetDeadline(time.Time) error                      { return nil }
func (f *stuck) WatchIdle(time.Duration, func(bool) bool)         {}
func (f *stuck) Tap(*tap)                                         {}
func (f *stuck) StopReading()                                     { f.Close() }
func (f *stuck) Drain(time.Time)                                  {}
func (f *stuck) RemoteAddr() string                               { return "192.0.2.1:1" }

var errClosed = stream.ErrClosed

// TestQueueBoundedByMemory: what waits for a client that does not read is
// counted by what the parsed stanzas take in memory, not by their size on
// the wire, which is many times smaller for a stanza of many small
// elements.
func TestQueueBoundedByMemory(t *testing.T) {
	const maxBytes = 1 << 20
	xml := `<message to='bob@hearth.test'>` + strings.Repeat("<a/>", 2000) + `</message>`
	el, err := stream.Unmarshal([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	// Unmarshal is the decoder: the element carries its estimate.
	if el.Mem < 20*len(xml) {
		t.Fatalf("a stanza of %d bytes with 2,000 elements is estimated at %d bytes in memory", len(xml), el.Mem)
	}
	f := &stuck{closed: make(chan struct{})}
	o := newOut(f, 1_000_000, maxBytes, time.Second)
	n := 0
	for o.Send(el, nil) {
		n++
		if n > 1000 {
			t.Fatal("the queue took 1000 stanzas")
		}
	}
	if fit := maxBytes / el.Mem; n > fit+1 {
		t.Errorf("queued %d stanzas of %d bytes in memory each (%d on the wire) with room for %d bytes: want about %d", n, el.Mem, len(xml), maxBytes, fit)
	}
	t.Logf("the queue took %d stanzas of %d bytes on the wire, %d in memory, before cutting the client off (by wire size it would have taken %d)",
		n, len(xml), el.Mem, maxBytes/len(xml))
	select {
	case <-f.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the client was not cut off")
	}
}
