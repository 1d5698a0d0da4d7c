// Package router implements stanza delivery (RFC 6120 10, RFC 6121 8): it
// classifies each stanza once by its destination, hands IQs to the handler
// registered for their payload namespace, presence to the presence module,
// and delivers messages to sessions or to offline storage.
package router

import (
	"context"
	"log/slog"
	"sync"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// IQHandler answers an IQ get or set addressed to the server or to an
// account's bare JID. It returns the result payload (nil for an empty
// result) or a stanza error. A handler that answers itself returns
// ErrAnswered.
type IQHandler func(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error)

// ErrAnswered tells the router that the handler sent its own reply.
var ErrAnswered = &stanza.Error{Condition: "answered"}

// PresenceHandler is the presence and subscription module (RFC 6121 3-4).
type PresenceHandler interface {
	// Outbound handles presence sent by a local session.
	Outbound(ctx context.Context, from *Session, st *stanza.Stanza)
	// Inbound handles presence addressed to a local account.
	Inbound(ctx context.Context, st *stanza.Stanza)
	// Gone is called when a session ends.
	Gone(ctx context.Context, s *Session)
}

// OfflineStore keeps messages for accounts with no available session
// (XEP-0160). Store returns only once the message is durable.
type OfflineStore interface {
	Store(ctx context.Context, user string, st *stanza.Stanza) error
}

// Blocker answers XEP-0191 questions: whether user blocks other.
type Blocker interface {
	Blocks(user string, other jid.JID) bool
}

// Accounts tells whether a local account exists.
type Accounts interface {
	Exists(ctx context.Context, user string) bool
}

// Remote routes stanzas to other domains (federation).
type Remote interface {
	Route(ctx context.Context, st *stanza.Stanza) error
}

// Observer sees every message routed for a local account after delivery
// decisions (archive, carbons); observers run in the order added.
type Observer interface {
	Observe(ctx context.Context, st *stanza.Stanza, delivered []*Session)
}

// Router routes stanzas for one domain.
type Router struct {
	Domain   string
	Log      *slog.Logger
	Presence PresenceHandler
	Offline  OfflineStore
	Blocking Blocker
	Accounts Accounts
	Remote   Remote
	// OnSession is told when sessions bind and unbind (admin events).
	OnSession func(s *Session, up bool)

	iq        map[string]IQHandler
	observers []Observer

	mu    sync.RWMutex
	users map[string][]*Session
}

// New returns a router for domain.
func New(domain string, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Router{Domain: domain, Log: log, iq: make(map[string]IQHandler), users: make(map[string][]*Session)}
}

// HandleIQ registers the handler for IQ payloads in namespace ns.
func (r *Router) HandleIQ(ns string, h IQHandler) { r.iq[ns] = h }

// Observe adds an observer.
func (r *Router) Observe(o Observer) { r.observers = append(r.observers, o) }

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
	if r.OnSession != nil {
		r.OnSession(s, true)
	}
	return old
}

