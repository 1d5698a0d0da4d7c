// Package register implements the parts of XEP-0077: In-Band Registration
// that concern an account already logged in: reading its registration,
// changing its password (XEP-0077 3.3) and cancelling it (XEP-0077 3.2).
//
// Creating accounts in-band is off: the server offers no registration
// stream feature, and a request from anyone but a local account's own
// session is refused.
package register

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Accounts is told when an account cancelled its registration: the
// server closes its sessions (XEP-0077 3.2: with a <not-authorized/>
// stream error) and every module forgets what it keeps about it.
type Accounts interface {
	UserRemoved(ctx context.Context, user string)
}

// Deps are what the module needs.
type Deps struct {
	DB       *storage.DB
	Router   *router.Router // answers, and whether a session is encrypted
	Accounts Accounts
	Log      *slog.Logger
}

// Module handles jabber:iq:register for logged-in accounts.
type Module struct {
	db       *storage.DB
	r        *router.Router
	accounts Accounts
	log      *slog.Logger
}

// New returns the registration module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: d.DB, r: d.Router, accounts: d.Accounts, log: d.Log}
}

// Register installs the handler, for gets and sets to the server or the
// account's own bare JID, and every element of the namespace: an error to
// a set must never echo the request, which may hold a password (XEP-0077
// 3.3), so the module refuses even what it does not know itself.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get", "set"}, Target: router.ToServer | router.ToAccount, NS: stanza.NSRegister}, m.handle)
}

// Features returns the disco#info features of the module: clients look
// for it before offering a password change.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSRegister}}
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	res, e := m.serve(ctx, st)
	if e != nil && e != router.ErrAnswered && st.Type == "set" {
		// XEP-0077 3.3: errors about a password change should not echo
		// the request, which holds the password; nor do other sets'.
		m.bounce(ctx, st, e)
		return nil, router.ErrAnswered
	}
	return res, e
}

func (m *Module) serve(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if q.Name != "query" {
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.From.Domain != m.r.Domain || st.From.Local == "" {
		// Nobody else may register here: in-band registration is off.
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.To.Local != "" && st.To.Local != st.From.Local {
		// Another account's registration is not the sender's business.
		return nil, stanza.ErrForbidden()
	}
	user := st.From.Local
	if st.Type == "get" {
		// XEP-0077 3.1: an entity already registered gets <registered/>
		// and its username (never a password: only SCRAM keys are kept).
		res := stanza.New("query", stanza.NSRegister)
		res.Append(stanza.New("registered", stanza.NSRegister))
		res.Append(stanza.New("username", stanza.NSRegister).AppendText(user))
		return res, nil
	}
	if q.Child("remove", stanza.NSRegister) != nil {
		return nil, m.remove(ctx, st, user)
	}
	return nil, m.changePassword(ctx, st, user)
}

// bounce replies to st with e and without st's payload.
func (m *Module) bounce(ctx context.Context, st *stanza.Stanza, e *stanza.Error) {
	el := st.El.ShallowClone()
	el.Children = nil
	bare := *st
	bare.El = el
	m.r.Bounce(ctx, &bare, e)
}

// remove cancels the registration (XEP-0077 3.2): it deletes the account,
// answers, and only then tells Accounts, which closes the sessions, so
// that the answer is written before the stream ends. Having answered, it returns
// router.ErrAnswered.
func (m *Module) remove(ctx context.Context, st *stanza.Stanza, user string) *stanza.Error {
	// XEP-0077 3.2: <remove/> must be the only child.
	if len(st.Payload().Elements()) != 1 {
		return stanza.ErrBadRequest("remove stands alone")
	}
	if err := m.db.DeleteUser(ctx, user); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return stanza.NewError(stanza.Auth, stanza.RegistrationRequired, "")
		}
		m.log.Warn("account not deleted", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	m.log.Info("account cancelled in-band", "user", user)
	m.r.Route(ctx, &stanza.Stanza{El: st.Result(nil), Kind: stanza.KindIQ, From: st.To, To: st.From, Type: "result", ID: st.ID})
	if m.accounts != nil {
		m.accounts.UserRemoved(ctx, user)
	}
	return router.ErrAnswered
}

// changePassword applies XEP-0077 3.3.
func (m *Module) changePassword(ctx context.Context, st *stanza.Stanza, user string) *stanza.Error {
	q := st.Payload()
	name, pass := q.Child("username", stanza.NSRegister), q.Child("password", stanza.NSRegister)
	if name == nil || pass == nil {
		return stanza.ErrBadRequest("a password change needs <username/> and <password/>")
	}
	if !m.sameUser(name.Content(), user) {
		return stanza.ErrBadRequest("username does not match the account")
	}
	// XEP-0077 3.3: the channel must be safe enough for a plain password.
	if s := m.r.Session(st.From); s == nil || !s.Secure {
		return stanza.NewError(stanza.Modify, stanza.NotAuthorized, "change the password over an encrypted stream")
	}
	// XEP-0077 3.3: an empty password never replaces the current one.
	if pass.Content() == "" {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "empty password")
	}
	// The same rules as every other way of setting a password, including
	// the OpaqueString preparation SCRAM clients apply (RFC 7677 4).
	pw, err := storage.PreparePassword(pass.Content(), user)
	if err != nil {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, err.Error())
	}
	sha1c, sha256c, err := storage.NewCredentials(pw)
	if err != nil {
		m.log.Warn("credentials not derived", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	if err := m.db.SetCredentials(ctx, user, sha1c, sha256c); err != nil {
		m.log.Warn("password not changed", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	m.log.Info("password changed in-band", "user", user)
	return nil
}

// sameUser reports whether the username sent names the account: a
// localpart, or the bare JID as some clients send it.
func (m *Module) sameUser(name, user string) bool {
	var j jid.JID
	var err error
	if strings.Contains(name, "@") {
		j, err = jid.Parse(name)
	} else {
		j, err = jid.New(name, m.r.Domain, "")
	}
	return err == nil && j == jid.JID{Local: user, Domain: m.r.Domain}
}
