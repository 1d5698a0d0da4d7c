package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/presence"
	"hearth/server/internal/mod/register"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/router"
	"hearth/server/internal/stream"
)

// hooks is how the server's parts reach one another without knowing one
// another: it is the router's session observer, the modules' event sink,
// the registration module's account remover and the admin API's live
// server. It fans out to the modules' optional interfaces that New
// collected, in the modules' order.
type hooks struct{ s *Server }

var (
	_ router.SessionObserver = (*hooks)(nil)
	_ roster.Events          = (*hooks)(nil)
	_ presence.Events        = (*hooks)(nil)
	_ register.Accounts      = (*hooks)(nil)
	_ admin.Live             = (*hooks)(nil)
)

// SessionBound implements router.SessionObserver.
func (h *hooks) SessionBound(sess *router.Session) {
	h.s.svcAdmin.SessionBound(context.Background(), sess) // the message of the day
	h.s.events.Publish(admin.Event{Kind: admin.EventSessionUp, JID: sess.JID.String()})
}

// SessionEnded implements router.SessionObserver: the modules first (the
// session's unavailable presence), then the admin event.
func (h *hooks) SessionEnded(ctx context.Context, sess *router.Session) {
	for _, m := range h.s.enders {
		m.SessionEnded(ctx, sess)
	}
	h.s.events.Publish(admin.Event{Kind: admin.EventSessionDown, JID: sess.JID.String()})
}

// RosterChanged implements roster.Events.
func (h *hooks) RosterChanged(user string) {
	h.s.events.Publish(admin.Event{Kind: admin.EventRoster, JID: user + "@" + h.s.cfg.Domain})
}

// PresenceChanged implements presence.Events.
func (h *hooks) PresenceChanged(sess *router.Session) {
	if h.s.lanchat != nil {
		h.s.lanchat.PresenceChanged(sess)
	}
	h.s.events.Publish(admin.Event{Kind: admin.EventPresence, JID: sess.JID.String()})
}

// UserRemoved is told that an account was deleted, whichever way (the
// admin API, in-band cancellation): every module forgets it, then its
// sessions are closed (XEP-0077 3.2: with <not-authorized/>).
func (h *hooks) UserRemoved(ctx context.Context, user string) {
	for _, m := range h.s.removers {
		m.UserRemoved(ctx, user)
	}
	h.closeSessions(user, "account removed")
}

// UserAdded implements admin.Live: the modules that care (the family
// circle) take the new account in before the admin call returns.
func (h *hooks) UserAdded(ctx context.Context, user string) error {
	// The account exists once this is called: what the modules do for it
	// goes on when the caller gives up, until the server ends.
	ctx, cancel := h.s.detach(ctx)
	defer cancel()
	var errs []error
	for _, m := range h.s.adders {
		errs = append(errs, m.UserAdded(ctx, user))
	}
	return errors.Join(errs...)
}

var _ admin.Importer = (*hooks)(nil)

// UserImported implements admin.Importer: an account came in from a
// XEP-0227 file with what it owns, written without the modules. The one
// it replaced, if any, is logged out; a new one is taken in as UserAdded.
func (h *hooks) UserImported(ctx context.Context, user string, replaced bool) error {
	if replaced {
		h.closeSessions(user, "account replaced by an import")
	}
	if err := h.s.offline.Recount(ctx, user); err != nil {
		return fmt.Errorf("the offline messages were not counted: %w", err)
	}
	if replaced {
		return nil
	}
	return h.UserAdded(ctx, user)
}

// CloseSessions implements admin.Live.
func (h *hooks) CloseSessions(user string) {
	h.closeSessions(user, "account changed by the administrator")
}

// closeSessions ends the account's bound sessions with not-authorized and
// drops its streams that logged in and have not bound yet.
func (h *hooks) closeSessions(user, why string) {
	h.s.c2s.CloseUnbound(user)
	for _, sess := range h.s.router.Sessions(user) {
		sess.Conn.Close(stream.NotAuthorized, why)
	}
}

// SettingChanged implements admin.Live: the server applies its live
// settings before the admin call returns, and says when one could not be.
func (h *hooks) SettingChanged(ctx context.Context, key string) error {
	return h.s.applySetting(ctx, key)
}

// Info implements admin.Live.
func (h *hooks) Info() admin.Info {
	s := h.s
	s.mu.Lock()
	ls := append([]admin.Listener(nil), s.listeners...)
	s.mu.Unlock()
	var certs admin.Certificates
	if s.cfg.Certificates != nil {
		certs = s.cfg.Certificates()
	}
	fp := ""
	for _, n := range certs.Names {
		if n.Name == s.cfg.Domain {
			fp = n.SHA256
		}
	}
	st := s.c2s.Stats()
	info := admin.Info{Domain: s.cfg.Domain, Version: s.cfg.Version, Started: s.started, Listeners: ls, CertFingerprint: fp, Certificates: certs, DataDir: s.cfg.DataDir, Running: true,
		Logins: admin.LoginStats{Failed: st.FailedLogins, Throttled: st.Throttled, Delayed: st.Delayed, ThrottledAddresses: st.ThrottledAddresses, InProgress: st.LoggingIn}}
	if s.cfg.LAN != nil {
		info.LAN = s.cfg.LAN()
	}
	info.Federation = s.federationInfo()
	info.TURN = s.calls.status()
	return info
}

// Sessions implements admin.Live.
func (h *hooks) Sessions() []admin.Session {
	var out []admin.Session
	for _, sess := range h.s.router.All() {
		avail, prio, el := sess.Presence()
		p := "unavailable"
		if avail {
			p = "available"
			if show := el.ChildText("show", ""); show != "" {
				p = show
			}
		}
		out = append(out, admin.Session{JID: sess.JID.String(), Addr: sess.Addr, Since: sess.Since, Secure: sess.Secure, Presence: p, Priority: prio,
			Held: sess.Held()})
	}
	return out
}

// Kick implements admin.Live.
func (h *hooks) Kick(full string) bool {
	j, err := jid.Parse(full)
	if err != nil {
		return false
	}
	sess := h.s.router.Session(j)
	if sess == nil {
		return false
	}
	sess.Conn.Close(stream.PolicyViolation, "closed by the administrator")
	return true
}

// LabelRoster implements admin.Live.
func (h *hooks) LabelRoster(ctx context.Context, user, contact, name string, groups []string) error {
	return h.s.roster.Label(ctx, user, contact, name, groups)
}

// RemoveRoster implements admin.Live.
func (h *hooks) RemoveRoster(ctx context.Context, user, contact string) error {
	j, err := jid.Parse(contact)
	if err != nil {
		return err
	}
	return h.s.roster.Remove(ctx, user, j.Bare())
}

// MakeMutual implements admin.Live.
func (h *hooks) MakeMutual(ctx context.Context, user, contact string) error {
	j, err := jid.Parse(contact)
	if err != nil {
		return err
	}
	return h.s.family.Befriend(ctx, user, j.Local)
}

// TestFederation implements admin.Live.
func (h *hooks) TestFederation(ctx context.Context, domain string) []admin.FederationStep {
	ctx, cancel := context.WithTimeout(ctx, h.s.fed.ConnectTimeout()+5*time.Second)
	defer cancel()
	var out []admin.FederationStep
	for _, st := range h.s.fed.Probe(ctx, domain) {
		out = append(out, admin.FederationStep{Name: st.Name, OK: st.OK, Detail: st.Detail, Advice: st.Advice})
	}
	return out
}
