package roster

import (
	"context"
	"errors"
	"fmt"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// state is a subscription state of RFC 6121 Appendix A: the stored item
// (subscription, pending out, pre-approved) plus pending in.
type state struct {
	item      storage.RosterItem
	exists    bool
	pendingIn bool
}

func (m *Module) load(ctx context.Context, user string, contact jid.JID) (state, error) {
	it, err := m.db.RosterItem(ctx, user, contact.String())
	st := state{item: it, exists: err == nil}
	if errors.Is(err, storage.ErrNotFound) {
		st.item = storage.RosterItem{Contact: contact.String(), Subscription: "none"}
	} else if err != nil {
		return st, err
	}
	st.pendingIn, err = m.db.HasPending(ctx, user, contact.String())
	return st, err
}

func (s state) to() bool   { return s.item.Subscription == "to" || s.item.Subscription == "both" }
func (s state) from() bool { return s.item.Subscription == "from" || s.item.Subscription == "both" }

func sub(to, from bool) string {
	switch {
	case to && from:
		return "both"
	case to:
		return "to"
	case from:
		return "from"
	}
	return "none"
}

// Outcome tells the presence module what to do after a state change.
type Outcome struct {
	Route   bool // route the stanza to the contact
	Deliver bool // deliver an inbound stanza to the user's resources
	// SendPresence: the contact just got a subscription from the user
	// (outbound subscribed): send the user's current presence.
	SendPresence bool
	// SendUnavailable: the contact lost its subscription (outbound
	// unsubscribed): send unavailable from the user's resources.
	SendUnavailable bool
	// AutoReply: answer an inbound subscribe with subscribed on behalf of
	// the user (already subscribed or pre-approved).
	AutoReply bool
}

// Outbound applies a subscription stanza the user sends to contact
// (RFC 6121 Appendix A.2) and pushes any roster change.
func (m *Module) Outbound(ctx context.Context, user string, contact jid.JID, typ string) (Outcome, error) {
	s, err := m.load(ctx, user, contact)
	if err != nil {
		return Outcome{}, err
	}
	n := s // next state
	var o Outcome
	switch typ {
	case "subscribe":
		// A.2.1: always routed; pending out unless already subscribed.
		o.Route = true
		if !s.to() {
			n.item.Ask = true
		}
	case "subscribed":
		// A.2.2: approve a pending request, or pre-approve (3.4).
		switch {
		case s.from():
		case s.pendingIn:
			n.item.Subscription = sub(s.to(), true)
			n.pendingIn = false
			n.item.Approved = false
			o.Route, o.SendPresence = true, true
		default:
			n.item.Approved = true
		}
	case "unsubscribe":
		// A.2.3: always routed; drops to and pending out.
		o.Route = true
		n.item.Subscription = sub(false, s.from())
		n.item.Ask = false
	case "unsubscribed":
		// A.2.4: cancels from, denies pending in, drops a pre-approval.
		o.Route = s.from() || s.pendingIn || s.exists
		if s.from() {
			o.SendUnavailable = true
		}
		n.item.Subscription = sub(s.to(), false)
		n.pendingIn = false
		n.item.Approved = false
	}
	return o, m.save(ctx, user, s, n)
}

// Inbound applies a subscription stanza from contact to the user
// (RFC 6121 Appendix A.3). stored is the original stanza, kept with a
// pending-in request so it can be redelivered at login.
func (m *Module) Inbound(ctx context.Context, user string, contact jid.JID, typ string, stored []byte) (Outcome, error) {
	s, err := m.load(ctx, user, contact)
	if err != nil {
		return Outcome{}, err
	}
	n := s
	var o Outcome
	switch typ {
	case "subscribe":
		// A.3.1
		switch {
		case s.from():
			o.AutoReply = true
		case s.item.Approved:
			// Pre-approved (3.4): subscribed at once.
			n.item.Subscription = sub(s.to(), true)
			n.item.Approved = false
			o.AutoReply, o.SendPresence = true, true
		case s.pendingIn:
			// Already pending: no change, not delivered again.
		default:
			n.pendingIn = true
			o.Deliver = true
			if err := m.db.AddPending(ctx, user, contact.String(), stored); err != nil {
				return o, err
			}
		}
	case "subscribed":
		// A.3.2: only honoured when we asked.
		if s.item.Ask && !s.to() {
			n.item.Subscription = sub(true, s.from())
			n.item.Ask = false
			o.Deliver = true
		}
	case "unsubscribe":
		// A.3.3: the contact drops its subscription to the user.
		if s.from() || s.pendingIn {
			n.item.Subscription = sub(s.to(), false)
			n.pendingIn = false
			o.Deliver = true
		}
	case "unsubscribed":
		// A.3.4: the contact cancels or denies the user's subscription.
		if s.to() || s.item.Ask {
			n.item.Subscription = sub(false, s.from())
			n.item.Ask = false
			o.Deliver = true
		}
	}
	return o, m.save(ctx, user, s, n)
}

// save stores the next state and pushes the item if it changed.
func (m *Module) save(ctx context.Context, user string, s, n state) error {
	if s.pendingIn && !n.pendingIn {
		if err := m.db.DeletePending(ctx, user, n.item.Contact); err != nil {
			return err
		}
	}
	changed := n.item.Subscription != s.item.Subscription || n.item.Ask != s.item.Ask || n.item.Approved != s.item.Approved
	if !changed {
		return nil
	}
	if !s.exists && n.item.Subscription == "none" && !n.item.Ask && !n.item.Approved {
		return nil
	}
	if !s.exists {
		if err := m.room(ctx, user, n.item.Contact); err != nil {
			return err
		}
	}
	return m.Put(ctx, user, n.item)
}

// Subscribers returns the contacts with a subscription to the user's
// presence (from or both).
func (m *Module) Subscribers(ctx context.Context, user string) ([]jid.JID, error) {
	list, err := m.db.RosterSubscribers(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]jid.JID, 0, len(list))
	for _, c := range list {
		if j, err := jid.Parse(c); err == nil {
			out = append(out, j)
		}
	}
	return out, nil
}

