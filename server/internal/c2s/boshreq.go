package c2s

import (
	"context"
	"strconv"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// The HTTP side of a BOSH session: requests handed over by the handlers,
// checked against the session's rules, processed in rid order, held, and
// answered (XEP-0124 7, 10-14, 17).

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

// boshMaxPending bounds what the reader has yet to read (as
// Element.Footprint counts it): past it, a session's next request waits
// until the reader has taken some, as a TCP client's data waits in its
// socket, so that a client cannot queue without end by sending requests
// faster than its stanzas are routed.
const boshMaxPending = 1 << 20

// request hands a request of the session over and waits for its answer.
func (f *boshStream) request(ctx context.Context, bd *body) []byte {
	req := &boshReq{rid: bd.rid, body: bd, at: time.Now(), resp: make(chan []byte, 1)}
	f.mu.Lock()
	for f.inSize > boshMaxPending && !f.closed {
		if f.room == nil {
			f.room = make(chan struct{})
		}
		room := f.room
		f.mu.Unlock()
		select {
		case <-room:
		case <-f.done:
		case <-ctx.Done():
			return emptyBody() // the client is gone: nobody reads this
		}
		f.mu.Lock()
	}
	if b, done := f.admitLocked(req); done {
		f.mu.Unlock()
		return b
	}
	f.mu.Unlock()
	return f.await(ctx, req)
}

// await waits for req's answer: what the writer hands over, the session's
// end, or an empty body after 'wait' (XEP-0124 7.1) or when the client
// went away.
func (f *boshStream) await(ctx context.Context, req *boshReq) []byte {
	t := time.NewTimer(f.wait)
	defer t.Stop()
	gone := false
	select {
	case b := <-req.resp:
		return b
	case <-t.C:
	case <-ctx.Done():
		gone = true
	}
	f.mu.Lock()
	if !req.answered {
		if gone {
			// Nobody reads this answer: what the writer offers waits
			// for the client's next request.
			f.answerLocked(req, emptyBody())
			req.empty = true
		} else {
			f.answerLocked(req, nil)
		}
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
		return f.killLocked(boshItemNotFound, "a BOSH request repeated one answered too long ago (rid "+strconv.FormatInt(rid, 10)+")"), true
	case rid > f.rid+int64(f.requests):
		// XEP-0124 14.2: beyond the window.
		return f.killLocked(boshItemNotFound, "a BOSH request came too far ahead of the last (rid "+strconv.FormatInt(rid, 10)+" after "+strconv.FormatInt(f.rid, 10)+")"), true
	}
	if old := f.early[rid]; old != nil {
		f.early[rid] = req
		old.answered = true
		old.resp <- emptyBody()
		return nil, false
	}
	if req.body.typ != "terminate" && len(f.held)+len(f.early)+1 > f.requests {
		// XEP-0124 11: more requests at once than the session allows.
		return f.killLocked(boshPolicyViolation, "the BOSH client sent more than "+strconv.Itoa(f.requests)+" requests at once"), true
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
			f.killLocked(boshPolicyViolation, "the BOSH client polled more often than every "+boshPolling.String())
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
				f.killLocked(boshBadRequest, "a BOSH restart request carried elements")
				return
			}
			to := bd.to
			if to == "" {
				to = f.domain
			}
			f.in = append(f.in, boshIn{open: &stream.Header{NS: stanza.NSClient, To: to, Version: f.version, Lang: bd.lang}})
		}
		for _, c := range bd.children {
			n := c.Footprint()
			f.in = append(f.in, boshIn{el: c, size: n})
			f.inSize += n
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
func (f *boshStream) killLocked(cond, why string) []byte {
	b := terminateBody(cond)
	if f.final == nil {
		f.final = b
	}
	if !f.killed {
		f.killed, f.why = true, why
	}
	// Requests after this one find no session (item-not-found), whether
	// or not its goroutine has ended yet.
	f.srv.bosh.remove(f)
	f.endLocked()
	signal(f.inWake)
	return b
}

// kill is killLocked for a request that broke the rules before it could
// be handed over.
func (f *boshStream) kill(cond, why string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed && f.final != nil {
		return f.final
	}
	return f.killLocked(cond, why)
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
