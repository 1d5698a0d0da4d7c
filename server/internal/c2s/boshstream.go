package c2s

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// boshStream is the framing of XEP-0206: the client's elements arrive in
// the bodies of its requests, processed in the order of their request ids
// (rid); the server's leave in the answers to the requests it holds.
//
// Requests are handed over by the HTTP handlers (request); the stream's
// reader takes what they carried (ReadOpen, Next); its writer offers a
// body and waits until a held request takes it (Write, End), so that an
// element counts as written only once it is on its way to the client, as
// on TCP. The answers to the last requests are kept: a request sent again
// (a connection lost on the way back) gets the same answer (XEP-0124
// 14.3).
type boshStream struct {
	srv      *Server
	sid      string
	addr     string
	state    *tls.ConnectionState
	domain   string
	version  string        // xmpp:version the client asked for
	wait     time.Duration // longest a request is held
	hold     int           // requests held at most
	requests int           // requests at once at most (hold+1)
	ver      string        // the version of XEP-0124 both speak

	// The writer's own.
	created bool // the session's creation was answered
	tap     *tap

	mu        sync.Mutex
	lim       stream.Limits
	rid       int64              // the last request processed
	early     map[int64]*boshReq // requests ahead of one not yet come
	held      []*boshReq         // processed and waiting for an answer, oldest first
	sent      map[int64][]byte   // the last answers, by rid
	sentRIDs  []int64            // their order
	in        []boshIn           // what the reader has not read yet
	inSize    int                // the Footprint of its elements
	room      chan struct{}      // closed when the reader took some of a full in
	idleSince time.Time          // since no request is held (zero while one is)
	prev      *boshReq           // the last request processed (the polling rule)
	offer     *boshOffer         // what the writer waits to hand over
	rdl, wdl  time.Time
	stopping  <-chan struct{} // the listener is stopping: no request will come
	stopped   bool            // StopReading
	closed    bool
	killed    bool   // ended by a terminal condition: the reader is told
	why       string // what the killing request did, for the log
	final     []byte // the answer to requests once the session ended
	inWake    chan struct{}
	outWake   chan struct{}
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// boshIn is one thing a request brought for the reader: an element, a
// stream (re)start, or the client's end.
type boshIn struct {
	el    *stanza.Element
	size  int // el's Footprint
	open  *stream.Header
	close bool
}

// boshOffer is a body the writer hands over, and whether it was taken.
type boshOffer struct {
	b     []byte
	els   int // elements in it (0: the end)
	inner []byte
	taken bool
}

// boshEnded: the session ended at the BOSH level, with a terminal
// condition (a request out of its window, too many at once, a bad one);
// why says which, in words for the log.
type boshEnded struct{ why string }

func (e *boshEnded) Error() string { return e.why }

// errBOSHInactive: no request came for the inactivity time.
var errBOSHInactive = &boshInactive{}

type boshInactive struct{}

func (*boshInactive) Error() string { return "no BOSH request came for " + boshInactivity.String() }

// Timeout makes a session that went silent read as a device that stopped
// answering.
func (*boshInactive) Timeout() bool   { return true }
func (*boshInactive) Temporary() bool { return false }

func newBOSH(s *Server, r *http.Request, bd *body) *boshStream {
	f := &boshStream{srv: s, sid: newSID(), addr: r.RemoteAddr, state: r.TLS, domain: s.cfg.Domain,
		version: bd.version, wait: boshMaxWait, hold: 1, ver: boshVer(bd.ver), lim: stream.PreAuth,
		early: make(map[int64]*boshReq), sent: make(map[int64][]byte),
		inWake: make(chan struct{}, 1), outWake: make(chan struct{}, 1), done: make(chan struct{})}
	if bd.wait >= 0 {
		f.wait = min(max(time.Duration(bd.wait)*time.Second, time.Second), boshMaxWait)
	}
	if bd.hold >= 0 {
		f.hold = min(bd.hold, boshMaxHold)
	}
	f.requests = f.hold + 1
	return f
}

func (f *boshStream) setStopping(c <-chan struct{}) {
	f.mu.Lock()
	f.stopping = c
	f.mu.Unlock()
}

func (f *boshStream) limits() stream.Limits {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lim
}

// signal wakes whoever waits on c.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// next waits for what the next request brought, until the read deadline,
// StopReading, the end of the session, or no request for the inactivity
// time.
func (f *boshStream) next() (boshIn, error) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		f.mu.Lock()
		if len(f.in) > 0 {
			in := f.in[0]
			f.in[0] = boshIn{}
			f.in = f.in[1:]
			f.inSize -= in.size
			if f.room != nil && f.inSize <= boshMaxPending {
				close(f.room)
				f.room = nil
			}
			f.mu.Unlock()
			return in, nil
		}
		var err error
		now := time.Now()
		wait := time.Duration(-1)
		switch {
		case f.killed:
			err = &boshEnded{f.why}
		case f.closed:
			err = net.ErrClosed
		case f.stopped:
			err = errStopped
		case !f.rdl.IsZero() && !now.Before(f.rdl):
			err = os.ErrDeadlineExceeded
		case len(f.held) == 0 && !f.idleSince.IsZero() && now.Sub(f.idleSince) >= boshInactivity:
			// XEP-0124 7.1 'inactivity'.
			err = errBOSHInactive
		default:
			if !f.rdl.IsZero() {
				wait = f.rdl.Sub(now)
			}
			if len(f.held) == 0 && !f.idleSince.IsZero() {
				if w := boshInactivity - now.Sub(f.idleSince); wait < 0 || w < wait {
					wait = w
				}
			}
		}
		f.mu.Unlock()
		if err != nil {
			return boshIn{}, err
		}
		var tc <-chan time.Time
		if wait >= 0 {
			if t == nil {
				t = time.NewTimer(wait)
			} else {
				t.Reset(wait)
			}
			tc = t.C
		}
		select {
		case <-f.inWake:
		case <-tc:
		case <-f.done:
		}
	}
}

