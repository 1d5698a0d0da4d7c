package linklocal

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// conn is one XEP-0174 stream, either way. Its reader goroutine owns the
// socket and closes it; writes are serialised by wmu.
type conn struct {
	s       *Service
	inbound bool
	since   time.Time
	src     netip.Addr // inbound: the peer's address

	// Set before the stream is shared, or under s.mu.
	local, peer string
	ready       bool // past the headers: stanzas flow
	headerPhase bool // inbound, counted in s.pending

	wmu     sync.Mutex
	nc      net.Conn // nil while an outbound stream connects
	dec     *stream.Decoder
	wbuf    bytes.Buffer
	version string // the version we put in our header ("" for a peer that sent none)
	sentHdr bool
	offered bool // STARTTLS is in the features we sent
	isTLS   bool
	secure  atomic.Bool     // isTLS, for Streams
	raddr   string          // the peer's address and port, set with the first nc
	first   *stanza.Element // outbound: a stanza that came where features were expected
	ended   bool
	quiet   bool // refused at its header: that is logged already
	endOnce sync.Once

	in, out atomic.Uint64
	active  atomic.Int64 // unix nanoseconds of the last stanza either way
}

func (c *conn) touch() { c.active.Store(time.Now().UnixNano()) }

// errEnded is what a write to an ended stream returns.
var errEnded = errors.New("the stream to that peer has closed")

// newStreamID returns a random stream id (RFC 6120 4.7.3).
func newStreamID() string { return stanza.RandomID(12) }

// writeHeaderLocked appends our stream header to wbuf; wmu is held.
func (c *conn) writeHeaderLocked(from, to string, features bool) {
	stream.AppendHeader(&c.wbuf, stream.Header{NS: stanza.NSClient, From: from, To: to,
		ID: newStreamID(), Version: c.version})
	if features && c.version != "" {
		c.offered = c.s.cfg.TLS != nil && !c.isTLS
		if c.offered {
			stream.AppendFeatures(&c.wbuf, stanza.NSClient, stanza.New("starttls", stanza.NSTLS))
		} else {
			stream.AppendFeatures(&c.wbuf, stanza.NSClient)
		}
	}
	c.sentHdr = true
}

// flushLocked writes wbuf within the write timeout; wmu is held.
func (c *conn) flushLocked() error {
	c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
	_, err := c.nc.Write(c.wbuf.Bytes())
	c.wbuf.Reset()
	return err
}

// send writes one stanza.
func (c *conn) send(el *stanza.Element) error {
	c.wmu.Lock()
	if c.ended {
		c.wmu.Unlock()
		return errEnded
	}
	el.Encode(&c.wbuf, stanza.NSClient)
	err := c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		c.lost(err)
		return errEnded
	}
	c.out.Add(1)
	c.touch()
	return nil
}

// end closes the stream: a stream error if serr is set, then our closing
// tag; the reader then waits a moment for the peer's own and closes the
// socket.
func (c *conn) end(serr *stream.Error, why string) {
	c.endOnce.Do(func() {
		c.s.remove(c)
		c.wmu.Lock()
		c.ended = true
		if c.nc != nil {
			if !c.sentHdr {
				c.writeHeaderLocked("", "", false)
			}
			if serr != nil {
				stream.AppendError(&c.wbuf, serr)
			}
			c.wbuf.WriteString(stream.Close)
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.nc.Write(c.wbuf.Bytes())
			c.wbuf.Reset()
			if hc, ok := c.nc.(interface{ CloseWrite() error }); ok {
				hc.CloseWrite()
			}
			c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
		}
		quiet := c.quiet
		c.wmu.Unlock()
		if !quiet {
			c.logEnd(serr, why)
		}
	})
}

// lost is the end of a stream whose connection failed: nothing more can
// be written.
func (c *conn) lost(err error) {
	why := "the connection was lost"
	if errors.Is(err, io.EOF) {
		why = "the peer went away without closing the stream"
	}
	c.drop(why)
}

