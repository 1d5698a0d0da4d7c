package c2s

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Stream is a bound stream as an ElementHandler sees it.
type Stream struct {
	sess *router.Session
	out  *out
	sm   *smIn // stream management, once enabled (the reader's)

	// Under Server.smMu, for a session that may be resumed:
	f       framing       // the transport its reader reads; nil while held
	let     chan struct{} // closed when that reader lets go of the session
	resumed chan struct{} // closed when a resuming stream claims it while held
	claimed bool          // a resuming stream is taking it over
	stopped string        // why its reader was stopped, for the log
}

// Session is the stream's session.
func (s *Stream) Session() *router.Session { return s.sess }

// Send queues a non-stanza element on the stream, in order with the
// stanzas (stream management's acks); false when the stream is closing.
func (s *Stream) Send(el *stanza.Element) bool { return s.out.Send(el, nil) }

// SetActive tells the stream whether the client is active (XEP-0352):
// while it is not, presence updates and chat states wait.
func (s *Stream) SetActive(active bool) { s.out.SetActive(active) }

// serveSession runs a bound stream until it ends.
func (s *Server) serveSession(ctx context.Context, c *conn, sess *router.Session) {
	f := c.f
	_ = f.SetDeadline(time.Time{})
	o := newOut(f, s.cfg.QueueLimit, s.cfg.QueueBytes, s.cfg.WriteTimeout)
	name := sess.JID.String()
	// The XML console sees bound streams only, never negotiation.
	o.tap = new(tap)
	f.Tap(o.tap)
	if s.cfg.Lost != nil {
		o.leftover = func(q []*stanza.Element) { s.cfg.Lost.Lost(context.WithoutCancel(ctx), sess, q) }
	}
	sess.Conn = o
	bound := &Stream{sess: sess, out: o}
	// The bind result goes first in the queue, but the writer starts only
	// after router.Bind: a client may address its new full JID as soon as
	// it reads the result, and a message routed before Bind is treated as
	// sent to the bare JID (offline storage).
	if c.bindResult != nil {
		o.queue, o.queued = append(o.queue, c.bindResult), size(c.bindResult)
		c.bindResult = nil
	}
	old, ok := s.bind(sess, f, func() { s.bindInline(ctx, c, bound) })
	if !ok {
		// Closed by the administrator before it could bind: nothing it
		// sent may be routed.
		s.removeUnbound(sess.JID.Local, f)
		o.Close(stream.NotAuthorized, "the account was changed by the administrator")
		<-o.Done()
		f.Close()
		return
	}
	if old != nil {
		old.Conn.Close(stream.Conflict, "replaced by a new session")
	}
	o.mu.Lock()
	if len(o.queue) > 0 {
		o.kick()
	}
	o.mu.Unlock()
	s.cfg.Log.Info("session began", "jid", name, "addr", f.RemoteAddr(), "tls", tlsMode(f))
	s.readSession(ctx, bound, f)
}

// resumeSession runs a session that a new stream resumed (XEP-0198).
func (s *Server) resumeSession(ctx context.Context, c *conn, st *Stream) {
	f := c.f
	// Negotiation's deadline went and the tap joined f in attach, before
	// the writer could start on it.
	s.cfg.Log.Info("session resumed", "jid", st.sess.JID.String(), "addr", f.RemoteAddr(), "tls", tlsMode(f))
	s.readSession(ctx, st, f)
}