func (f *boshStream) ReadOpen() (stream.Header, error) {
	in, err := f.next()
	if err != nil {
		return stream.Header{}, err
	}
	if in.open == nil {
		return stream.Header{}, &stream.Error{Condition: stream.PolicyViolation, Text: "restart the stream with xmpp:restart='true' (XEP-0206 5)"}
	}
	return *in.open, nil
}

func (f *boshStream) WriteOpen(h stream.Header, features []*stanza.Element) error {
	fs := stanza.New("features", stanza.NSStream).Append(features...)
	var b bytes.Buffer
	if !f.created {
		// XEP-0124 7.1 and XEP-0206 4: the session's terms, with the
		// stream's id and first features.
		appendBody(&b, []*stanza.Element{fs},
			"xmlns:xmpp", NSXBOSH,
			"sid", f.sid,
			"wait", strconv.Itoa(int(f.wait/time.Second)),
			"requests", strconv.Itoa(f.requests),
			"hold", strconv.Itoa(f.hold),
			"inactivity", strconv.Itoa(int(boshInactivity/time.Second)),
			"polling", strconv.Itoa(int(boshPolling/time.Second)),
			"ver", f.ver,
			"from", h.From,
			"authid", h.ID,
			"secure", "true",
			"xmpp:version", "1.0",
			"xmpp:restartlogic", "true")
	} else {
		appendBody(&b, []*stanza.Element{fs})
	}
	f.created = true
	return f.hand(b.Bytes(), 1, nil)
}

func (f *boshStream) Opened() bool { return f.created }

func (f *boshStream) Next() (*stanza.Element, error) {
	in, err := f.next()
	switch {
	case err != nil:
		return nil, err
	case in.close:
		return nil, stream.ErrClosed
	case in.open != nil:
		return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "the stream is open already; it restarts only after authentication"}
	}
	if f.tap != nil && f.tap.w.Load() != nil {
		var b bytes.Buffer
		in.el.WriteTo(&b, "")
		f.tap.clean = true
		f.tap.read(b.Bytes())
	}
	return in.el, nil
}

// Pending: each body is read whole.
func (f *boshStream) Pending() bool { return false }

