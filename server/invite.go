package server

import (
	"context"
	"net/http"

	"hearth/server/admin"
)

// Registered is told that an account was made with an invitation
// (mod/invite): the modules take it in as one the administrator made,
// and the window's list of accounts follows.
func (h *hooks) Registered(ctx context.Context, user string) error {
	err := h.UserAdded(ctx, user)
	h.s.events.Publish(admin.Event{Kind: admin.EventUsers, JID: user + "@" + h.s.cfg.Domain})
	return err
}

// PasswordReset is told that a reset invitation set an account's
// password: its sessions, held ones too, end as when the administrator
// sets it, and the window hears of it.
func (h *hooks) PasswordReset(_ context.Context, user string) {
	h.CloseSessions(user)
	h.s.events.Publish(admin.Event{Kind: admin.EventUsers, JID: user + "@" + h.s.cfg.Domain})
}

// InviteBase implements admin.Inviter: where invitation pages are, on the
// HTTPS listener and on the LAN's CA page.
func (h *hooks) InviteBase() (https, lan string) {
	return h.s.web.BaseURL(), h.s.cfg.CAPage
}

// InvitePage is the invitation landing page for the LAN's plain-HTTP CA
// page (main serves it there under /invite/), so that a phone trusts the
// home CA and follows its invitation on one page.
func (s *Server) InvitePage() http.Handler { return s.invites.Page(true) }