// readSession reads a bound stream from f until it ends, then ends the
// session, or holds it for its client to resume.
func (s *Server) readSession(ctx context.Context, bound *Stream, f framing) {
	sess, o := bound.sess, bound.out
	name := sess.JID.String()
	s.smMu.Lock()
	bound.f, bound.let, bound.claimed = f, make(chan struct{}), false
	s.smMu.Unlock()
	f.WatchIdle(time.Duration(s.idle.Load()), func(pinged bool) bool {
		if pinged {
			if bound.sm != nil && bound.sm.id != "" {
				// A phone that lost its network: hold the session for
				// it rather than end it (XEP-0198).
				s.stopReading(bound, f, "the device stopped answering")
			} else {
				o.Close(stream.ConnectionTimeout, "no answer to ping")
			}
			return false
		}
		// XEP-0199 4.2: is the client still there?
		ping := stanza.New("iq", stanza.NSClient, "type", "get", "id", "ping-"+newID()[:8], "from", s.cfg.Domain, "to", name)
		ping.Append(stanza.New("ping", stanza.NSPing))
		s.router.Deliver(ctx, sess, ping)
		return true
	})
	// Shutdown stops the reading first: what was read is routed with a
	// context that shutdown does not cancel, so that a message read is
	// delivered, stored or refused honestly, never lost to a cancelled
	// database call. Stored messages become durable together (group
	// commit); nothing that would acknowledge them is routed before they
	// are (Pending), stream management's <a/> included.
	pend := s.router.NewPending(ctx)
	rctx := router.WithPending(context.WithoutCancel(ctx), pend)
	// A client that does not read must not hold up shutdown either: after
	// the grace its writer gives up, and what it did not take goes back
	// to storage.
	var grace atomic.Pointer[time.Timer]
	stopOnShutdown := context.AfterFunc(ctx, func() {
		f.StopReading()
		grace.Store(time.AfterFunc(ShutdownGrace, o.CutOff))
	})
	cond, text := "", ""
	var final *stream.Error // sent whole, when it has an application condition
	var readErr error
	for {
		el, err := f.Next()
		if err != nil {
			readErr = err
			// A violation gets its stream error; the peer's own close or a
			// dead socket just our closing tag (RFC 6120 4.4).
			var se *stream.Error
			switch {
			case ctx.Err() != nil:
				cond = stream.SystemShutdown
			case errors.As(err, &se):
				cond, text = se.Condition, se.Text
			}
			break
		}
		if stanza.KindOf(el) == stanza.KindNone {
			pend.Settle()
			if err := s.element(rctx, bound, el); err != nil {
				var se *stream.Error
				if !errors.As(err, &se) {
					se = &stream.Error{Condition: stream.InternalServerError}
					s.cfg.Log.Warn("stream element failed", "session", name, "element", el.Name, "err", err)
				}
				cond, text, final = se.Condition, se.Text, se
				break
			}
			continue
		}
		if bound.sm != nil {
			bound.sm.h.Add(1) // every stanza counts, answered pings too
		}
		if el.Name == "iq" && el.Attr("type") == "result" && el.Attr("to") == s.cfg.Domain && strings.HasPrefix(el.Attr("id"), "ping-") {
			continue
		}
		if el.Name != "message" {
			pend.Settle()
		}
		s.router.FromClient(rctx, sess, el)
	}
	pend.Settle()
	stopOnShutdown()
	if s.hold(ctx, bound, f, cond, readErr) {
		return // resumed, or ended, elsewhere
	}
	s.smMu.Lock()
	s.forgetLocked(bound)
	close(bound.let)
	s.smMu.Unlock()
	if final == nil && cond != "" {
		final = &stream.Error{Condition: cond, Text: text}
	}
	s.endSession(ctx, bound, final)
	s.logEnd(sess, o, readErr)
	if t := grace.Load(); t != nil {
		t.Stop() // a timer that fires late finds the writer finished
	}
	// Read what the client sends until it has taken what was written,
	// so that the kernel delivers it rather than resetting the connection.
	// A stopping server waits ShutdownGrace at most: closing the socket
	// ends the drain.
	endDrain := context.AfterFunc(ctx, func() { time.AfterFunc(ShutdownGrace, func() { f.Close() }) })
	f.Drain(time.Now().Add(DrainTimeout))
	endDrain()
	f.Close()
}

// logEnd tells the log how a session ended: the stream error it was sent,
// if any, and why it ended, in words.
func (s *Server) logEnd(sess *router.Session, o *out, readErr error) {
	o.mu.Lock()
	final := o.final
	o.mu.Unlock()
	name, addr := sess.JID.String(), sess.Addr
	var why string
	switch {
	case final != nil:
		s.cfg.Log.Info("stream error sent", "condition", final.Condition, "text", final.Text, "addr", addr, "jid", name)
		why = final.Condition
		if final.Text != "" {
			why += ": " + final.Text
		}
	case errors.Is(readErr, stream.ErrClosed):
		why = "the client closed the stream"
	case readErr != nil:
		why = lostWhy(readErr)
		s.cfg.Log.Debug("session read error", "jid", name, "addr", addr, "err", readErr)
	default:
		why = "the server closed the stream"
	}
	s.cfg.Log.Info("session ended", "jid", name, "addr", addr, "why", why, "lasted", time.Since(sess.Since).Round(time.Second))
}

// lostWhy says in words why reading a session's stream failed; Go's error
// text ("read tcp a->b: connection reset by peer") goes to the debug log
// only.
func lostWhy(err error) string {
	var ne net.Error
	var bosh *boshEnded
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the device closed the connection"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &ne) && ne.Timeout():
		// Also the idle check's end: no answer to its ping.
		return "the device stopped answering"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.ENETDOWN),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "the network connection dropped"
	case errors.Is(err, errStopped):
		return "the server is stopping"
	case errors.As(err, &bosh):
		return bosh.why
	case errors.Is(err, net.ErrClosed):
		// Closed on our side: a client too slow for its queue is cut off.
		return "the server closed the connection"
	}
	return "the connection was lost"
}

// tlsMode says how a stream is encrypted, in words for the log.
func tlsMode(f framing) string {
	switch t, ok := f.(*tcp); {
	case f.TLS() == nil:
		return "none"
	case ok && t.direct:
		return "direct TLS"
	case ok:
		return "STARTTLS"
	}
	if _, ok := f.(*ws); ok {
		return "WebSocket over HTTPS"
	}
	if _, ok := f.(*boshStream); ok {
		return "BOSH over HTTPS"
	}
	return "TLS"
}

// element hands a non-stanza element to its handler. Without one it is
// unsupported-stanza-type (RFC 6120 4.9.3.25: only message, presence and
// iq, and what a negotiated feature defines, may come here).
func (s *Server) element(ctx context.Context, st *Stream, el *stanza.Element) error {
	h := s.elements[elementKey{el.Name, el.NS}]
	if h == nil {
		return &stream.Error{Condition: stream.UnsupportedStanzaType}
	}
	return h(ctx, st, el)
}

var b64 = base64.StdEncoding
