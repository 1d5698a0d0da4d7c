package component

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// conn is one connected component.
type conn struct {
	s     *Service
	name  string
	nc    net.Conn
	since time.Time
	q     chan *stanza.Stanza
	done  chan struct{}
	// qmu makes a send and the end of the queue one after the other: a
	// stanza is queued before qclosed is set, so the final drain bounces
	// it, or it is refused.
	qmu     sync.Mutex
	qclosed bool
	unsent  []*stanza.Stanza // what the writer took and could not write
	once    sync.Once
	wmu     sync.Mutex // the socket's writes
	wbuf    bytes.Buffer
	in      atomic.Int64
	out     atomic.Int64
	bytes   atomic.Int64 // the footprint of what is queued
}

// read routes what the component sends until its stream ends; it returns
// the stream error to end it with (nil: the component closed it).
func (c *conn) read(ctx context.Context, dec *stream.Decoder) *stream.Error {
	r := c.s.cfg.Router
	for {
		el, err := dec.Next()
		if err != nil {
			if errors.Is(err, stream.ErrClosed) {
				return nil
			}
			return asStreamError(err, "")
		}
		if stanza.KindOf(el) == stanza.KindNone {
			return &stream.Error{Condition: stream.UnsupportedStanzaType, Text: "only message, presence and iq are taken from a component"}
		}
		st, serr := stanza.Parse(el)
		if serr != nil {
			// The addresses cannot be read: the error goes straight back.
			if el.Attr("type") != "error" {
				bad := &stanza.Stanza{El: el, Kind: stanza.KindOf(el), ID: el.Attr("id")}
				c.writeNow(bad.ErrorReply(serr))
			}
			continue
		}
		switch {
		case st.From.IsZero() || st.To.IsZero():
			return &stream.Error{Condition: stream.ImproperAddressing, Text: "a component's stanzas need a from and a to"}
		case st.From.Domain != c.name:
			c.s.log.Info("a component sent a stanza from another domain; its stream was closed", "component", c.name, "from", st.From.Domain)
			return &stream.Error{Condition: stream.InvalidFrom, Text: "a component may send only from its own domain, " + c.name}
		}
		c.in.Add(1)
		r.FromRemote(ctx, st)
	}
}

// send queues st for the component; once the connection ends it refuses
// it. What it queues is written, or bounced by bounceQueued.
func (c *conn) send(st *stanza.Stanza) *stanza.Error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.qclosed {
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, c.name+" is not connected now")
	}
	select {
	case <-c.done:
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, c.name+" is not connected now")
	default:
	}
	fp := int64(st.El.Footprint())
	if c.bytes.Add(fp) > QueueBytes {
		c.bytes.Add(-fp)
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, c.name+" is not keeping up; try again later")
	}
	select {
	case c.q <- st:
		return nil
	default:
		c.bytes.Add(-fp)
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, c.name+" is not keeping up; try again later")
	}
}

// writer writes the queue in bursts until the connection ends; a burst
// it could not write is left in unsent for bounceQueued.
func (c *conn) writer() {
	burst := make([]*stanza.Stanza, 0, 64)
	for {
		var st *stanza.Stanza
		select {
		case <-c.done:
			return
		case st = <-c.q:
		}
		burst = append(burst[:0], st)
	more:
		for len(burst) < cap(burst) {
			select {
			case st = <-c.q:
				burst = append(burst, st)
			default:
				break more
			}
		}
		var fp int64
		for _, st := range burst {
			fp += int64(st.El.Footprint())
		}
		c.bytes.Add(-fp)
		err := c.write(func(b *bytes.Buffer) {
			for _, st := range burst {
				st.El.Encode(b, stanza.NSComponent)
			}
		})
		if err != nil {
			// The component did not get them whole (or at all): their
			// senders are told.
			c.unsent = append(c.unsent, burst...)
			c.end(nil)
			return
		}
		c.out.Add(int64(len(burst)))
		clear(burst)
	}
}

// writeNow writes one element at once (errors about what could not be
// parsed).
func (c *conn) writeNow(el *stanza.Element) {
	if err := c.write(func(b *bytes.Buffer) { el.Encode(b, stanza.NSComponent) }); err != nil {
		c.end(nil)
	}
}

// write writes what fill puts in the buffer, with a deadline.
func (c *conn) write(fill func(*bytes.Buffer)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	c.wbuf.Reset()
	fill(&c.wbuf)
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := c.nc.Write(c.wbuf.Bytes())
	if c.wbuf.Cap() > 64<<10 {
		c.wbuf = bytes.Buffer{}
	}
	return err
}

// fail ends a stream before the handshake succeeded: our header if it is
// not out yet (RFC 6120 4.9.1.1), the error, the end.
func (c *conn) fail(h *stream.Header, e *stream.Error) {
	c.finish(h, e)
	c.nc.Close()
}

// end ends a connected component's stream with e (nil: none).
func (c *conn) end(e *stream.Error) { c.finish(nil, e) }

func (c *conn) finish(h *stream.Header, e *stream.Error) {
	c.once.Do(func() {
		// A write under way (a component that reads nothing) fails soon.
		_ = c.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		c.wmu.Lock()
		close(c.done)
		var b bytes.Buffer
		if h != nil {
			stream.AppendHeader(&b, *h)
		}
		if e != nil {
			stream.AppendError(&b, e)
		}
		b.WriteString(stream.Close)
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(b.Bytes())
		c.wmu.Unlock()
		if tc, ok := c.nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		// The reader sees the component's end, or gives up.
		_ = c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	})
}

// bounceQueued refuses what was queued for the component and not
// written; it runs once the writer has stopped. From then on send refuses.
func (c *conn) bounceQueued(ctx context.Context) {
	c.qmu.Lock()
	c.qclosed = true
	c.qmu.Unlock()
	e := stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, c.name+" disconnected")
	for _, st := range c.unsent {
		c.s.cfg.Router.Bounce(ctx, st, e)
	}
	c.unsent = nil
	for {
		select {
		case st := <-c.q:
			c.bytes.Add(-int64(st.El.Footprint()))
			c.s.cfg.Router.Bounce(ctx, st, e)
		default:
			c.nc.Close()
			return
		}
	}
}
