package c2s

import (
	"bytes"
	"context"
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
	idleSince time.Time          // since no request is held (zero while one is)
	prev      *boshReq           // the last request processed (the polling rule)
	offer     *boshOffer         // what the writer waits to hand over
	rdl, wdl  time.Time
	stopping  <-chan struct{} // the listener is stopping: no request will come
	stopped   bool            // StopReading
	closed    bool
	killed    bool   // ended by a terminal condition: the reader is told
	final     []byte // the answer to requests once the session ended
	inWake    chan struct{}
	outWake   chan struct{}
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// boshReq is one request.
type boshReq struct {
	rid      int64
	body     *body
	at       time.Time
	resp     chan []byte // the answer; buffered, written once
	create   bool        // the request that created the session
	bare     bool        // it carried nothing (XEP-0124 12)
	answered bool
	empty    bool // answered with nothing in it
}

// boshIn is one thing a request brought for the reader: an element, a
// stream (re)start, or the client's end.
type boshIn struct {
	el    *stanza.Element
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

// errBOSHEnded: the session ended at the BOSH level (a terminal condition:
// a request out of its window, too many at once, a bad one).
var errBOSHEnded = errors.New("the BOSH session was ended by a request that broke its rules")

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

// first hands over the request that created the session.
func (f *boshStream) first(bd *body) *boshReq {
	req := &boshReq{rid: bd.rid, body: bd, at: time.Now(), resp: make(chan []byte, 1), create: true}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rid = bd.rid - 1
	f.early[bd.rid] = req
	f.processLocked()
	return req
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

// request hands a request of the session over and waits for its answer.
func (f *boshStream) request(ctx context.Context, bd *body) []byte {
	req := &boshReq{rid: bd.rid, body: bd, at: time.Now(), resp: make(chan []byte, 1)}
	f.mu.Lock()
	if b, done := f.admitLocked(req); done {
		f.mu.Unlock()
		return b
	}
	f.mu.Unlock()
	return f.await(ctx, req)
}

// wait waits for req's answer: what the writer hands over, the session's
// end, or an empty body after 'wait' (XEP-0124 7.1) or when the client
// went away.
func (f *boshStream) await(ctx context.Context, req *boshReq) []byte {
	t := time.NewTimer(f.wait)
	defer t.Stop()
	select {
	case b := <-req.resp:
		return b
	case <-t.C:
	case <-ctx.Done():
	}
	f.mu.Lock()
	if !req.answered {
		f.answerLocked(req, nil)
	}
	f.mu.Unlock()
	return <-req.resp
}

// admitLocked checks a request against the session's rules (XEP-0124 14:
// rid in its window; 11: no more requests than allowed; 12: polling) and
// processes it with any that waited for it; true with the answer when it
// is answered at once. f.mu is held.
func (f *boshStream) admitLocked(req *boshReq) ([]byte, bool) {
	if f.closed {
		if f.final != nil {
			return f.final, true
		}
		return terminateBody(boshItemNotFound), true
	}
	rid := req.rid
	switch {
	case rid <= f.rid:
		// XEP-0124 14.3: a request sent again gets the answer it had.
		if b, ok := f.sent[rid]; ok {
			return b, true
		}
		for i, h := range f.held {
			if h.rid == rid {
				// Still waiting: the new connection waits in its place
				// (the old one is gone, or it would not be sent again).
				f.held[i] = req
				h.answered = true
				h.resp <- emptyBody()
				return nil, false
			}
		}
		return f.killLocked(boshItemNotFound), true
	case rid > f.rid+int64(f.requests):
		// XEP-0124 14.2: beyond the window.
		return f.killLocked(boshItemNotFound), true
	}
	if old := f.early[rid]; old != nil {
		f.early[rid] = req
		old.answered = true
		old.resp <- emptyBody()
		return nil, false
	}
	if req.body.typ != "terminate" && len(f.held)+len(f.early)+1 > f.requests {
		// XEP-0124 11: more requests at once than the session allows.
		return f.killLocked(boshPolicyViolation), true
	}
	f.early[rid] = req
	// A request that ends the session is answered at once, by the end.
	f.processLocked()
	return nil, false
}

// processLocked processes the requests that are next in rid order: what
// they carry goes to the reader, and they are held for an answer; past
// 'hold' the oldest is answered (XEP-0124 10). f.mu is held.
func (f *boshStream) processLocked() {
	for {
		req := f.early[f.rid+1]
		if req == nil {
			break
		}
		delete(f.early, req.rid)
		f.rid++
		bd := req.body
		req.bare = len(bd.children) == 0 && !bd.restart && bd.typ == "" && !req.create
		if req.bare && f.prev != nil && f.prev.bare && f.prev.empty && req.at.Sub(f.prev.at) < boshPolling {
			// XEP-0124 12: polling faster than the session allows.
			f.held = append(f.held, req) // answered with the end
			f.killLocked(boshPolicyViolation)
			return
		}
		f.prev = req
		switch {
		case req.create:
			f.in = append(f.in, boshIn{open: &stream.Header{NS: stanza.NSClient, To: bd.to, Version: bd.version, Lang: bd.lang}})
		case bd.restart:
			// XEP-0206 5: a restart carries nothing else.
			if len(bd.children) > 0 {
				f.held = append(f.held, req)
				f.killLocked(boshBadRequest)
				return
			}
			to := bd.to
			if to == "" {
				to = f.domain
			}
			f.in = append(f.in, boshIn{open: &stream.Header{NS: stanza.NSClient, To: to, Version: f.version, Lang: bd.lang}})
		}
		for _, c := range bd.children {
			f.in = append(f.in, boshIn{el: c})
		}
		if bd.typ == "terminate" {
			f.in = append(f.in, boshIn{close: true})
		}
		if !req.answered {
			f.held = append(f.held, req)
			f.idleSince = time.Time{}
		}
	}
	signal(f.inWake)
	if f.offer != nil && !f.offer.taken && len(f.held) > 0 {
		f.takeLocked()
	}
	// (The request that created the session waits for its terms
	// whatever 'hold' is: they are the only way to learn the sid.)
	for len(f.held) > f.hold && !f.held[0].create {
		f.answerLocked(f.held[0], nil)
	}
}

// emptyBody is an answer with nothing in it.
func emptyBody() []byte {
	return []byte(`<body xmlns="` + NSBOSH + `"/>`)
}

// answerLocked answers a held request with b (nil: an empty body, or
// what the writer offers) and keeps the answer for a repeated request.
// f.mu is held.
func (f *boshStream) answerLocked(req *boshReq, b []byte) {
	for i, h := range f.held {
		if h == req {
			f.held = append(f.held[:i], f.held[i+1:]...)
			break
		}
	}
	if b == nil && f.offer != nil && !f.offer.taken {
		b = f.offer.b
		f.offer.taken = true
		signal(f.outWake)
	}
	if b == nil {
		b = emptyBody()
		req.empty = true
	}
	req.answered = true
	req.resp <- b
	f.keepLocked(req.rid, b)
	if len(f.held) == 0 {
		f.idleSince = time.Now()
	}
}

// keepLocked keeps the answer to rid for a repeated request: as many as
// the client may have requests at once (XEP-0124 14.3). f.mu is held.
func (f *boshStream) keepLocked(rid int64, b []byte) {
	f.sent[rid] = b
	f.sentRIDs = append(f.sentRIDs, rid)
	for len(f.sentRIDs) > f.requests {
		delete(f.sent, f.sentRIDs[0])
		f.sentRIDs = f.sentRIDs[1:]
	}
}

// takeLocked answers the oldest held request with the writer's offer.
// f.mu is held.
func (f *boshStream) takeLocked() {
	f.answerLocked(f.held[0], nil)
}

// killLocked ends the session with a terminal condition (XEP-0124 17):
// every request waiting gets it, and the reader learns the session is
// over. It returns the answer. f.mu is held.
func (f *boshStream) killLocked(cond string) []byte {
	b := terminateBody(cond)
	if f.final == nil {
		f.final = b
	}
	f.killed = true
	f.endLocked()
	signal(f.inWake)
	return b
}

// kill is killLocked for a request that broke the rules before it could
// be handed over.
func (f *boshStream) kill(cond string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed && f.final != nil {
		return f.final
	}
	return f.killLocked(cond)
}

// endLocked answers every waiting request with the session's end and
// refuses the ones after it. f.mu is held.
func (f *boshStream) endLocked() {
	f.closed = true
	for len(f.held) > 0 {
		f.answerLocked(f.held[0], f.final)
	}
	for rid, r := range f.early {
		delete(f.early, rid)
		if !r.answered {
			r.answered = true
			r.resp <- f.final
		}
	}
	signal(f.outWake)
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
			f.mu.Unlock()
			return in, nil
		}
		var err error
		now := time.Now()
		wait := time.Duration(-1)
		switch {
		case f.killed:
			err = errBOSHEnded
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