// Unbind removes a session; it tells the presence module first.
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
	if r.Presence != nil {
		r.Presence.Gone(ctx, s)
	}
	if r.OnSession != nil {
		r.OnSession(s, false)
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

// IsLocal reports whether j is in the router's domain.
func (r *Router) IsLocal(j jid.JID) bool { return j.Domain == r.Domain }

// FromClient routes a stanza a client sent on a bound session. The server
// stamps from with the session's full JID (RFC 6120 8.1.2.1); a stanza
// without to is for the account itself (RFC 6120 10.3).
func (r *Router) FromClient(ctx context.Context, s *Session, el *stanza.Element) {
	st, serr := stanza.Parse(el)
	if serr != nil {
		bad := &stanza.Stanza{El: el, Kind: stanza.KindOf(el), ID: el.Attr("id"), Type: el.Attr("type"), To: s.JID.Bare(), From: s.JID}
		if bad.Kind == stanza.KindNone {
			bad.Kind = stanza.KindIQ
		}
		if bad.Type != "error" {
			s.Conn.Send(bad.ErrorReply(serr).SetAttr("from", ""))
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
	if e := validate(st); e != nil {
		r.Bounce(ctx, st, e)
		return
	}
	if st.Kind == stanza.KindPresence {
		if r.Presence != nil {
			r.Presence.Outbound(ctx, s, st)
		}
		return
	}
	if !st.To.IsZero() && r.Blocking != nil && r.Blocking.Blocks(s.JID.Local, st.To) {
		// XEP-0191 3.6: outbound stanzas to a blocked entity are refused.
		e := stanza.NewError(stanza.Cancel, stanza.NotAcceptable, "")
		e.Extra = stanza.New("blocked", stanza.NSBlockingErrors)
		r.Bounce(ctx, st, e)
		return
	}
	r.Route(ctx, st)
}

func (r *Router) stripOwnDelay(el *stanza.Element) {
	// el is the session's own shallow copy: its child slice may change.
	out := el.Children[:0]
	for _, c := range el.Children {
		if !(c.Name == "delay" && c.NS == stanza.NSDelay && c.Attr("from") == r.Domain) {
			out = append(out, c)
		}
	}
	el.Children = out
}

// validate applies the stanza syntax rules of RFC 6120 8.2 and 8.2.3.
func validate(st *stanza.Stanza) *stanza.Error {
	switch st.Kind {
	case stanza.KindIQ:
		if st.ID == "" {
			return stanza.ErrBadRequest("an IQ needs an id")
		}
		switch st.Type {
		case "get", "set":
			n := 0
			for _, c := range st.El.Children {
				if c.Name != "" {
					n++
				}
			}
			if n != 1 {
				return stanza.ErrBadRequest("an IQ get or set has exactly one payload")
			}
		case "result", "error":
		default:
			return stanza.ErrBadRequest("unknown IQ type")
		}
	case stanza.KindPresence:
		switch st.Type {
		case "", "unavailable", "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
		default:
			return stanza.ErrBadRequest("unknown presence type")
		}
	}
	return nil
}

// Route delivers a stanza whose from is trusted.
func (r *Router) Route(ctx context.Context, st *stanza.Stanza) {
	to := st.To
	switch {
	case to.Domain != r.Domain:
		if r.Remote != nil {
			if err := r.Remote.Route(ctx, st); err == nil {
				return
			}
		}
		r.Bounce(ctx, st, stanza.ErrRemoteServerNotFound())
	case to.Local == "":
		r.toServer(ctx, st)
	default:
		r.toAccount(ctx, st)
	}
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
	r.Route(ctx, rs)
}

func (r *Router) toServer(ctx context.Context, st *stanza.Stanza) {
	switch st.Kind {
	case stanza.KindIQ:
		if st.To.Resource != "" {
			r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
			return
		}
		r.handleIQ(ctx, st)
	case stanza.KindMessage:
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
	case stanza.KindPresence:
		// Directed presence to the server itself carries no meaning here.
	}
}

func (r *Router) handleIQ(ctx context.Context, st *stanza.Stanza) {
	if st.Type == "result" || st.Type == "error" {
		return // answers to the server's own requests (pings)
	}
	p := st.Payload()
	h := r.iq[p.NS]
	if h == nil {
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		return
	}
	res, e := h(ctx, st)
	switch {
	case e == ErrAnswered:
	case e != nil:
		r.Bounce(ctx, st, e)
	default:
		r.Route(ctx, &stanza.Stanza{El: st.Result(res), Kind: stanza.KindIQ, From: st.To, To: st.From, Type: "result", ID: st.ID})
	}
}

func (r *Router) toAccount(ctx context.Context, st *stanza.Stanza) {
	user := st.To.Local
	if r.Blocking != nil && st.From.Domain != "" && r.Blocking.Blocks(user, st.From) {
		// XEP-0191 3.5: nothing from a blocked entity reaches the user.
		if st.Kind != stanza.KindPresence {
			r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		}
		return
	}
	if st.Kind == stanza.KindPresence {
		if st.To.Resource != "" && (st.Type == "" || st.Type == "unavailable" || st.Type == "error") {
			// Directed presence to a full JID (RFC 6121 8.5.3.1).
			if s := r.Session(st.To); s != nil {
				s.Conn.Send(st.El)
			}
			return
		}
		if r.Presence != nil {
			r.Presence.Inbound(ctx, st)
		}
		return
	}
	if st.To.Resource != "" {
		if s := r.Session(st.To); s != nil && s.Conn.Send(st.El) {
			r.observe(ctx, st, []*Session{s})
			return
		}
		// RFC 6121 8.5.3.2: no such resource.
		switch st.Kind {
		case stanza.KindIQ:
			r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
			return
		case stanza.KindMessage:
			switch st.Type {
			case "groupchat":
				r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
				return
			case "headline", "error":
				return
			}
		}
		// normal and chat: as if sent to the bare JID.
	}
	if st.Kind == stanza.KindIQ {
		r.handleIQ(ctx, st)
		return
	}
	r.messageToBare(ctx, st)
}

// messageToBare applies RFC 6121 8.5.2.1.1 and 8.5.2.2.1.
func (r *Router) messageToBare(ctx context.Context, st *stanza.Stanza) {
	user := st.To.Local
	if st.Type == "error" {
		return
	}
	if st.Type == "groupchat" {
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		return
	}
	targets := r.messageTargets(user, st.Type == "headline")
	var delivered []*Session
	for _, s := range targets {
		if s.Conn.Send(st.El) {
			delivered = append(delivered, s)
		}
	}
	if len(delivered) > 0 {
		r.observe(ctx, st, delivered)
		return
	}
	if st.Type == "headline" {
		return
	}
	if r.Accounts != nil && !r.Accounts.Exists(ctx, user) {
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		return
	}
	if r.Offline == nil {
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		return
	}
	if err := r.Offline.Store(ctx, user, st); err != nil {
		r.Log.Warn("offline store failed", "user", user, "err", err)
		r.Bounce(ctx, st, stanza.ErrServiceUnavailable())
		return
	}
	r.observe(ctx, st, nil)
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

func (r *Router) observe(ctx context.Context, st *stanza.Stanza, delivered []*Session) {
	if st.Kind != stanza.KindMessage {
		return
	}
	for _, o := range r.observers {
		o.Observe(ctx, st, delivered)
	}
}

// SendToAccount sends el to every session of user that satisfies keep
// (nil keeps all); it is for pushes (roster, presence broadcast).
func (r *Router) SendToAccount(user string, el *stanza.Element, keep func(*Session) bool) int {
	n := 0
	for _, s := range r.Sessions(user) {
		if keep == nil || keep(s) {
			if s.Conn.Send(el) {
				n++
			}
		}
	}
	return n
}