// drop ends a stream that can take no more writes, saying why.
func (c *conn) drop(why string) {
	c.endOnce.Do(func() {
		c.s.remove(c)
		c.wmu.Lock()
		c.ended = true
		if c.nc != nil {
			c.nc.SetReadDeadline(time.Now())
		}
		c.wmu.Unlock()
		local, peer := c.names()
		c.s.log.Info("link-local stream lost", "peer", peer, "local", local, "reason", why, "addr", c.addr())
	})
}

// names returns the stream's names (set under s.mu once the header is
// accepted).
func (c *conn) names() (local, peer string) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	local, peer = c.local, c.peer
	if peer == "" {
		peer = "(not yet known)"
	}
	return local, peer
}

func (c *conn) addr() string { return c.raddr }

func (c *conn) logEnd(serr *stream.Error, why string) {
	local, peer := c.names()
	if serr != nil {
		c.s.log.Warn("link-local stream closed with an error", "peer", peer, "local", local,
			"addr", c.addr(), "error", serr.Condition, "reason", why)
		return
	}
	c.s.log.Info("link-local stream closed", "peer", peer, "local", local, "addr", c.addr(), "reason", why)
}

// remove forgets c: its counts, and its place as the pair's stream (which
// another open stream of the same pair takes).
func (s *Service) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.all[c]; !ok {
		return
	}
	delete(s.all, c)
	if c.headerPhase {
		c.headerPhase = false
		if s.pending[c.src]--; s.pending[c.src] <= 0 {
			delete(s.pending, c.src)
		}
	}
	if c.peer != "" {
		if s.perPeer[c.peer]--; s.perPeer[c.peer] <= 0 {
			delete(s.perPeer, c.peer)
		}
	}
	p := pair{c.local, c.peer}
	if s.open[p] == c {
		delete(s.open, p)
		for o := range s.all {
			if o.ready && o.local == c.local && o.peer == c.peer {
				s.open[p] = o
				break
			}
		}
	}
}

// refuse answers a connection it will not serve with a header and a
// stream error, and closes it.
func refuse(nc net.Conn, serr *stream.Error) {
	var b bytes.Buffer
	stream.AppendHeader(&b, stream.Header{NS: stanza.NSClient, ID: newStreamID(), Version: "1.0"})
	stream.AppendError(&b, serr)
	b.WriteString(stream.Close)
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(b.Bytes())
	nc.Close()
}

// serveIn runs an inbound stream from src to its end.
func (s *Service) serveIn(nc net.Conn, src netip.Addr) {
	c := &conn{s: s, inbound: true, since: time.Now(), src: src, nc: nc, headerPhase: true, raddr: nc.RemoteAddr().String()}
	c.touch()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		refuse(nc, &stream.Error{Condition: stream.SystemShutdown, Text: "link-local chat is stopping"})
		return
	case len(s.all) >= s.cfg.MaxStreams:
		s.mu.Unlock()
		s.log.Warn("refused a link-local connection: too many streams are open", "addr", nc.RemoteAddr().String())
		refuse(nc, &stream.Error{Condition: stream.ResourceConstraint, Text: "too many streams are open; try again later"})
		return
	case s.pending[src] >= s.cfg.MaxPending:
		s.mu.Unlock()
		s.log.Warn("refused a link-local connection: too many from this address are still opening their streams", "addr", nc.RemoteAddr().String())
		refuse(nc, &stream.Error{Condition: stream.PolicyViolation, Text: "too many connections from your address are still opening their streams"})
		return
	}
	s.all[c] = struct{}{}
	s.pending[src]++
	s.mu.Unlock()

	defer nc.Close()
	c.dec = stream.NewDecoder(nc, stream.PreAuth)
	nc.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	h, err := c.dec.Header()
	if err != nil {
		c.readFailed(err, "while waiting for its stream header")
		return
	}
	if serr, why := s.acceptHeader(c, h); serr != nil {
		s.log.Warn("refused a link-local stream", "from", h.From, "to", h.To, "addr", nc.RemoteAddr().String(),
			"error", serr.Condition, "reason", why)
		c.wmu.Lock()
		c.quiet = true
		c.wmu.Unlock()
		c.end(serr, why)
		c.drain()
		return
	}
	c.wmu.Lock()
	if c.ended {
		c.wmu.Unlock()
		c.drain()
		return
	}
	c.writeHeaderLocked(c.local, c.peer, true)
	err = c.flushLocked()
	if err == nil {
		nc.SetReadDeadline(time.Time{})
	}
	c.wmu.Unlock()
	if err != nil {
		c.lost(err)
		return
	}
	c.dec.SetLimits(s.cfg.Limits)
	s.log.Info("link-local stream opened", "peer", c.peer, "local", c.local, "addr", nc.RemoteAddr().String(), "direction", "inbound")
	c.read()
}