// Write hands els to the client in the answer to the oldest held
// request, waiting for one until the write deadline.
func (f *boshStream) Write(els []*stanza.Element) (int, error) {
	var b bytes.Buffer
	appendBody(&b, els)
	var inner []byte
	if f.tap != nil && f.tap.w.Load() != nil {
		var e bytes.Buffer
		for _, el := range els {
			el.WriteTo(&e, "")
		}
		inner = e.Bytes()
	}
	if err := f.hand(b.Bytes(), len(els), inner); err != nil {
		return 0, err
	}
	return len(els), nil
}

// hand offers b and waits until a request takes it.
func (f *boshStream) hand(b []byte, n int, inner []byte) error {
	o := &boshOffer{b: b, els: n, inner: inner}
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return net.ErrClosed
	}
	f.offer = o
	defer func() { f.offer = nil }()
	if len(f.held) > 0 {
		f.takeLocked()
	}
	for !o.taken {
		now := time.Now()
		if f.closed {
			return net.ErrClosed
		}
		if !f.wdl.IsZero() && !now.Before(f.wdl) {
			return os.ErrDeadlineExceeded
		}
		var tc <-chan time.Time
		if !f.wdl.IsZero() {
			if t == nil {
				t = time.NewTimer(f.wdl.Sub(now))
			} else {
				t.Reset(f.wdl.Sub(now))
			}
			tc = t.C
		}
		stopping := f.stopping
		f.mu.Unlock()
		select {
		case <-f.outWake:
		case <-tc:
		case <-f.done:
		case <-stopping:
			// The listener takes no more requests: nothing will take it.
			f.mu.Lock()
			if !o.taken {
				return errStopped
			}
			continue
		}
		f.mu.Lock()
	}
	if f.tap != nil && len(o.inner) > 0 {
		f.tap.wrote(o.inner)
	}
	return nil
}

// End answers with the session's end: a stream error rides in
// XEP-0206's remote-stream-error.
func (f *boshStream) End(e *stream.Error) error {
	var b []byte
	if e != nil {
		b = terminateBody(boshRemoteStreamErr, e.Element())
	} else {
		b = terminateBody("")
	}
	f.mu.Lock()
	if f.final == nil {
		f.final = b
	}
	f.mu.Unlock()
	return f.hand(b, 0, nil)
}

// Restart: the client restarts with xmpp:restart (XEP-0206 5).
func (f *boshStream) Restart() {}

func (f *boshStream) SetLimits(l stream.Limits) {
	f.mu.Lock()
	f.lim = l
	f.mu.Unlock()
}

func (f *boshStream) StartTLS(*tls.Config) error {
	return errors.New("a BOSH session is encrypted by the HTTPS listener")
}

func (f *boshStream) TLS() *tls.ConnectionState { return f.state }

func (f *boshStream) SetDeadline(t time.Time) error {
	f.mu.Lock()
	f.rdl = t
	f.mu.Unlock()
	signal(f.inWake)
	return f.SetWriteDeadline(t)
}

func (f *boshStream) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	f.wdl = t
	f.mu.Unlock()
	signal(f.outWake)
	return nil
}

// WatchIdle: a BOSH client is always asking (a held request, or the next
// one within the inactivity time), so silence is the inactivity time
// running out, not a missed ping.
func (f *boshStream) WatchIdle(time.Duration, func(pinged bool) bool) {}

func (f *boshStream) StopReading() {
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	signal(f.inWake)
}

func (f *boshStream) Tap(t *tap) {
	t.clean = true
	f.tap = t
}

// Drain: an answer goes out whole with its request.
func (f *boshStream) Drain(time.Time) {}

// Close ends the session: requests waiting get its end (the stream's,
// if written, else undefined-condition), later ones item-not-found.
func (f *boshStream) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		if f.final == nil {
			f.final = terminateBody(boshUndefinedCondErr)
		}
		if !f.closed {
			f.endLocked()
		}
		f.mu.Unlock()
		close(f.done)
		f.srv.bosh.remove(f)
	})
	return nil
}

func (f *boshStream) RemoteAddr() string { return f.addr }
