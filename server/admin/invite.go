package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"hearth/server/internal/mod/invite"
	"hearth/server/internal/web"
	"hearth/server/settings"
	"hearth/storage"
)

// Kinds of invitation.
const (
	InviteAccount        = storage.InviteAccount        // make an account
	InviteContact        = storage.InviteContact        // become User's contact (XEP-0379)
	InviteAccountContact = storage.InviteAccountContact // make an account that is User's contact
	InviteReset          = storage.InviteReset          // set a new password for User
)

// Bounds of an invitation.
const (
	DefaultInviteExpiry = invite.DefaultExpiry
	MaxInviteExpiry     = 365 * 24 * time.Hour
	MaxInviteUses       = 1000
)

// InviteSpec is what CreateInvite makes.
type InviteSpec struct {
	Kind string // InviteAccount (the default), InviteContact, InviteAccountContact, InviteReset
	// User: for the contact kinds the inviter (needed); for a reset the
	// account (needed); for an account the name kept for the invitee
	// ("" lets them choose).
	User    string        `json:",omitempty"`
	Expires time.Duration `json:",omitempty"` // from now; 0: DefaultInviteExpiry
	Uses    int           `json:",omitempty"` // how many may use it; 0: one
}

// Invite is an invitation as the administrator sees it.
type Invite struct {
	Token   string
	Kind    string
	Inviter string `json:",omitempty"` // bare JID
	User    string `json:",omitempty"` // bare JID kept or reset
	Created time.Time
	Expires time.Time
	MaxUses int
	Uses    int
	State   string // "valid", "expired" or "used up"
	// Link is the landing page on the HTTPS listener; LANLink the same
	// page on the LAN's CA page ("" when there is none), for a phone
	// that does not trust the home CA yet.
	Link    string
	LANLink string `json:",omitempty"`
	URI     string // the xmpp: URI
}

// Inviter is a Live server that knows where its invitation pages are.
type Inviter interface {
	InviteBase() (https, lan string)
}

// CreateInvite makes an invitation.
func (l *Local) CreateInvite(ctx context.Context, spec InviteSpec) (Invite, error) {
	if spec.Kind == "" {
		spec.Kind = InviteAccount
	}
	if spec.Expires == 0 {
		spec.Expires = DefaultInviteExpiry
	}
	if spec.Uses == 0 {
		spec.Uses = 1
	}
	switch {
	case spec.Kind != InviteAccount && spec.Kind != InviteContact && spec.Kind != InviteAccountContact && spec.Kind != InviteReset:
		return Invite{}, invalidf("create invite: %q is no kind of invitation: use account, contact, account+contact or reset", spec.Kind)
	case spec.Expires < time.Minute || spec.Expires > MaxInviteExpiry:
		return Invite{}, invalidf("create invite: an invitation is valid between a minute and a year, not %s", spec.Expires)
	case spec.Uses < 1 || spec.Uses > MaxInviteUses:
		return Invite{}, invalidf("create invite: an invitation may be used 1 to %d times, not %d", MaxInviteUses, spec.Uses)
	case spec.User == "" && spec.Kind != InviteAccount:
		return Invite{}, invalidf("create invite: a %s invitation needs the account it is for (--user NAME)", spec.Kind)
	}
	i := storage.Invite{Token: invite.NewToken(), Kind: spec.Kind, MaxUses: spec.Uses}
	if spec.User != "" {
		local, bare, err := l.user(spec.User)
		if err != nil {
			return Invite{}, fmt.Errorf("create invite: %w", err)
		}
		ok, err := l.DB.UserExists(ctx, local)
		switch {
		case err != nil:
			return Invite{}, err
		case spec.Kind == InviteAccount && ok:
			return Invite{}, fmt.Errorf("create invite: the account %s: %w; leave --user out to let the invitee choose a name", bare, ErrExists)
		case spec.Kind != InviteAccount && !ok:
			return Invite{}, fmt.Errorf("create invite: there is no account %s: %w", bare, ErrNotFound)
		}
		if i.Contact() {
			i.Inviter = local
		} else {
			i.User = local
		}
	}
	i.Created = time.Now()
	i.Expires = i.Created.Add(spec.Expires)
	if err := l.DB.CreateInvite(ctx, i); err != nil {
		return Invite{}, mapErr("create invite", err)
	}
	https, lan := l.inviteBase(ctx)
	return l.invite(i, https, lan, i.Created), nil
}

