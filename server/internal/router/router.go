// Package router implements stanza delivery (RFC 6120 10, RFC 6121 8) and
// is the one delivery authority of the server: it classifies each stanza
// once by its destination (the server, a local host, an account, a full
// JID, another domain), hands it to the handler a module registered on its
// Mux, and otherwise delivers it to sessions or offline storage. Every
// stanza that reaches a local session goes through Deliver, and observers
// see what sessions send and what accounts receive.
package router

import (
	"context"
	"log/slog"
	"sync"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Accounts tells whether a local account exists; an error means it could
// not tell (the database failed), which is never taken for "no".
type Accounts interface {
	Exists(ctx context.Context, user string) (bool, error)
}

// SessionObserver is told when sessions bind and end.
type SessionObserver interface {
	// SessionBound: s is routable.
	SessionBound(s *Session)
	// SessionEnded: s is no longer routable (not called for a session
	// replaced by a new one for the same resource, which speaks for it).
	SessionEnded(ctx context.Context, s *Session)
}

// Config is what a router is built from; only Domain is required.
type Config struct {
	Domain string
	Log    *slog.Logger
	// Accounts tells which accounts exist; nil: all do.
	Accounts Accounts
	// Sessions is told when sessions bind and end; may be nil.
	Sessions SessionObserver
}

// Router routes stanzas for one domain and its local hosts.
type Router struct {
	Domain string
	log    *slog.Logger
	cfg    Config
	mux    *Mux

	mu    sync.RWMutex
	users map[string][]*Session

	reqs requests // IQs the server sent that wait for an answer
}

// New returns a router; modules register on its Mux before it routes.
func New(cfg Config) *Router {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Router{Domain: cfg.Domain, log: cfg.Log, cfg: cfg, mux: newMux(), users: make(map[string][]*Session)}
}

// Mux returns the router's mux, for modules to register on.
func (r *Router) Mux() *Mux { return r.mux }

// Bind registers a session. If the resource is taken, the new session wins
// and the old one is returned for the caller to close with <conflict/>.
func (r *Router) Bind(s *Session) (old *Session) {
	r.mu.Lock()
	list := r.users[s.JID.Local]
	for i, o := range list {
		if o.JID.Resource == s.JID.Resource {
			old = o
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	r.users[s.JID.Local] = append(list, s)
	r.mu.Unlock()
	if r.cfg.Sessions != nil {
		r.cfg.Sessions.SessionBound(s)
	}
	return old
}

// Unbind removes a session and tells the session observer.
func (r *Router) Unbind(ctx context.Context, s *Session) {
	r.mu.Lock()
	list := r.users[s.JID.Local]
	found := false
	for i, o := range list {
		if o == s {
			list = append(list[:i:i], list[i+1:]...)
			found = true
			break
		}
	}
	if len(list) == 0 {
		delete(r.users, s.JID.Local)
	} else {
		r.users[s.JID.Local] = list
	}
	r.mu.Unlock()
	if !found {
		// Replaced by a new session for the same resource: its
		// unavailable presence would speak for the new one.
		return
	}
	if r.cfg.Sessions != nil {
		r.cfg.Sessions.SessionEnded(ctx, s)
	}
}

// Sessions returns the bound sessions of an account.
func (r *Router) Sessions(user string) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Session(nil), r.users[user]...)
}

// Session returns the session bound to a full JID, or nil.
func (r *Router) Session(j jid.JID) *Session {
	if j.Domain != r.Domain {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.users[j.Local] {
		if s.JID.Resource == j.Resource {
			return s
		}
	}
	return nil
}

// All returns every bound session.
func (r *Router) All() []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Session
	for _, l := range r.users {
		out = append(out, l...)
	}
	return out
}

// IsLocal reports whether j is an address of the router's domain (not of
// its local hosts).
func (r *Router) IsLocal(j jid.JID) bool { return j.Domain == r.Domain }

// Blocked reports whether the local account user blocks other (XEP-0191).
func (r *Router) Blocked(user string, other jid.JID) bool {
	return r.mux.blocker != nil && r.mux.blocker.Blocks(user, other)
}

// Deliver hands el to a local session: the one function through which
// stanzas reach sessions, whoever sends them. It returns false when the
// session's queue refused it (the session is being closed).
func (r *Router) Deliver(ctx context.Context, s *Session, el *stanza.Element) bool {
	return r.DeliverTracked(ctx, s, el, nil)
}

// DeliverTracked is Deliver for a sender that must know whether el reached
// the client's transport (Conn.Send's done): offline delivery deletes a
// stored message only once it did.
func (r *Router) DeliverTracked(ctx context.Context, s *Session, el *stanza.Element, done func(written bool)) bool {
	r.mux.start()
	for _, o := range r.mux.deliveryObs {
		o.Delivering(ctx, s, el)
	}
	return s.Conn.Send(el, done)
}

// FromClient routes a stanza a client sent on a bound session. The server
// stamps from with the session's full JID (RFC 6120 8.1.2.1); a stanza
// without to is for the account itself (RFC 6120 10.3).
func (r *Router) FromClient(ctx context.Context, s *Session, el *stanza.Element) {
	r.mux.start()
	st, serr := stanza.Parse(el)
	if serr != nil {
		bad := &stanza.Stanza{El: el, Kind: stanza.KindOf(el), ID: el.Attr("id"), Type: el.Attr("type"), To: s.JID.Bare(), From: s.JID}
		if bad.Kind == stanza.KindNone {
			bad.Kind = stanza.KindIQ
		}
		if bad.Type != "error" {
			r.log.Debug("stanza error sent", "to", s.JID.String(), "stanza", bad.Kind.String(), "condition", serr.Condition, "text", serr.Text)
			r.Deliver(ctx, s, bad.ErrorReply(serr).SetAttr("from", ""))
		}
		return
	}
	to := st.To
	if st.Kind != stanza.KindPresence && to.IsZero() {
		to = s.JID.Bare()
	}
	st = st.WithAddrs(s.JID, to) // presence without to stays without: a broadcast
	if st.Kind == stanza.KindMessage {
		// Only the server stamps delays in its own name (XEP-0203).
		r.stripOwnDelay(st.El)
	}
	var out Outcome
	switch e := validate(st); {
	case e != nil:
		out = r.refuse(ctx, st, e)
	case r.mux.outbound[st.Kind] != nil:
		r.mux.outbound[st.Kind](ctx, s, st)
		return
	case st.Kind == stanza.KindPresence && st.To.IsZero():
		return // a broadcast, and nobody to broadcast it
	case !st.To.IsZero() && r.Blocked(s.JID.Local, st.To):
		// XEP-0191 3.6: outbound stanzas to a blocked entity are refused.
		e := stanza.NewError(stanza.Cancel, stanza.NotAcceptable, "")
		e.Extra = stanza.New("blocked", stanza.NSBlockingErrors)
		out = r.refuse(ctx, st, e)
	default:
		out = r.Route(ctx, r.withoutConsumed(st))
	}
	if st.Kind == stanza.KindMessage && r.mux.archiver != nil && out.Error == nil && (out.Remote || out.Handled) && st.To.Domain != r.Domain {
		// Messages to local accounts were archived on their way; this one
		// left: the sender's archive keeps it.
		_, d := r.mux.archiver.Archive(ctx, st, false)
		r.keep(ctx, d, st)
	}
	if st.Kind == stanza.KindMessage {
		for _, o := range r.mux.outObs {
			o.Outbound(ctx, s, st, out)
		}
	}
}

// FromRemote routes a stanza that came from another server, whose link
// checked that its from is a domain the peer authenticated and its to is
// one of ours (the s2s package does both).
func (r *Router) FromRemote(ctx context.Context, st *stanza.Stanza) {
	r.mux.start()
	if r.mux.lanOnly[st.To.Domain] {
		// Federation never accepts these; nothing is answered if it did.
		r.log.Debug("a stanza from another server to a host that is not federated was dropped", "from", st.From.String(), "to", st.To.String())
		return
	}
	if e := validate(st); e != nil {
		r.refuse(ctx, st, e)
		return
	}
	if st.Kind == stanza.KindMessage {
		r.stripOwnDelay(st.El)
	}
	r.Route(ctx, st)
}

// withoutConsumed returns a message without the children that speak to
// the server only (Mux.Consume), or st itself when it has none.
func (r *Router) withoutConsumed(st *stanza.Stanza) *stanza.Stanza {
	if st.Kind != stanza.KindMessage || len(r.mux.consume) == 0 {
		return st
	}
	var el *stanza.Element
	for _, c := range st.El.Children {
		for _, k := range r.mux.consume {
			if c.Name == k.name && c.NS == k.ns {
				if el == nil {
					el = st.El.ShallowClone()
				}
				el.RemoveChildren(k.name, k.ns)
			}
		}
	}
	if el == nil {
		return st
	}
	c := *st
	c.El = el
	return &c
}

// Route delivers a stanza whose from is trusted, and reports what became
// of it.
func (r *Router) Route(ctx context.Context, st *stanza.Stanza) Outcome {
	r.mux.start()
	to := st.To
	switch {
	case to.Domain == r.Domain && to.Local == "":
		if to.Resource != "" {
			// The server has no resources: nothing to deliver to.
			if st.Kind == stanza.KindPresence {
				return Outcome{}
			}
			return r.refuse(ctx, st, stanza.ErrServiceUnavailable())
		}
		return r.dispatch(ctx, st, ToServer)
	case to.Domain == r.Domain:
		return r.toAccount(ctx, st)
	}
	if h := r.mux.hostHandler(to.Domain); h != nil {
		if e := h(ctx, st); e != nil {
			return r.refuse(ctx, st, e)
		}
		return Outcome{Handled: true}
	}
	if r.mux.lanOnly[st.From.Domain] {
		// A host only our accounts reach says nothing to other servers.
		r.log.Debug("a stanza from a host that is not federated was dropped", "from", st.From.String(), "to", to.String())
		return Outcome{Error: stanza.ErrNotAllowed()}
	}
	if r.mux.remote == nil {
		return r.refuse(ctx, st, stanza.ErrRemoteServerNotFound())
	}
	if e := r.mux.remote.Route(ctx, st); e != nil {
		return r.refuse(ctx, st, e)
	}
	return Outcome{Remote: true}
}

// refuse bounces st with e and reports it.
func (r *Router) refuse(ctx context.Context, st *stanza.Stanza, e *stanza.Error) Outcome {
	r.Bounce(ctx, st, e)
	return Outcome{Error: e}
}

// Bounce replies to st with a stanza error, unless st is an error itself
// (RFC 6120 8.3.1: never answer an error with an error).
func (r *Router) Bounce(ctx context.Context, st *stanza.Stanza, e *stanza.Error) {
	if st.Type == "error" || (st.Kind == stanza.KindIQ && st.Type == "result") {
		return
	}
	reply := st.ErrorReply(e)
	rs := &stanza.Stanza{El: reply, Kind: st.Kind, From: st.To, To: st.From, Type: "error", ID: st.ID}
	if rs.From.IsZero() {
		rs.From = jid.JID{Domain: r.Domain}
	}
	if rs.To.IsZero() {
		return
	}
	r.log.Debug("stanza error sent", "to", rs.To.String(), "stanza", st.Kind.String(), "condition", e.Condition, "text", e.Text)
	r.Route(ctx, rs)
}

// dispatch hands st to the handler registered for it at target t, or
// applies the default for a stanza nobody handles at the server: IQ gets
// and sets and messages are refused, the rest dropped.
func (r *Router) dispatch(ctx context.Context, st *stanza.Stanza, t Target) Outcome {
	if st.Kind == stanza.KindIQ && (st.Type == "result" || st.Type == "error") {
		// Answers to the server's own requests (Request; pings need
		// none).
		r.answered(st)
		return Outcome{Handled: true}
	}
	e, known := r.mux.lookup(st, t)
	switch {
	case e.iq != nil:
		return r.answerIQ(ctx, st, e.iq)
	case e.h != nil:
		if err := e.h(ctx, st); err != nil {
			return r.refuse(ctx, st, err)
		}
		return Outcome{Handled: true}
	case st.Kind == stanza.KindIQ && known:
		return r.refuse(ctx, st, stanza.ErrNotAllowed())
	case st.Kind == stanza.KindIQ, st.Kind == stanza.KindMessage && t == ToServer:
		return r.refuse(ctx, st, stanza.ErrServiceUnavailable())
	}
	// Presence nobody handles carries no meaning here.
	return Outcome{Handled: true}
}

// answerIQ runs an IQ handler and routes its answer.
func (r *Router) answerIQ(ctx context.Context, st *stanza.Stanza, h IQHandler) Outcome {
	res, e := h(ctx, st)
	switch {
	case e == ErrAnswered:
	case e != nil:
		return r.refuse(ctx, st, e)
	default:
		r.Route(ctx, &stanza.Stanza{El: st.Result(res), Kind: stanza.KindIQ, From: st.To, To: st.From, Type: "result", ID: st.ID})
	}
	return Outcome{Handled: true}
}

func (r *Router) toAccount(ctx context.Context, st *stanza.Stanza) Outcome {
	user := st.To.Local
	if st.From.Domain != "" && r.Blocked(user, st.From) {
		// XEP-0191 3.5: nothing from a blocked entity reaches the user.
		if st.Kind == stanza.KindPresence {
			return Outcome{Error: stanza.ErrServiceUnavailable()}
		}
		return r.refuse(ctx, st, stanza.ErrServiceUnavailable())
	}
	if st.To.Resource != "" {
		if r.mux.any[st.Kind][targetIndex(ToFull)] > 0 {
			if e, _ := r.mux.lookup(st, ToFull); e.ok() {
				return r.dispatch(ctx, st, ToFull)
			}
		}
		return r.toFull(ctx, st)
	}
	if st.Kind == stanza.KindMessage {
		return r.messageToBare(ctx, st, false)
	}
	return r.dispatch(ctx, st, ToAccount)
}

// toFull delivers to the session bound to a full JID, or applies RFC 6121
// 8.5.3.2 when there is none.
func (r *Router) toFull(ctx context.Context, st *stanza.Stanza) Outcome {
	s := r.Session(st.To)
	if st.Kind == stanza.KindPresence {
		// Directed presence to a full JID (RFC 6121 8.5.3.1); without the
		// session it is dropped (8.5.3.2.3).
		if s != nil {
			r.Deliver(ctx, s, st.El)
		}
		return Outcome{}
	}
	archived := false
	if s != nil {
		var d Durable
		if st.Kind == stanza.KindMessage {
			// The archives first: the session gets the stanza-id.
			st, d = r.archive(ctx, st, false)
			archived = true
		}
		if r.Deliver(ctx, s, st.El) {
			r.keep(ctx, d, st)
			var out Outcome
			if st.Kind == stanza.KindMessage && r.mux.observed() {
				out.Sessions = []*Session{s}
				r.inbound(ctx, st, out)
			}
			return out
		}
		r.keep(ctx, d, st)
	}
	// RFC 6121 8.5.3.2: no such resource.
	switch st.Kind {
	case stanza.KindIQ:
		return r.refuse(ctx, st, stanza.ErrServiceUnavailable())
	case stanza.KindMessage:
		switch st.Type {
		case "groupchat":
			return r.refuse(ctx, st, stanza.ErrServiceUnavailable())
		case "headline", "error":
			return Outcome{}
		}
	}
	// normal and chat: as if sent to the bare JID.
	return r.messageToBare(ctx, st, archived)
}

// messageToBare applies RFC 6121 8.5.2.1.1 and 8.5.2.2.1; archived: the
// message went through the archiver already.
func (r *Router) messageToBare(ctx context.Context, st *stanza.Stanza, archived bool) Outcome {
	if r.mux.any[stanza.KindMessage][targetIndex(ToAccount)] > 0 {
		if e, _ := r.mux.lookup(st, ToAccount); e.ok() {
			return r.dispatch(ctx, st, ToAccount)
		}
	}
	out, st := r.deliverToBare(ctx, st, archived)
	r.inbound(ctx, st, out)
	return out
}

// deliverToBare delivers or stores a message to an account's bare JID; it
// returns the message as delivered (with its stanza-id).
func (r *Router) deliverToBare(ctx context.Context, st *stanza.Stanza, archived bool) (Outcome, *stanza.Stanza) {
	user := st.To.Local
	switch st.Type {
	case "error":
		return Outcome{}, st
	case "groupchat":
		return r.refuse(ctx, st, stanza.ErrServiceUnavailable()), st
	}
	targets := r.messageTargets(user, st.Type == "headline")
	var d Durable
	if len(targets) > 0 {
		// The archives first: the sessions get the stanza-id.
		st, d = r.archive(ctx, st, archived)
		archived = true
	}
	var delivered []*Session
	if len(targets) > 1 && st.Type != "headline" && r.mux.offline != nil {
		delivered = r.fanOut(ctx, st, targets)
	} else {
		delivered = targets[:0]
		for _, s := range targets {
			if r.Deliver(ctx, s, st.El) {
				delivered = append(delivered, s)
			}
		}
	}
	if len(delivered) > 0 {
		r.keep(ctx, d, st)
		return Outcome{Sessions: delivered}, st
	}
	if st.Type == "headline" {
		r.keep(ctx, d, st)
		return Outcome{}, st
	}
	out, st := r.storeFor(ctx, user, st, archived)
	r.keep(ctx, d, st)
	return out, st
}

// storeFor stores a message for an account with no session that takes
// it: archived first (unless it was), then offline storage.
func (r *Router) storeFor(ctx context.Context, user string, st *stanza.Stanza, archived bool) (Outcome, *stanza.Stanza) {
	if r.cfg.Accounts != nil {
		switch ok, err := r.cfg.Accounts.Exists(ctx, user); {
		case err != nil:
			r.log.Warn("message not stored: the account could not be looked up", "user", user, "err", err)
			return r.refuse(ctx, st, stanza.NewError(stanza.Wait, stanza.InternalServerError,
				"the server could not look up the recipient; try again later")), st
		case !ok:
			return r.refuse(ctx, st, stanza.ErrServiceUnavailable()), st
		}
	}
	if r.mux.offline == nil {
		return r.refuse(ctx, st, stanza.ErrServiceUnavailable()), st
	}
	st, d := r.archive(ctx, st, archived)
	out := r.store(ctx, user, st)
	r.keep(ctx, d, st)
	return out, st
}

// messageTargets picks the available sessions with non-negative priority;
// for chat and normal only those with the highest priority.
func (r *Router) messageTargets(user string, all bool) []*Session {
	var out []*Session
	best := -1
	for _, s := range r.Sessions(user) {
		avail, prio, _ := s.Presence()
		if !avail || prio < 0 {
			continue
		}
		switch {
		case all:
			out = append(out, s)
		case prio > best:
			best = prio
			out = append(out[:0], s)
		case prio == best:
			out = append(out, s)
		}
	}
	return out
}

// inbound runs the inbound observers for a message to a local account.
func (r *Router) inbound(ctx context.Context, st *stanza.Stanza, out Outcome) {
	for _, o := range r.mux.inObs {
		o.Inbound(ctx, st, out)
	}
}
