package lanchat

import (
	"context"
	"errors"
	"fmt"

	ll "hearth/server/internal/linklocal"
	"hearth/server/internal/stanza"
)

// Messages to peers leave on goroutines of their own, never on the
// sender's reader: reaching a peer that left without a goodbye takes the
// dial's time at each address it announced. One queue per account and
// peer keeps a conversation in order; a message that cannot be sent
// comes back to its sender as an error.

// queueLimit bounds the messages waiting for one peer from one account.
const queueLimit = 64

// sender is the queue of one account's messages to one peer.
type sender struct {
	from, to string // instance names
	ch       chan *stanza.Stanza
}

// enqueue hands st to the queue from a to p; false when the queue is full.
// A queue's goroutine ends when the queue is empty. The caller holds mu.
func (m *Module) enqueue(rt *runtime, a *announcement, p *peer, st *stanza.Stanza) bool {
	key := a.user + "\x00" + nameKey(p.instance)
	s := rt.senders[key]
	if s == nil {
		s = &sender{from: a.inst.Name(), to: p.instance, ch: make(chan *stanza.Stanza, queueLimit)}
		rt.senders[key] = s
		rt.wg.Go(func() { m.drain(rt, key, s) })
	}
	select {
	case s.ch <- st:
		return true
	default:
		return false
	}
}

// drain sends what the queue holds, then removes it.
func (m *Module) drain(rt *runtime, key string, s *sender) {
	for {
		m.mu.Lock()
		var st *stanza.Stanza
		select {
		case st = <-s.ch:
		default:
			delete(rt.senders, key)
		}
		m.mu.Unlock()
		if st == nil {
			return
		}
		ctx, cancel := context.WithTimeout(rt.ctx, sendTimeout)
		err := rt.svc.Send(ctx, s.from, s.to, st)
		cancel()
		if err != nil {
			m.log.Info("a message to a peer on the LAN was not delivered", "from", st.From.Bare().String(), "peer", s.to, "err", err)
			m.r.Bounce(context.WithoutCancel(rt.ctx), st, sendError(err, s.to, rt.ctx.Err() != nil))
		}
	}
}

// sendError is the stanza error for a message Send could not send to
// peer; stopped says the bridge was stopping.
func sendError(err error, peer string, stopped bool) *stanza.Error {
	switch {
	case stopped || errors.Is(err, ll.ErrClosed):
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "chat on the LAN was switched off before the message left")
	case errors.Is(err, ll.ErrUnknownPeer):
		return stanza.NewError(stanza.Wait, stanza.RecipientUnavailable, peer+" is not on the LAN now")
	case errors.Is(err, ll.ErrNotLocal):
		return stanza.NewError(stanza.Wait, stanza.RecipientUnavailable, "your account is no longer announced on the LAN (offline, or LAN chat turned off for it)")
	case errors.Is(err, ll.ErrTooManyLinks):
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "too many conversations on the LAN are open; try again in a moment")
	}
	return stanza.NewError(stanza.Cancel, stanza.RemoteServerNotFound, fmt.Sprintf("%s could not be reached on the LAN", peer))
}
