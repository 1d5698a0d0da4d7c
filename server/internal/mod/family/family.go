// Package family keeps a home's accounts in one another's rosters. While
// the family circle is on (setting family.circle), every account of this
// server has every other on its roster with subscription both (RFC 6121
// 3), in the roster group the setting family.group names, as accounts are
// added and removed. Both sides are this server's own, so it may agree
// for both; their clients hear of it as of requests approved both ways:
// roster pushes, then each other's presence (RFC 6121 3.1.5). Turning the
// circle off leaves every roster as it is.
package family

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/presence"
	"hearth/server/internal/mod/roster"
	"hearth/storage"
)

// Deps are what the module needs.
type Deps struct {
	DB       *storage.DB
	Roster   *roster.Module
	Presence *presence.Module
	Domain   string
	Log      *slog.Logger
}

// Module keeps the family circle.
type Module struct {
	db       *storage.DB
	roster   *roster.Module
	presence *presence.Module
	domain   string
	log      *slog.Logger

	// mu makes changes one at a time: a new account joins the circle
	// either before or after the circle is turned on, never half way.
	mu    sync.Mutex
	on    bool
	group string
}

// New returns the module, with the circle off until Set.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: d.DB, roster: d.Roster, presence: d.Presence, domain: d.Domain, log: d.Log}
}

// Set turns the circle on or off and names its roster group ("" for
// none). Turning it on makes every two accounts mutual contacts in the
// group; a new name while it is on takes the old one's place on the
// family's items. Turning it off changes no roster.
func (m *Module) Set(ctx context.Context, on bool, group string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	wasOn, old := m.on, m.group
	m.on, m.group = on, group
	if !on || wasOn && old == group {
		return nil
	}
	replace := ""
	if wasOn {
		replace = old
	}
	users, err := m.db.Users(ctx)
	if err != nil {
		return fmt.Errorf("family circle: %w", err)
	}
	var errs []error
	for i, a := range users {
		for _, b := range users[i+1:] {
			if err := m.pair(ctx, a.Name, b.Name, group, replace); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("family circle: some accounts could not be made contacts of each other: %w", errors.Join(errs...))
	}
	return nil
}

// UserAdded makes a new account and every other one mutual contacts
// while the circle is on.
func (m *Module) UserAdded(ctx context.Context, user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.on {
		return
	}
	users, err := m.db.Users(ctx)
	if err != nil {
		m.log.Error("new account not added to the family circle", "user", user, "err", err)
		return
	}
	for _, o := range users {
		if o.Name == user {
			continue
		}
		if err := m.pair(ctx, user, o.Name, m.group, ""); err != nil {
			m.log.Error("new account not added to the family circle", "user", user, "contact", o.Name, "err", err)
		}
	}
}

// Befriend makes two accounts mutual contacts, in no new group: the
// admin's "see each other", with or without the circle.
func (m *Module) Befriend(ctx context.Context, user, contact string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pair(ctx, user, contact, "", "")
}

// pair makes a and b mutual contacts and, where that let one see the
// other for the first time, sends the presence an approval would.
func (m *Module) pair(ctx context.Context, a, b, group, replace string) error {
	aSees, bSees, err := m.roster.Mutual(ctx, a, b, group, replace)
	if bSees {
		m.presence.Approved(ctx, a, []jid.JID{{Local: b, Domain: m.domain}})
	}
	if aSees {
		m.presence.Approved(ctx, b, []jid.JID{{Local: a, Domain: m.domain}})
	}
	if err != nil {
		return fmt.Errorf("%s and %s: %w", a, b, err)
	}
	return nil
}