// acceptHeader checks an inbound header (XEP-0174 5-6) and, if it is
// accepted, makes the stream its pair's. It returns the stream error to
// refuse it with and why, in plain words.
func (s *Service) acceptHeader(c *conn, h stream.Header) (*stream.Error, string) {
	v, serr := version(h.Version)
	c.wmu.Lock()
	c.version = v
	c.wmu.Unlock()
	if serr != nil {
		return serr, "it asked for a stream version this server does not speak"
	}
	if h.NS != stanza.NSClient {
		return &stream.Error{Condition: stream.InvalidNamespace, Text: "link-local streams are in jabber:client"},
			"its stream is not in the jabber:client namespace"
	}
	if h.To == "" || !s.cfg.Directory.Local(h.To) {
		return &stream.Error{Condition: stream.HostUnknown, Text: "no one by that name is announced here"},
			"it is addressed to a name this server does not announce"
	}
	if h.From == "" {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "say who you are in the stream header's from"},
			"its stream header does not say who it is from"
	}
	// A peer may connect as soon as it has seen us, before its own
	// announcement (or this address of it) has reached us: ask again for
	// a moment before refusing.
	known, at := s.lookup(h.From, c.src)
	for wait := time.NewTimer(s.cfg.AnnounceWait); !at; {
		select {
		case <-wait.C:
		case <-s.ctx.Done():
		case <-time.After(100 * time.Millisecond):
			known, at = s.lookup(h.From, c.src)
			continue
		}
		break
	}
	if !at && s.ctx.Err() != nil {
		return &stream.Error{Condition: stream.SystemShutdown}, "the server is stopping"
	}
	if !known {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "that name is not announced on the network"},
			"the name it gives is not announced on the network"
	}
	if !at {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "your address is not announced for that name"},
			"it connected from an address that is not announced for that name"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &stream.Error{Condition: stream.SystemShutdown}, "the server is stopping"
	}
	if s.perPeer[h.From] >= s.cfg.MaxPerPeer {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "too many streams are open with you already"},
			"too many streams are open with that peer"
	}
	if _, ok := s.all[c]; !ok {
		return &stream.Error{Condition: stream.SystemShutdown}, "the server is stopping"
	}
	if c.headerPhase {
		c.headerPhase = false
		if s.pending[c.src]--; s.pending[c.src] <= 0 {
			delete(s.pending, c.src)
		}
	}
	c.local, c.peer, c.ready = h.To, h.From, true
	s.perPeer[c.peer]++
	p := pair{c.local, c.peer}
	if s.open[p] == nil {
		s.open[p] = c
	}
	return nil, ""
}

// lookup reports whether name is announced, and at src.
func (s *Service) lookup(name string, src netip.Addr) (known, at bool) {
	addrs, _, ok := s.cfg.Directory.Peer(name)
	return ok, ok && announced(addrs, src)
}

// version is the version we answer a peer's header with: none for a peer
// that sent none (libpurple's Bonjour sends none, and gets no features),
// 1.0 for 1.x; a higher major version is unsupported-version.
func version(v string) (string, *stream.Error) {
	if v == "" {
		return "", nil
	}
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < 1 {
		return "1.0", &stream.Error{Condition: stream.UnsupportedVersion, Text: "this server speaks version 1.0"}
	}
	if n > 1 {
		return "1.0", &stream.Error{Condition: stream.UnsupportedVersion, Text: "this server speaks version 1.0"}
	}
	return "1.0", nil
}

