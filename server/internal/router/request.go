package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Requests the server makes in its own or an account's name: an IQ get or
// set routed like any stanza, whose answer (a result or an error, from the
// address it was sent to) comes back to the waiting caller instead of
// being dropped as answers to the server are.

// ErrNoAnswer means a request's context ended before its answer came.
var ErrNoAnswer = errors.New("no answer came in time")

// requests are the IQs waiting for an answer, by id.
type requests struct {
	n  atomic.Int32 // how many wait: answers cost nothing when none does
	mu sync.Mutex
	m  map[string]*request
}

type request struct {
	to jid.JID
	ch chan *stanza.Stanza
}

// Request routes an IQ of type typ (get or set) with payload from from to
// to, and returns the answer: a result, or an error stanza (the
// recipient's, or this server's when it could not be delivered), or
// ErrNoAnswer when ctx ends first.
func (r *Router) Request(ctx context.Context, from, to jid.JID, typ string, payload *stanza.Element) (*stanza.Stanza, error) {
	var b [9]byte
	_, _ = rand.Read(b[:])
	id := "req-" + hex.EncodeToString(b[:])
	q := &request{to: to, ch: make(chan *stanza.Stanza, 1)}
	rq := &r.reqs
	rq.mu.Lock()
	if rq.m == nil {
		rq.m = make(map[string]*request)
	}
	rq.m[id] = q
	rq.n.Add(1)
	rq.mu.Unlock()
	defer func() {
		rq.mu.Lock()
		if rq.m[id] == q {
			delete(rq.m, id)
			rq.n.Add(-1)
		}
		rq.mu.Unlock()
	}()
	el := stanza.New("iq", stanza.NSClient, "type", typ, "id", id, "from", from.String(), "to", to.String())
	if payload != nil {
		el.Append(payload)
	}
	r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindIQ, Type: typ, ID: id, From: from, To: to})
	select {
	case a := <-q.ch:
		return a, nil
	case <-ctx.Done():
		return nil, ErrNoAnswer
	}
}

// answered hands an IQ result or error to the request it answers, if one
// waits for it from that address.
func (r *Router) answered(st *stanza.Stanza) bool {
	rq := &r.reqs
	if rq.n.Load() == 0 {
		return false
	}
	rq.mu.Lock()
	q := rq.m[st.ID]
	if q == nil || q.to != st.From {
		rq.mu.Unlock()
		return false
	}
	delete(rq.m, st.ID)
	rq.n.Add(-1)
	rq.mu.Unlock()
	q.ch <- st
	return true
}
