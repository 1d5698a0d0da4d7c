// Package invite implements invitations as Snikket makes them: a link and
// QR code that lets someone make an account here (XEP-0401 links,
// XEP-0445: Pre-Authenticated In-Band Registration), become an account's
// contact (XEP-0379: Pre-Authenticated Roster Subscription), both, or set
// a new password for an account. In-band registration is open only to a
// stream that presented a valid token.
//
// The module answers the IQs of streams not logged in yet (c2s.Registrar),
// serves the landing page https://DOMAIN/invite/TOKEN (page.go) and makes
// tokens and invitation URIs (token.go). Contact invitations are checked
// for the presence module by Tokens (contact.go).
package invite

import (
	"context"
	"log/slog"
	"time"

	"hearth/server/internal/c2s"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Namespaces.
const (
	// NSPreauth is XEP-0379's token element, also used by XEP-0445.
	NSPreauth = "urn:xmpp:pars:0"
	// NSIBRToken is XEP-0445's stream feature.
	NSIBRToken = "urn:xmpp:ibr-token:0"
	// NSRegisterFeature is XEP-0077's stream feature.
	NSRegisterFeature = "http://jabber.org/features/iq-register"
)

// DefaultExpiry is how long an invitation is valid unless told otherwise.
const DefaultExpiry = 7 * 24 * time.Hour

// Keep is how long an expired invitation stays listed (its page says it
// expired) before Run deletes it; PurgeEvery is how often Run looks.
const (
	Keep       = 30 * 24 * time.Hour
	PurgeEvery = 6 * time.Hour
)

// Accounts is told about an account made with an invitation, as about
// one the administrator made (the family circle takes it in, the
// window's list of accounts follows).
type Accounts interface {
	Registered(ctx context.Context, user string) error
	// PasswordReset is told that a reset invitation set an account's
	// password: its sessions end, as when the administrator sets it (a
	// reset is what follows a lost phone).
	PasswordReset(ctx context.Context, user string)
}

// Friends makes two accounts mutual contacts (mod/family's Befriend).
type Friends interface {
	Befriend(ctx context.Context, user, contact string) error
}

// Deps are what the module needs.
type Deps struct {
	DB       *storage.DB
	Domain   string
	Accounts Accounts // may be nil
	Friends  Friends  // may be nil: account+contact invitations then make no contacts
	// CAPage is the LAN page where devices trust the home CA ("" for
	// none): the landing page sends phones there first.
	CAPage string
	Now    func() time.Time // time.Now if nil (tests)
	Log    *slog.Logger
}

// Module is the invitations' server side.
type Module struct {
	d Deps
}

// New returns the module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Module{d: d}
}

// Features: the module advertises itself in the stream features only.
func (m *Module) Features() router.Features { return router.Features{} }

// StreamFeatures offers registration before login (XEP-0077) and says
// that it takes invitation tokens (XEP-0445 2): Hearth registers nobody
// without one.
func (m *Module) StreamFeatures() []c2s.Feature {
	return []c2s.Feature{
		{Stage: c2s.BeforeAuth, Element: stanza.New("register", NSIBRToken)},
		{Stage: c2s.BeforeAuth, Element: stanza.New("register", NSRegisterFeature)},
	}
}

// Run deletes invitations that expired more than Keep ago, at start and
// every PurgeEvery, until ctx is done.
func (m *Module) Run(ctx context.Context) {
	t := time.NewTicker(PurgeEvery)
	defer t.Stop()
	for {
		if n, err := m.d.DB.PurgeInvites(ctx, m.d.Now().Add(-Keep)); err != nil && ctx.Err() == nil {
			m.d.Log.Warn("old invitations not deleted; tried again later", "err", err)
		} else if n > 0 {
			m.d.Log.Info("old invitations deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