// readFailed ends a stream after a failed read.
func (c *conn) readFailed(err error, when string) {
	var serr *stream.Error
	switch {
	case errors.As(err, &serr):
		c.end(serr, "it sent something that is not allowed "+when+": "+plainStreamError(serr))
		c.drain()
	case errors.Is(err, stream.ErrClosed):
		c.end(nil, "the peer closed the stream")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.wmu.Lock()
		ended := c.ended
		c.wmu.Unlock()
		if !ended {
			c.end(&stream.Error{Condition: stream.ConnectionTimeout, Text: "no stream header in time"},
				"it sent no stream header in time")
		}
	default:
		c.lost(err)
	}
}

func plainStreamError(e *stream.Error) string {
	if e.Text != "" {
		return e.Text
	}
	return e.Condition
}

// drain reads and discards what the peer still sends until it closes or
// the deadline end set passes: closing a socket with unread input makes
// Linux reset it, and the peer would not see our stream error.
func (c *conn) drain() {
	io.Copy(io.Discard, c.nc)
}

// read is the reader loop of a stream past its headers.
func (c *conn) read() {
	if el := c.first; el != nil {
		c.first = nil
		if serr, why := c.dispatch(el); serr != nil {
			c.end(serr, why)
		}
	}
	for {
		el, err := c.dec.Next()
		if err != nil {
			c.wmu.Lock()
			ended := c.ended
			c.wmu.Unlock()
			if !ended {
				c.readFailed(err, "")
			}
			c.drain()
			return
		}
		c.wmu.Lock()
		ended := c.ended
		c.wmu.Unlock()
		if ended {
			continue
		}
		if serr, why := c.dispatch(el); serr != nil {
			c.end(serr, why)
		}
	}
}

// dispatch handles one top-level element.
func (c *conn) dispatch(el *stanza.Element) (*stream.Error, string) {
	if el.NS == stanza.NSStream {
		switch el.Name {
		case "error":
			cond := "unknown"
			if f := el.FirstElement(); f != nil {
				cond = f.Name
			}
			c.end(nil, "the peer sent a stream error: "+cond)
			return nil, ""
		case "features":
			if tls := el.Child("starttls", stanza.NSTLS); tls != nil && tls.Child("required", stanza.NSTLS) != nil {
				c.end(nil, "the peer requires TLS, and no certificate for link-local chat is set")
			}
			return nil, ""
		}
	}
	if el.NS == stanza.NSTLS && el.Name == "starttls" && c.inbound {
		return c.startTLSIn()
	}
	if stanza.KindOf(el) == stanza.KindNone {
		return &stream.Error{Condition: stream.UnsupportedStanzaType, Text: "only message, presence and iq are taken here"},
			"it sent an element that is not a stanza"
	}
	from, to := el.Attr("from"), el.Attr("to")
	if from != "" && from != c.peer {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "stanzas on this stream come from " + c.peer},
			"it sent a stanza from a name other than its own"
	}
	if to != "" && to != c.local {
		return &stream.Error{Condition: stream.HostUnknown, Text: "this stream carries stanzas for " + c.local},
			"it sent a stanza to a name other than the stream's"
	}
	keep := el.Attrs[:0]
	for _, a := range el.Attrs {
		if a.Space == "" && (a.Name == "from" || a.Name == "to") {
			continue
		}
		keep = append(keep, a)
	}
	el.Attrs = keep
	st, perr := stanza.Parse(el)
	if perr != nil {
		return &stream.Error{Condition: stream.BadFormat}, "it sent a stanza that could not be read"
	}
	c.in.Add(1)
	c.touch()
	c.s.cfg.Handler(c.peer, c.local, st)
	return nil, ""
}
