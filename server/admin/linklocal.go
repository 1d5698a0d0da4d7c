package admin

import (
	"context"
	"fmt"

	"hearth/server/settings"
)

// LinkLocalStatus is how chat on the LAN without accounts (XEP-0174)
// stands: who takes part, who is announced, whom the server sees.
type LinkLocalStatus struct {
	// Enabled is the setting linklocal.enabled.
	Enabled bool
	// Running: the server announces and browses on the LAN now.
	Running bool
	// Reason says why it does not, or "".
	Reason string `json:",omitempty"`
	// Host is the address peers appear on (lan.<domain>); Port the one
	// peers' streams come to while it runs.
	Host string `json:",omitempty"`
	Port int    `json:",omitempty"`
	// OptedIn are the accounts that take part (their localparts).
	OptedIn []string `json:",omitempty"`
	// Announced are those announced now (online).
	Announced []LinkLocalAnnouncement `json:",omitempty"`
	// Peers are the people found on the LAN.
	Peers []LinkLocalPeer `json:",omitempty"`
}

// LinkLocalAnnouncement is one account announced on the LAN.
type LinkLocalAnnouncement struct {
	User string
	// Name is the instance name, user@host (another if a machine on the
	// LAN had it).
	Name string
	// Status is avail, away or dnd; Msg the status message.
	Status string
	Msg    string `json:",omitempty"`
}

// LinkLocalPeer is one person found on the LAN.
type LinkLocalPeer struct {
	Name string // as announced, name@machine
	JID  string // how the server's accounts write to them
	// Status is avail, away or dnd; Msg the status message.
	Status string
	Msg    string   `json:",omitempty"`
	Addrs  []string `json:",omitempty"`
	Port   int      `json:",omitempty"`
}

// LinkLocaler is a Live server that offers chat on the LAN.
type LinkLocaler interface {
	// LinkLocal is how it stands now.
	LinkLocal() LinkLocalStatus
	// LinkLocalChanged applies an account's opt-in, stored already.
	LinkLocalChanged(user string, on bool)
}

// LinkLocal reports how chat on the LAN stands; without a running server,
// the setting and the accounts that take part.
func (l *Local) LinkLocal(ctx context.Context) (LinkLocalStatus, error) {
	reason := "the server is not running"
	if ll, ok := l.Live.(LinkLocaler); ok {
		st := ll.LinkLocal()
		if st.Host != "" {
			return st, nil
		}
		reason = st.Reason
	}
	users, err := l.DB.LinkLocalUsers(ctx)
	if err != nil {
		return LinkLocalStatus{}, err
	}
	v, err := l.Values(ctx)
	if err != nil {
		return LinkLocalStatus{}, err
	}
	return LinkLocalStatus{Enabled: v.Bool(settings.KeyLinkLocal), OptedIn: users, Reason: reason}, nil
}

// SetLinkLocal turns chat on the LAN on or off for an account; a running
// server announces it (while it is online) or withdraws it at once.
func (l *Local) SetLinkLocal(ctx context.Context, user string, on bool) error {
	local, bare, err := l.user(user)
	if err != nil {
		return err
	}
	if err := l.DB.SetLinkLocal(ctx, local, on); err != nil {
		return mapErr(fmt.Sprintf("LAN chat for %s", bare), err)
	}
	if ll, ok := l.Live.(LinkLocaler); ok {
		ll.LinkLocalChanged(local, on)
	}
	l.Events.Publish(Event{Kind: EventUsers, JID: bare})
	return nil
}

// LinkLocal asks the running server for LAN chat's state.
func (c *Client) LinkLocal(ctx context.Context) (LinkLocalStatus, error) {
	var v LinkLocalStatus
	err := c.call(ctx, "LinkLocal", request{}, &v)
	return v, err
}

// SetLinkLocal turns LAN chat on or off for an account of the running server.
func (c *Client) SetLinkLocal(ctx context.Context, user string, on bool) error {
	return c.call(ctx, "SetLinkLocal", request{User: user, On: on}, nil)
}
