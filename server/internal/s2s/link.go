package s2s

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

type direction uint8

const (
	dirOut direction = iota // we opened it
	dirIn                   // the peer opened it
)

// link is one server-to-server stream, either way. An outbound link
// carries stanzas from local to remote, and back too where the peer
// agreed to a bidirectional link; an inbound one carries stanzas from the
// domains its peer authenticated (remote, and others by dialback), and
// ours back where the peer asked for bidi.
type link struct {
	f      *Federation
	dir    direction
	since  time.Time
	ctx    context.Context // done when the link ends (fail) or the server stops
	cancel context.CancelFunc

	mu     sync.Mutex
	local  string // out: our domain; in: the header's to
	remote string // out: the peer's domain; in: the header's from, or the first authenticated
	c      *conn
	q      []*stanza.Stanza // waiting to be written
	qbytes int              // their footprint
	ready  bool             // negotiated: the writer writes
	ended  bool
	wake   chan struct{}
	room   chan struct{} // closed when the writer takes the queue (senders wait on it while it is full)
	done   chan struct{}
	authed map[string]bool // domains stanzas may come from on this link
	auth   string          // "certificate" or "dialback"
	bidi   bool
	tlsVer string
	cert   string // why the peer's certificate is not valid for its domain ("" valid)
	err    string

	unauthKey string // inbound, not authenticated yet: its address key (guarded by f.mu)
	addrKey   string // inbound: its address key (set before it is shared)

	in, out atomic.Uint64
	active  atomic.Int64 // unix nanoseconds of the last stanza either way

	bucket bucket
}

func newLink(f *Federation, dir direction, local, remote string) *link {
	l := &link{f: f, dir: dir, since: time.Now(), local: local, remote: remote,
		wake: make(chan struct{}, 1), done: make(chan struct{}), authed: map[string]bool{}}
	l.ctx, l.cancel = context.WithCancel(f.ctx)
	l.active.Store(time.Now().UnixNano())
	l.bucket = bucket{rate: float64(f.cfg.Rate), burst: 4 * float64(f.cfg.Rate), tokens: 4 * float64(f.cfg.Rate), last: time.Now()}
	return l
}

func (l *link) pair() pair {
	l.mu.Lock()
	defer l.mu.Unlock()
	return pair{l.local, l.remote}
}

// enqueue adds st to what the link writes. While QueueLimit stanzas or
// QueueBytes of them wait already, it waits for room, for at most
// QueueWait: a sender slows down to what the link carries, and a link
// that does not move refuses. False: the link ended, ctx is done, or
// there was no room in time.
func (l *link) enqueue(ctx context.Context, st *stanza.Stanza) bool {
	size := st.El.Footprint()
	var timeout <-chan time.Time
	for {
		l.mu.Lock()
		if l.ended {
			l.mu.Unlock()
			return false
		}
		if len(l.q) == 0 || len(l.q) < l.f.cfg.QueueLimit && l.qbytes+size <= l.f.cfg.QueueBytes {
			l.q = append(l.q, st)
			l.qbytes += size
			ready := l.ready
			l.mu.Unlock()
			if ready {
				select {
				case l.wake <- struct{}{}:
				default:
				}
			}
			return true
		}
		if l.room == nil {
			l.room = make(chan struct{})
		}
		room := l.room
		l.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(l.f.cfg.QueueWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-room:
		case <-l.done:
			return false
		case <-ctx.Done():
			return false
		case <-timeout:
			return false
		}
	}
}

// isEnded reports whether the link has ended.
func (l *link) isEnded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// up marks the link negotiated and starts its writer and idle watch;
// false if it ended meanwhile.
func (l *link) up() bool {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return false
	}
	l.ready = true
	if st := l.c.tlsState(); st != nil {
		l.tlsVer = tls.VersionName(st.Version)
	}
	l.mu.Unlock()
	l.f.wg.Add(2)
	go func() {
		defer l.f.wg.Done()
		l.writer()
	}()
	go func() {
		defer l.f.wg.Done()
		l.watchIdle()
	}()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// writer writes what waits, all of it in one write, until the link ends.
func (l *link) writer() {
	var b bytes.Buffer
	for {
		select {
		case <-l.wake:
		case <-l.done:
			return
		}
		l.mu.Lock()
		q := l.q
		l.q, l.qbytes = nil, 0
		if l.room != nil {
			close(l.room) // senders waiting for room go on
			l.room = nil
		}
		l.mu.Unlock()
		if len(q) == 0 {
			continue
		}
		b.Reset()
		ends := make([]int, 0, len(q))
		for _, st := range q {
			st.El.Encode(&b, stanza.NSServer)
			ends = append(ends, b.Len())
		}
		n, err := l.c.write(b.Bytes())
		if err != nil {
			// What went out whole is sent; the rest goes back to the
			// queue, for the next link to the domain, or, if the link
			// has ended meanwhile, is seen to here.
			sent := 0
			for sent < len(ends) && ends[sent] <= n {
				sent++
			}
			l.out.Add(uint64(sent))
			l.mu.Lock()
			if l.ended {
				l.mu.Unlock()
				l.dispose(q[sent:])
				return
			}
			l.q = append(q[sent:], l.q...)
			l.mu.Unlock()
			l.fail(err, nil)
			return
		}
		l.out.Add(uint64(len(q)))
		l.active.Store(time.Now().UnixNano())
		if b.Cap() > 256<<10 {
			b = bytes.Buffer{}
		}
	}
}

