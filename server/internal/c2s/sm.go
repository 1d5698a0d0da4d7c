package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Stream management (XEP-0198): the elements on a bound stream, holding a
// session whose connection was lost, and resuming it on a new one. The
// queue's side (counts, the unacknowledged) is in smqueue.go.
//
// A session with resumption enabled outlives its connection: when the
// connection drops, or the client stops answering pings, the session stays
// bound and available (its contacts see no change) and what comes for it
// waits in its queue, for ResumeTimeout. A new stream that logs in as the
// same account and sends <resume previd h/> takes it over: it gets
// <resumed/>, what it had not acknowledged, and what came meanwhile. A
// session nobody resumes ends as any other: its unacknowledged and queued
// messages go to the account's other sessions or offline storage.

// DefaultResumeTimeout is how long a session whose connection was lost
// is held for its client to resume (setting sm.resume_timeout).
const DefaultResumeTimeout = 10 * time.Minute

// claimTimeout bounds how long a resuming stream waits for the old one
// to let go of a session it still reads.
const claimTimeout = 10 * time.Second

// maxExpired bounds the resumption ids remembered after their sessions
// ended (for the h of a <failed/>), and expiredFor how long one is kept.
const (
	maxExpired = 4096
	expiredFor = time.Hour
)

// smIn is the reader's side of stream management: the count of stanzas
// the server handled, and the resumption id.
type smIn struct {
	id      string // "" without resumption
	timeout time.Duration
	h       atomic.Uint32
}

// expiredSM is what is left of a resumable session that ended.
type expiredSM struct {
	user string
	h    uint32
	at   time.Time
}

// SetResumeTimeout sets how long sessions whose connection is lost from
// now on are held for resumption; 0 turns resumption off.
func (s *Server) SetResumeTimeout(d time.Duration) { s.resume.Store(int64(max(d, 0))) }

func (s *Server) smElements() {
	s.elements[elementKey{"enable", NSSM}] = s.smEnable
	s.elements[elementKey{"r", NSSM}] = s.smRequest
	s.elements[elementKey{"a", NSSM}] = s.smAck
	s.inlines[NSSM] = s.smInline
}

// smFailed is a <failed/> with a stanza error condition.
func smFailed(cond string, h *uint32) *stanza.Element {
	f := stanza.New("failed", NSSM)
	if h != nil {
		f.SetAttr("h", strconv.FormatUint(uint64(*h), 10))
	}
	return f.Append(stanza.New(cond, stanza.NSStanzas))
}

// smEnable answers <enable/>: counting begins, and with resume='true' the
// session gets an id to be resumed by.
func (s *Server) smEnable(_ context.Context, st *Stream, el *stanza.Element) error {
	if st.sm != nil {
		st.Send(smFailed(stanza.UnexpectedRequest, nil))
		return nil
	}
	enabled := s.smStart(st, el)
	if st.out.enableSM(enabled, st.sm.id != "") {
		s.smRegister(st)
	}
	return nil
}

// smStart begins stream management on st as <enable/> el asks and
// returns the <enabled/> answer.
func (s *Server) smStart(st *Stream, el *stanza.Element) *stanza.Element {
	in := &smIn{}
	enabled := stanza.New("enabled", NSSM)
	timeout := time.Duration(s.resume.Load())
	if r := el.Attr("resume"); (r == "true" || r == "1") && timeout > 0 {
		if m, err := strconv.ParseUint(el.Attr("max"), 10, 32); err == nil && m > 0 {
			timeout = min(timeout, time.Duration(m)*time.Second)
		}
		in.id, in.timeout = resumptionID(), timeout
		enabled.SetAttr("id", in.id)
		enabled.SetAttr("resume", "true")
		enabled.SetAttr("max", strconv.Itoa(int(timeout.Seconds())))
	}
	st.sm = in
	return enabled
}

// smRegister makes st resumable by its id, if it has one.
func (s *Server) smRegister(st *Stream) {
	if st.sm.id == "" {
		return
	}
	s.smMu.Lock()
	s.resumable[st.sm.id] = st
	s.smMu.Unlock()
}

