// Package family keeps a home's accounts in one another's rosters. When
// the family circle is turned on (setting family.circle), every account of
// this server gets every other on its roster with subscription both (RFC
// 6121 3), in the roster group the setting family.group names, and so does
// every account added later. Both sides are this server's own, so it may
// agree for both; their clients hear of it as of requests approved both
// ways: roster pushes, then each other's presence (RFC 6121 3.1.5).
//
// The circle takes an account in once, and remembers it (storage's
// family circle): after that the account's roster is its owner's, and a
// family contact its owner removed stays removed across restarts and
// group renames; a rename only relabels the items still there. Turning
// the circle off leaves every roster as it is and forgets whom it took
// in, so that turning it on again pairs everyone anew.
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
// none). On, it takes in every account it has not taken in yet (all of
// them the first time): each becomes a mutual contact of every other. An
// account already in keeps its roster as its owner left it; only its
// family contacts still in the old group get the new name. Off, it
// changes no roster and forgets whom it took in.
//
// Whom it took in is recorded: after an error, Set again retries what is
// left. New accounts join as they are added while it is on, even if some
// older ones could not be taken in yet.
func (m *Module) Set(ctx context.Context, on bool, group string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.on, m.group = on, group
	if !on {
		return m.db.ClearFamilyCircle(ctx)
	}
	return m.catchUp(ctx, group)
}

// catchUp relabels the family contacts of the accounts the circle took in
// under another group name, then takes in the accounts it has not.
func (m *Module) catchUp(ctx context.Context, group string) error {
	in, err := m.db.FamilyCircle(ctx)
	if err != nil {
		return err
	}
	users, err := m.db.Users(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range users {
		old, ok := in[u.Name]
		if !ok || old == group {
			continue
		}
		if err := m.relabel(ctx, u.Name, users, old, group); err != nil {
			errs = append(errs, err)
		}
	}
	for _, u := range users {
		if _, ok := in[u.Name]; ok {
			continue
		}
		if err := m.join(ctx, u.Name, users, group); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("some accounts could not be made contacts of each other: %w", errors.Join(errs...))
	}
	return nil
}

// relabel gives the user's family contacts still in group old the new
// group, and records that the user's family group is now group.
func (m *Module) relabel(ctx context.Context, user string, users []storage.User, old, group string) error {
	var errs []error
	for _, o := range users {
		if o.Name == user {
			continue
		}
		if err := m.roster.Relabel(ctx, user, o.Name, old, group); err != nil {
			errs = append(errs, fmt.Errorf("%s's contact %s not moved from group %q to %q: %w", user, o.Name, old, group, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, m.join1(ctx, user, group))
	}
	return errors.Join(errs...)
}

// join makes the user a mutual contact of every other account and, when
// that worked, records that the circle took it in. An account deleted
// meanwhile is passed over.
func (m *Module) join(ctx context.Context, user string, users []storage.User, group string) error {
	var errs []error
	for _, o := range users {
		if o.Name == user {
			continue
		}
		if err := m.pair(ctx, user, o.Name, group); err != nil && !errors.Is(err, storage.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, m.join1(ctx, user, group))
	}
	return errors.Join(errs...)
}

// join1 records the user as taken in, with group; an account deleted
// meanwhile is no error.
func (m *Module) join1(ctx context.Context, user, group string) error {
	if err := m.db.JoinFamilyCircle(ctx, user, group); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// UserAdded makes a new account and every other one mutual contacts
// while the circle is on. What fails is returned, and retried at the next
// start or when the circle is set on again: the account is not recorded
// as taken in.
func (m *Module) UserAdded(ctx context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.on {
		return nil
	}
	users, err := m.db.Users(ctx)
	if err == nil {
		err = m.join(ctx, user, users, m.group)
	}
	if err != nil {
		return fmt.Errorf("the new account could not be made a contact of everyone in the family circle (%w); "+
			"it is tried again at the next start, or when family.circle is set on again", err)
	}
	return nil
}

// Befriend makes two accounts mutual contacts, in no new group: the
// admin's "see each other", with or without the circle.
func (m *Module) Befriend(ctx context.Context, user, contact string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pair(ctx, user, contact, "")
}

// pair makes a and b mutual contacts and, where that let one see the
// other for the first time, sends the presence an approval would.
func (m *Module) pair(ctx context.Context, a, b, group string) error {
	aSees, bSees, err := m.roster.Mutual(ctx, a, b, group, "")
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