// Invites lists the invitations, newest first, used and expired ones
// too.
func (l *Local) Invites(ctx context.Context) ([]Invite, error) {
	is, err := l.DB.Invites(ctx)
	if err != nil {
		return nil, err
	}
	https, lan := l.inviteBase(ctx)
	now := time.Now()
	out := make([]Invite, 0, len(is))
	for _, i := range is {
		out = append(out, l.invite(i, https, lan, now))
	}
	return out, nil
}

// RevokeInvite deletes an invitation, given its token, link or URI.
func (l *Local) RevokeInvite(ctx context.Context, token string) error {
	t, err := invite.TokenFrom(token)
	if err != nil {
		return invalidf("revoke invite: %v", err)
	}
	return mapErr("revoke invite", l.DB.DeleteInvite(ctx, t))
}

// inviteBase is where the invitation pages are: the running server's
// listeners, else the public address set or the HTTPS listener's default
// port (the link works once the server runs with it).
func (l *Local) inviteBase(ctx context.Context) (https, lan string) {
	if x, ok := l.Live.(Inviter); ok {
		if https, lan = x.InviteBase(); https != "" {
			return https, lan
		}
	}
	if v, err := l.Values(ctx); err == nil {
		if u, err := web.ParsePublicURL(v.String(settings.KeyPublicURL)); err == nil {
			return u.String(), lan
		}
	}
	return "https://" + net.JoinHostPort(l.domain(), "5443"), lan
}

func (l *Local) invite(i storage.Invite, https, lan string, now time.Time) Invite {
	d := l.domain()
	out := Invite{Token: i.Token, Kind: i.Kind, Created: i.Created, Expires: i.Expires, MaxUses: i.MaxUses, Uses: i.Uses,
		State: "valid", Link: invite.Link(https, i.Token), URI: invite.URIFor(i, d).String()}
	if i.Inviter != "" {
		out.Inviter = i.Inviter + "@" + d
	}
	if i.User != "" {
		out.User = i.User + "@" + d
	}
	// A reset hands over an account: its link never goes over the LAN's
	// plain HTTP, where anyone on the network could read it.
	if lan != "" && i.Kind != storage.InviteReset {
		out.LANLink = invite.Link(lan, i.Token)
	}
	switch err := i.Check(now); {
	case errors.Is(err, storage.ErrInviteUsed):
		out.State = "used up"
	case errors.Is(err, storage.ErrInviteExpired):
		out.State = "expired"
	}
	return out
}

// inviteMethods serves the invitation calls on the admin socket.
func inviteMethods(api API, method func(name string, fn func(ctx context.Context, r request) (any, error))) {
	method("CreateInvite", func(ctx context.Context, r request) (any, error) {
		if r.Invite == nil {
			return nil, invalidf("create invite: no invitation given")
		}
		return api.CreateInvite(ctx, *r.Invite)
	})
	method("Invites", func(ctx context.Context, r request) (any, error) { return api.Invites(ctx) })
	method("RevokeInvite", func(ctx context.Context, r request) (any, error) { return struct{}{}, api.RevokeInvite(ctx, r.Value) })
}

// CreateInvite asks the running server to make an invitation.
func (c *Client) CreateInvite(ctx context.Context, spec InviteSpec) (Invite, error) {
	var v Invite
	err := c.call(ctx, "CreateInvite", request{Invite: &spec}, &v)
	return v, err
}

// Invites asks the running server for its invitations.
func (c *Client) Invites(ctx context.Context) ([]Invite, error) {
	var v []Invite
	err := c.call(ctx, "Invites", request{}, &v)
	return v, err
}

// RevokeInvite asks the running server to delete an invitation.
func (c *Client) RevokeInvite(ctx context.Context, token string) error {
	return c.call(ctx, "RevokeInvite", request{Value: token}, nil)
}