// resumptionID returns an id nobody can guess: it is all a resuming
// stream shows besides having logged in as the same account.
func resumptionID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// smRequest answers <r/> with the count of stanzas handled. The reader
// settled its stored messages before it came here, so the count covers
// only what is durable.
func (s *Server) smRequest(_ context.Context, st *Stream, _ *stanza.Element) error {
	if st.sm == nil {
		st.Send(smFailed(stanza.UnexpectedRequest, nil))
		return nil
	}
	st.Send(stanza.New("a", NSSM, "h", strconv.FormatUint(uint64(st.sm.h.Load()), 10)))
	return nil
}

// smAck takes the client's <a/>.
func (s *Server) smAck(_ context.Context, st *Stream, el *stanza.Element) error {
	if st.sm == nil {
		st.Send(smFailed(stanza.UnexpectedRequest, nil))
		return nil
	}
	h, err := parseH(el)
	if err != nil {
		return err
	}
	return st.out.ack(h)
}

// parseH reads the h of <a/> or <resume/>.
func parseH(el *stanza.Element) (uint32, error) {
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	if err != nil {
		return 0, &stream.Error{Condition: stream.BadFormat, Text: "h must be a count of stanzas, from 0 to 4294967295"}
	}
	return uint32(h), nil
}

// holdable says whether a session whose reading ended this way may wait
// for its client to resume it: the connection was lost (not closed by the
// client, not ended by a stream error, not a stopping server).
func holdable(ctx context.Context, cond string, readErr error) bool {
	return ctx.Err() == nil && cond == "" && readErr != nil && !errors.Is(readErr, stream.ErrClosed)
}

// hold keeps a session whose connection f was lost until its client
// resumes it (true: someone else now runs it or ended it), or says it
// cannot be held (false: the caller ends it).
func (s *Server) hold(ctx context.Context, st *Stream, f framing, cond string, readErr error) bool {
	if st.sm == nil || st.sm.id == "" || !holdable(ctx, cond, readErr) || !st.out.hold(f) {
		return false
	}
	s.smMu.Lock()
	st.f = nil
	resumed := make(chan struct{})
	st.resumed = resumed
	close(st.let)
	why := st.stopped
	st.stopped = ""
	s.smMu.Unlock()
	f.Close()
	name := st.sess.JID.String()
	if why == "" {
		why = lostWhy(readErr)
	}
	s.cfg.Log.Info("session held for resumption", "jid", name, "why", why, "for", st.sm.timeout)
	t := time.NewTimer(st.sm.timeout)
	defer t.Stop()
	select {
	case <-resumed:
		return true
	case <-t.C:
		why = "the device did not resume it within " + st.sm.timeout.String()
	case <-st.out.Done():
		why = "it was closed while held"
	case <-ctx.Done():
		why = "the server is stopping"
	}
	s.smMu.Lock()
	select {
	case <-resumed:
		s.smMu.Unlock()
		return true // a resuming stream got it first
	default:
	}
	s.forgetLocked(st)
	s.smMu.Unlock()
	s.endSession(ctx, st, nil)
	s.cfg.Log.Info("session ended", "jid", name, "why", why, "lasted", time.Since(st.sess.Since).Round(time.Second))
	return true
}

// forgetLocked takes a session out of the resumable ones, remembering its
// count for a late <resume/>; s.smMu is held.
func (s *Server) forgetLocked(st *Stream) {
	if st.sm == nil || st.sm.id == "" || s.resumable[st.sm.id] != st {
		return
	}
	delete(s.resumable, st.sm.id)
	if len(s.expired) >= maxExpired {
		for id, e := range s.expired {
			if time.Since(e.at) > expiredFor || len(s.expired) >= maxExpired {
				delete(s.expired, id)
			}
		}
	}
	s.expired[st.sm.id] = expiredSM{user: st.sess.JID.Local, h: st.sm.h.Load(), at: time.Now()}
}

// endSession ends a session whose reading is over, with final (nil for
// a plain close), and waits for its writer.
func (s *Server) endSession(ctx context.Context, st *Stream, final *stream.Error) {
	st.out.closeWith(final)
	s.router.Unbind(context.WithoutCancel(ctx), st.sess)
	<-st.out.Done()
}

// stopReading stops the reader of a session that may be resumed, for the
// reason why, which the log gives.
func (s *Server) stopReading(st *Stream, f framing, why string) {
	s.smMu.Lock()
	st.stopped = why
	s.smMu.Unlock()
	f.StopReading()
}

// errNoSession: nothing to resume under that id for this account.
var errNoSession = errors.New("no session to resume")

