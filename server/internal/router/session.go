package router

import (
	"sync"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Conn is the transport under a session: c2s streams implement it.
type Conn interface {
	// Send queues a stanza for the writer and never blocks; it returns
	// false when the queue is full and the session is being closed. If it
	// returns true and done is not nil, done is called once, from the
	// writer: true once the stanza was handed to the transport whole,
	// false if it never will be (the stream ended first). Such a stanza
	// is its sender's to keep: it does not go to offline storage.
	Send(el *stanza.Element, done func(written bool)) bool
	// Room says how many more stanzas, and bytes of their trees
	// (Element.Footprint), the queue takes now without cutting the client
	// off: a sender of many (offline delivery) sends no more than that.
	Room() (stanzas, bytes int)
	// Close ends the stream with the given stream error condition
	// ("" for a plain close).
	Close(condition, text string)
}

// Session is one bound resource as the router sees it: its address, its
// transport and its presence state (RFC 6121 4), which the presence module
// keeps.
type Session struct {
	JID    jid.JID
	Conn   Conn
	Addr   string
	Since  time.Time
	Secure bool

	mu        sync.Mutex
	available bool
	priority  int
	presence  *stanza.Element // last available presence broadcast
	pushes    Push            // pushes the session asked for
	directed  map[jid.JID]struct{}
}

// Held reports whether the session's client lost its connection and the
// session waits for it to come back and resume it (XEP-0198); a transport
// that cannot hold a session never is.
func (s *Session) Held() bool {
	h, ok := s.Conn.(interface{ Held() bool })
	return ok && h.Held()
}

// Presence returns the session's presence state.
func (s *Session) Presence() (available bool, priority int, last *stanza.Element) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available, s.priority, s.presence
}

// SetPresence records an available (el non-nil) or unavailable presence.
func (s *Session) SetPresence(el *stanza.Element, priority int) (wasAvailable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wasAvailable = s.available
	s.available = el != nil
	s.presence = el
	s.priority = priority
	return wasAvailable
}

// Available reports whether the session has sent initial presence.
func (s *Session) Available() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.available
}

// Priority returns the session's presence priority.
func (s *Session) Priority() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.priority
}

// Push is a kind of server push a session asks for by fetching the
// state it follows.
type Push uint8

// Pushes.
const (
	// PushRoster: the session requested the roster (RFC 6121 2.1.6).
	PushRoster Push = 1 << iota
	// PushBlocklist: the session fetched the block list (XEP-0191 3.3).
	PushBlocklist
)

// Want records that the session asked for pushes of kind p.
func (s *Session) Want(p Push) {
	s.mu.Lock()
	s.pushes |= p
	s.mu.Unlock()
}

// Wants reports whether the session asked for pushes of kind p.
func (s *Session) Wants(p Push) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes&p != 0
}

// AddDirected remembers a directed presence recipient (RFC 6121 4.6).
func (s *Session) AddDirected(to jid.JID) {
	s.mu.Lock()
	if s.directed == nil {
		s.directed = make(map[jid.JID]struct{})
	}
	s.directed[to] = struct{}{}
	s.mu.Unlock()
}

// DirectedCount is how many directed presence recipients are tracked.
func (s *Session) DirectedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.directed)
}

// RemoveDirected forgets a directed presence recipient.
func (s *Session) RemoveDirected(to jid.JID) {
	s.mu.Lock()
	delete(s.directed, to)
	s.mu.Unlock()
}

// TakeDirected returns and clears the directed presence recipients.
func (s *Session) TakeDirected() []jid.JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]jid.JID, 0, len(s.directed))
	for j := range s.directed {
		out = append(out, j)
	}
	s.directed = nil
	return out
}