// Subscriptions returns the contacts whose presence the user sees (to or
// both).
func (m *Module) Subscriptions(ctx context.Context, user string) ([]jid.JID, error) {
	list, err := m.db.RosterSubscriptions(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]jid.JID, 0, len(list))
	for _, c := range list {
		if j, err := jid.Parse(c); err == nil {
			out = append(out, j)
		}
	}
	return out, nil
}

// Full is the stanza error for a subscription that would take the user's
// roster past its quota.
func (m *Module) Full() *stanza.Error { return m.full() }

// IsSubscriber reports whether contact has a subscription to the user's
// presence (from or both on the user's roster).
func (m *Module) IsSubscriber(ctx context.Context, user string, contact jid.JID) bool {
	it, err := m.db.RosterItem(ctx, user, contact.Bare().String())
	return err == nil && (it.Subscription == "from" || it.Subscription == "both")
}

// MaySee reports whether contact may see the local account user's
// presence and what follows from it (XEP-0030 8, XEP-0012 3, PEP, the
// archive): the account itself, and contacts with a subscription to its
// presence (RFC 6121 3) that it does not block (XEP-0191). It is the one
// rule every module asks; an error means the roster could not be read.
func (m *Module) MaySee(ctx context.Context, user string, contact jid.JID) (bool, error) {
	if contact.Bare() == (jid.JID{Local: user, Domain: m.r.Domain}) {
		return true, nil
	}
	it, err := m.db.RosterItem(ctx, user, contact.Bare().String())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("roster of %s: %w", user, err)
	}
	if it.Subscription != "from" && it.Subscription != "both" {
		return false, nil
	}
	return !m.r.Blocked(user, contact), nil
}