// claim takes the session with resumption id previd for a stream logged
// in as user: if a reader still runs it (the client came back before the
// server noticed the old connection had gone), that reader is stopped and
// lets go first.
func (s *Server) claim(user, previd string) (*Stream, error) {
	deadline := time.Now().Add(claimTimeout)
	for {
		s.smMu.Lock()
		st := s.resumable[previd]
		if st == nil || st.sess.JID.Local != user || st.claimed {
			s.smMu.Unlock()
			return nil, errNoSession
		}
		if st.f == nil {
			st.claimed = true
			close(st.resumed)
			s.smMu.Unlock()
			return st, nil
		}
		f, let := st.f, st.let
		st.stopped = "the device came back on a new connection"
		s.smMu.Unlock()
		f.StopReading()
		select {
		case <-let:
		case <-time.After(time.Until(deadline)):
			return nil, errNoSession
		}
	}
}

// expiredH returns the count of a session of user's that ended, if it
// is still remembered.
func (s *Server) expiredH(user, previd string) *uint32 {
	s.smMu.Lock()
	defer s.smMu.Unlock()
	if e, ok := s.expired[previd]; ok && e.user == user {
		return &e.h
	}
	return nil
}

// resume handles <resume/> on a stream that logged in and has not bound:
// it returns the session to run on this stream, or nil after a <failed/>
// (the client binds a new one).
func (c *conn) resume(ctx context.Context, el *stanza.Element) (*Stream, error) {
	st, failed, err := c.resumeWith(ctx, el, func(_ *Stream, resumed *stanza.Element) *stanza.Element { return resumed })
	if failed != nil {
		return nil, c.send(failed)
	}
	return st, err
}

// resumeWith takes over the session a <resume/> names for this stream.
// first makes, from the session and the <resumed/> answer, what the
// stream writes first (the answer itself, or SASL2's <success/> holding
// it). It returns the session, or nil and the <failed/> to send.
func (c *conn) resumeWith(ctx context.Context, el *stanza.Element, first func(*Stream, *stanza.Element) *stanza.Element) (*Stream, *stanza.Element, error) {
	s := c.srv
	h, err := parseH(el)
	if err != nil {
		return nil, nil, err
	}
	if err := c.stillValid(ctx); err != nil {
		return nil, nil, err
	}
	previd := el.Attr("previd")
	st, err := s.claim(c.authed, previd)
	if err != nil {
		return nil, smFailed(stanza.ItemNotFound, s.expiredH(c.authed, previd)), nil
	}
	in := st.sm.h.Load()
	resumed := stanza.New("resumed", NSSM, "previd", previd, "h", strconv.FormatUint(uint64(in), 10))
	// The writer starts on c.f in attach: negotiation's deadline goes and
	// the tap joins it before, as the stream's reader is about to begin on
	// it.
	ok, aerr := st.out.attach(c.f, h, first(st, resumed), func() {
		_ = c.f.SetDeadline(time.Time{})
		st.out.tap.reset()
		c.f.Tap(st.out.tap)
	})
	if !ok || aerr != nil {
		s.smMu.Lock()
		s.forgetLocked(st)
		s.smMu.Unlock()
		s.endSession(ctx, st, nil)
		failed := smFailed(stanza.ItemNotFound, &in)
		if aerr != nil {
			failed = smFailed(stanza.UndefinedCondition, &in)
			var se *stream.Error
			if errors.As(aerr, &se) && se.Extra != nil {
				failed.Append(se.Extra)
			}
		}
		return nil, failed, nil
	}
	return st, nil, nil
}

// smInline is stream management's <enable/> inside a Bind 2 request
// (XEP-0386): the session binds with it on, and <enabled/> goes into the
// <bound/> of the success, after which counting begins.
func (s *Server) smInline(_ context.Context, st *Stream, el *stanza.Element) *stanza.Element {
	if el.Name != "enable" {
		return smFailed(stanza.BadRequest, nil)
	}
	if st.sm != nil {
		// A second <enable/>: as on a bound stream. A second id would
		// replace the first in st.sm and leave it among the resumable
		// sessions for ever.
		return smFailed(stanza.UnexpectedRequest, nil)
	}
	enabled := s.smStart(st, el)
	if !st.out.enableSM(nil, st.sm.id != "") {
		return smFailed(stanza.UnexpectedRequest, nil)
	}
	s.smRegister(st)
	return enabled
}
