package invite

import (
	"context"
	"errors"
	"strings"

	"hearth/server/internal/c2s"
	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

var _ c2s.Registrar = (*Module)(nil)

// GuestIQ answers an IQ from a stream that has not logged in: XEP-0445's
// <preauth/> and XEP-0077's registration form and request. Anything else
// gets nil (the stream must log in first).
func (m *Module) GuestIQ(ctx context.Context, g *c2s.Guest, iq *stanza.Element) *stanza.Element {
	typ, id := iq.Attr("type"), iq.Attr("id")
	q := iq.FirstElement()
	if q == nil || (typ != "get" && typ != "set") {
		return nil
	}
	if to := iq.Attr("to"); to != "" && to != m.d.Domain {
		return nil
	}
	var res *stanza.Element
	var e *stanza.Error
	switch {
	case q.Name == "preauth" && q.NS == NSPreauth && typ == "set":
		e = m.preauth(ctx, g, q.Attr("token"))
	case q.Name == "preauth" && q.NS == NSPreauth:
		e = stanza.ErrBadRequest("a token is sent with type set (XEP-0445 3)")
	case q.Name == "query" && q.NS == stanza.NSRegister && typ == "get":
		res = m.form(ctx, g)
	case q.Name == "query" && q.NS == stanza.NSRegister:
		e = m.register(ctx, g, q)
	default:
		return nil
	}
	out := stanza.New("iq", stanza.NSClient, "type", "result", "id", id, "from", m.d.Domain)
	if e != nil {
		// XEP-0077 3.3's rule for errors to sets: the request (which
		// holds a password) is not echoed.
		out.SetAttr("type", "error")
		out.Append(e.Element())
		return out
	}
	if res != nil {
		out.Append(res)
	}
	return out
}

// tokenError is XEP-0445 3's answer to a token that cannot be used, with
// what happened in plain words.
func tokenError(err error) *stanza.Error {
	text := "This invitation is not known here (it may have been cancelled); ask the person who invited you for a new one"
	switch {
	case errors.Is(err, storage.ErrInviteExpired):
		text = "This invitation has expired; ask the person who invited you for a new one"
	case errors.Is(err, storage.ErrInviteUsed):
		text = "This invitation was already used; ask the person who invited you for a new one"
	}
	return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, text)
}

// preauth checks a token (XEP-0445 3): it must be known, unexpired, not
// used up and for an account or a password reset. Expiry is checked only
// here: the stream may register with it afterwards.
func (m *Module) preauth(ctx context.Context, g *c2s.Guest, token string) *stanza.Error {
	if _, err := ParseToken(token); err != nil {
		return tokenError(storage.ErrNotFound)
	}
	i, err := m.d.DB.Invite(ctx, token)
	if err == nil && !i.NewAccount() && i.Kind != storage.InviteReset {
		err = storage.ErrNotFound // a contact invitation makes no account
	}
	if err == nil {
		err = i.Check(m.d.Now())
	}
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInviteExpired) && !errors.Is(err, storage.ErrInviteUsed) {
			m.d.Log.Warn("invitation not read", "err", err)
			return stanza.ErrInternal()
		}
		m.d.Log.Info("invitation refused", "addr", g.Addr, "reason", err)
		return tokenError(err)
	}
	g.Token = token
	return nil
}

// form is the registration form (XEP-0077 3.1): a username and a
// password. The invitation's account name, if it keeps one, is filled in.
func (m *Module) form(ctx context.Context, g *c2s.Guest) *stanza.Element {
	q := stanza.New("query", stanza.NSRegister)
	q.Append(stanza.New("instructions", stanza.NSRegister).AppendText(
		"This server makes accounts only with an invitation: open the invitation link you were given with your chat app, or ask someone at home for one. Then choose a name and a password."))
	user := stanza.New("username", stanza.NSRegister)
	if g.Token != "" {
		if i, err := m.d.DB.Invite(ctx, g.Token); err == nil && i.User != "" {
			user.AppendText(i.User)
		}
	}
	return q.Append(user, stanza.New("password", stanza.NSRegister))
}

// register makes the account (XEP-0077 3.1) with the stream's invitation,
// or sets a new password with a reset invitation. A <preauth/> inside the
// query counts as one sent before it.
func (m *Module) register(ctx context.Context, g *c2s.Guest, q *stanza.Element) *stanza.Error {
	if q.Child("remove", stanza.NSRegister) != nil {
		return stanza.NewError(stanza.Auth, stanza.NotAuthorized, "log in to cancel your account")
	}
	if p := q.Child("preauth", NSPreauth); p != nil {
		if e := m.preauth(ctx, g, p.Attr("token")); e != nil {
			return e
		}
	}
	if g.Token == "" {
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed,
			"This server makes accounts only with an invitation: ask someone at home for an invitation link and open it with your chat app")
	}
	name, pass := q.Child("username", stanza.NSRegister), q.Child("password", stanza.NSRegister)
	if name == nil || pass == nil || name.Content() == "" || pass.Content() == "" {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "choose a name and a password")
	}
	j, err := m.account(name.Content())
	if err != nil {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "a name cannot contain spaces or any of \" & ' / : < > @; try a name such as grandma")
	}
	pw, err := storage.PreparePassword(pass.Content(), j.Local)
	if err != nil {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, err.Error())
	}
	c1, c256, err := storage.NewCredentials(pw)
	if err != nil {
		m.d.Log.Warn("credentials not derived", "err", err)
		return stanza.ErrInternal()
	}
	i, err := m.d.DB.RedeemInvite(ctx, g.Token, storage.User{Name: j.Local, SHA1: c1, SHA256: c256}, m.d.Now())
	switch {
	case errors.Is(err, storage.ErrExists):
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this name is taken; choose another")
	case errors.Is(err, storage.ErrInviteName):
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "this invitation is for another name, or the name is kept for someone else's invitation")
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrInviteUsed):
		g.Token = ""
		return tokenError(err)
	case err != nil:
		m.d.Log.Warn("account not made with an invitation", "user", j.Local, "err", err)
		return stanza.ErrInternal()
	}
	if i.Kind == storage.InviteReset {
		m.d.Log.Info("password set with a reset invitation; the account's sessions were ended", "user", j.Local, "addr", g.Addr)
		if m.d.Accounts != nil {
			m.d.Accounts.PasswordReset(ctx, j.Local)
		}
		return nil
	}
	m.d.Log.Info("account made with an invitation", "user", j.Local, "inviter", i.Inviter, "addr", g.Addr)
	if m.d.Accounts != nil {
		if err := m.d.Accounts.Registered(ctx, j.Local); err != nil {
			m.d.Log.Warn("the new account was not taken in everywhere", "user", j.Local, "err", err)
		}
	}
	if i.Contact() && i.Inviter != "" && m.d.Friends != nil {
		if err := m.d.Friends.Befriend(ctx, i.Inviter, j.Local); err != nil {
			m.d.Log.Warn("the new account and its inviter were not made contacts", "user", j.Local, "inviter", i.Inviter, "err", err)
		}
	}
	return nil
}

// account reads a username: a localpart, or a bare JID on the domain as
// some clients send it.
func (m *Module) account(name string) (jid.JID, error) {
	var j jid.JID
	var err error
	if strings.Contains(name, "@") {
		j, err = jid.Parse(name)
	} else {
		j, err = jid.New(name, m.d.Domain, "")
	}
	if err == nil && (j.Local == "" || j.Domain != m.d.Domain || j.Resource != "") {
		err = jid.ErrMalformed
	}
	return j, err
}