// watchIdle closes the link once no stanza went either way for the idle
// timeout.
func (l *link) watchIdle() {
	idle := l.f.cfg.IdleTimeout
	t := time.NewTimer(idle)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		since := time.Since(time.Unix(0, l.active.Load()))
		if since >= idle {
			l.mu.Lock()
			waiting := len(l.q)
			l.mu.Unlock()
			if waiting == 0 {
				l.f.cfg.Log.Debug("federation link idle, closed", "domain", l.remote, "direction", l.dirName())
				l.fail(nil, nil)
				return
			}
			since = 0
		}
		t.Reset(idle - since)
	}
}

// fail ends the link: it sends the stream error e (nil: a plain end),
// forgets the link, and hands what it had not written to a new link (out)
// or bounces it.
func (l *link) fail(why error, e *stream.Error) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return
	}
	l.ended = true
	if why != nil && l.err == "" {
		l.err = plainLinkError(why)
	}
	q, c, errText, remote := l.q, l.c, l.err, l.remote
	l.q, l.qbytes = nil, 0
	l.mu.Unlock()
	close(l.done)
	l.cancel()
	l.f.remove(l)
	if c != nil {
		c.end(nil, e)
	}
	if why != nil {
		l.f.cfg.Log.Info("federation link ended", "domain", remote, "direction", l.dirName(), "why", errText)
	} else {
		l.f.cfg.Log.Debug("federation link ended", "domain", remote, "direction", l.dirName())
	}
	l.dispose(q)
}

// dispose sees to stanzas an ended link took and never wrote: a new link
// gets them if this one wrote anything before (so a peer that takes
// nothing cannot keep them going round); else they bounce.
func (l *link) dispose(q []*stanza.Stanza) {
	ctx := context.WithoutCancel(l.f.ctx)
	for _, st := range q {
		switch {
		case l.out.Load() == 0:
			l.f.bounce(ctx, st, stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, "the link to "+st.To.Domain+" ended before this could be sent"))
		case l.f.ctx.Err() != nil:
			l.f.bounce(ctx, st, stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, "the server stopped before it could send this"))
		default:
			if serr := l.f.Route(ctx, st); serr != nil {
				l.f.bounce(ctx, st, serr)
			}
		}
	}
}

// readFailed ends the link after a read error; a stream error the
// decoder found (a stanza too big, bad XML) goes to the peer.
func (l *link) readFailed(err error) {
	var se *stream.Error
	if errors.As(err, &se) {
		l.fail(err, se)
		return
	}
	l.fail(err, nil)
}

// bounceAll answers every waiting stanza with e (a link that could not be
// set up).
func (l *link) bounceAll(e *stanza.Error) {
	l.mu.Lock()
	q := l.q
	l.q, l.qbytes = nil, 0
	l.mu.Unlock()
	ctx := context.WithoutCancel(l.f.ctx)
	for _, st := range q {
		l.f.bounce(ctx, st, e)
	}
}

func (l *link) dirName() string {
	if l.dir == dirIn {
		return "in"
	}
	return "out"
}

func (l *link) info() LinkInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	dir := l.dirName()
	if l.bidi {
		dir = "both"
	}
	return LinkInfo{Local: l.local, Remote: l.remote, Direction: dir, Auth: l.auth, TLS: l.tlsVer,
		Certificate: l.cert, Since: l.since, In: l.in.Load(), Out: l.out.Load(), Error: l.err}
}

// allowedBy says whether p allows every domain the link is with: the one
// it was opened for or from, and each the peer proved on it. A link still
// negotiating, with no domain yet, is checked when it names one.
func (l *link) allowedBy(p *Policy) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.remote != "" && p.check(l.remote) != nil {
		return false
	}
	for d := range l.authed {
		if p.check(d) != nil {
			return false
		}
	}
	return l.remote != "" || len(l.authed) > 0 || p.Enabled
}

// mayCome says whether stanzas from domain are accepted on this link.
func (l *link) mayCome(domain string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.authed[domain]
}

// stanza checks a stanza that arrived on the link and routes it; a stream
// error ends the link.
func (l *link) stanza(ctx context.Context, el *stanza.Element) *stream.Error {
	st, serr := stanza.Parse(el)
	if serr != nil {
		return &stream.Error{Condition: stream.ImproperAddressing, Text: serr.Text}
	}
	if st.From.IsZero() || st.To.IsZero() {
		return &stream.Error{Condition: stream.ImproperAddressing, Text: "a stanza between servers needs both from and to"}
	}
	if !l.mayCome(st.From.Domain) {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "this link is not authenticated for " + st.From.Domain}
	}
	if err := l.f.policy.Load().check(st.From.Domain); err != nil {
		return &stream.Error{Condition: stream.PolicyViolation, Text: err.Error()}
	}
	if !l.f.isLocal(st.To.Domain) {
		return &stream.Error{Condition: stream.HostUnknown, Text: st.To.Domain + " is not served here"}
	}
	l.bucket.take(ctx, el.Footprint())
	l.in.Add(1)
	l.active.Store(time.Now().UnixNano())
	if l.f.answered(st) {
		return nil // the answer to a federation test
	}
	l.f.cfg.Inbound.FromRemote(ctx, st)
	return nil
}

// plainLinkError says in words why a link ended.
func plainLinkError(err error) string {
	var se *stream.Error
	switch {
	case errors.As(err, &se):
		if se.Text != "" {
			return "stream error " + se.Condition + ": " + se.Text
		}
		return "stream error " + se.Condition
	case errors.Is(err, stream.ErrClosed), errors.Is(err, io.EOF):
		return "the other server closed the connection"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "the other server stopped answering"
	case errors.Is(err, net.ErrClosed):
		return "the connection was closed"
	}
	return err.Error()
}

// bucket limits how fast a peer's stanzas are taken: it waits (and so
// stops reading, which slows the peer through TCP) once a link has sent
// more than its burst.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) take(ctx context.Context, n int) {
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return
	}
	wait := time.Duration(-b.tokens / b.rate * float64(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
