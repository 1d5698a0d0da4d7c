package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/settings"
	"hearth/storage"
)

// Live is what a running server adds to the database: its sessions, the
// pushes a change sends to them, and the clean-up of what its modules keep
// in memory. The server implements it.
type Live interface {
	// Info describes the running server (Running true).
	Info() Info
	// Sessions lists every bound resource.
	Sessions() []Session
	// Kick closes one session; false if there is none.
	Kick(fullJID string) bool
	// CloseSessions closes every session of the localpart user (its
	// password changed or it was disabled).
	CloseSessions(user string)
	// UserRemoved is told that the account user was deleted: every part
	// of the server forgets it and its sessions are closed.
	UserRemoved(ctx context.Context, user string)
	// UserAdded is told that the account user was created (the family
	// circle takes it in).
	UserAdded(ctx context.Context, user string) error
	// LabelRoster sets a contact's name and groups (adding the contact,
	// keeping its subscription) and pushes it to the user's online
	// sessions; RemoveRoster cancels subscriptions, deletes and pushes.
	// Both publish their own roster events.
	LabelRoster(ctx context.Context, user, contact, name string, groups []string) error
	RemoveRoster(ctx context.Context, user, contact string) error
	// MakeMutual makes the accounts user (a localpart) and contact (a
	// bare JID on the domain) contacts of each other with subscription
	// both, pushes both rosters and sends each the other's presence.
	MakeMutual(ctx context.Context, user, contact string) error
	// Console watches the stream of a session; false when there is no
	// such session.
	Console(ctx context.Context, fullJID string) (<-chan ConsoleFrame, bool)
	// TestFederation runs a federation test with domain.
	TestFederation(ctx context.Context, domain string) []FederationStep
	// SettingChanged applies a live setting that was stored; settings
	// the server does not apply itself are applied by whoever follows
	// the settings event (the LAN announcement). An error says, in plain
	// words, what could not be applied (the family circle) and how to
	// retry; the setting stays stored.
	SettingChanged(ctx context.Context, key string) error
}

// Local is the API in the process that holds the database: with Live set
// by the running server, or, for the command line when no server runs,
// with DB, Domain and DataDir alone.
type Local struct {
	DB      *storage.DB
	Domain  string // users given as bare localparts are on this domain
	DataDir string
	// Live is the running server; nil when none runs.
	Live Live
	// Events gets every change made through Local; nil drops them.
	Events *Hub
	// LogRing keeps the server's recent log records; nil: none.
	LogRing *LogRing
	// MUC is the running server's chat rooms; nil: none.
	MUC RoomService
}

var _ API = (*Local)(nil)

// domain returns Domain normalised.
func (l *Local) domain() string {
	if j, err := jid.Parse(l.Domain); err == nil {
		return j.Domain
	}
	return l.Domain
}

// user normalises s, a bare JID on the server's domain or a localpart,
// and returns the localpart and the bare JID. Errors wrap ErrInvalid.
func (l *Local) user(s string) (local, bare string, err error) {
	d := l.domain()
	var j jid.JID
	if strings.Contains(s, "@") {
		j, err = jid.Parse(s)
	} else {
		j, err = jid.New(s, d, "")
	}
	switch {
	case err != nil || j.Local == "":
		return "", "", invalidf("%s", badUser(s, d))
	case j.Resource != "":
		return "", "", invalidf("%q has a resource; give the bare address", s)
	case j.Domain != d:
		return "", "", invalidf("%q is not on this server's domain %s", s, d)
	}
	return j.Local, j.String(), nil
}

// badUser says in plain words why s is not an account's address, and
// what would be.
func badUser(s, domain string) string {
	name, _, _ := strings.Cut(s, "@")
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Sprintf("%q has no name before the @: give a name such as grandma@%s", s, domain)
	case strings.ContainsAny(name, " \t"):
		return fmt.Sprintf("a name cannot contain spaces: try %s@%s", strings.Join(strings.Fields(strings.ToLower(name)), "."), domain)
	case strings.ContainsAny(name, `"&'/:<>@`):
		return fmt.Sprintf("%q: a name cannot contain any of \" & ' / : < > @", s)
	}
	return fmt.Sprintf("%q is not an account address: use a name such as grandma, or grandma@%s", s, domain)
}

// mapErr turns storage's sentinel errors into the API's; op names the
// call. Other errors already say what failed.
func mapErr(op string, err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("%s: %w", op, ErrExists)
	}
	return err
}

// Info describes the running server, or the database alone.
func (l *Local) Info(ctx context.Context) (Info, error) {
	if l.Live != nil {
		return l.Live.Info(), nil
	}
	return Info{Domain: l.domain(), DataDir: l.DataDir}, nil
}

// Users lists every account, sorted, with its online resources.
func (l *Local) Users(ctx context.Context) ([]User, error) {
	us, err := l.DB.Users(ctx)
	if err != nil {
		return nil, err
	}
	online := map[string]int{}
	if l.Live != nil {
		for _, s := range l.Live.Sessions() {
			bare, _, _ := strings.Cut(s.JID, "/")
			online[bare]++
		}
	}
	d := l.domain()
	out := make([]User, 0, len(us))
	for _, u := range us {
		bare := u.Name + "@" + d
		out = append(out, User{JID: bare, Disabled: u.Disabled, Created: u.Created, Sessions: online[bare]})
	}
	return out, nil
}

// AddUser creates an account with a password.
func (l *Local) AddUser(ctx context.Context, user, password string) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	c1, c256, err := l.credentials(local, password)
	if err != nil {
		return fmt.Errorf("add user %s: %w", bare, err)
	}
	if err := l.DB.CreateUser(ctx, storage.User{Name: local, SHA1: c1, SHA256: c256}); err != nil {
		return mapErr("add user "+bare, err)
	}
	var joined error
	if l.Live != nil {
		joined = l.Live.UserAdded(ctx, local)
	}
	l.Events.Publish(Event{Kind: EventUsers, JID: bare})
	if joined != nil {
		// The account is there; what the server does for new accounts
		// is not all done.
		return fmt.Errorf("add user %s: %w: the account was made, but %w", bare, ErrNotApplied, joined)
	}
	return nil
}

// credentials prepares the password and derives SCRAM keys from it.
// Errors for bad passwords wrap ErrInvalid.
func (l *Local) credentials(local, password string) (sha1, sha256 storage.Credentials, err error) {
	p, err := preparePassword(password, local)
	if err != nil {
		return sha1, sha256, invalidf("%v", err)
	}
	return storage.NewCredentials(p)
}

// DeleteUser deletes an account and everything it owns, and closes its
// sessions.
func (l *Local) DeleteUser(ctx context.Context, user string) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if err := l.DB.DeleteUser(ctx, local); err != nil {
		return mapErr("delete user "+bare, err)
	}
	if l.Live != nil {
		l.Live.UserRemoved(ctx, local)
	} else if err := l.forget(ctx, bare); err != nil {
		return fmt.Errorf("delete user %s: %w", bare, err)
	} else if _, err := l.PurgeUploads(ctx, bare, false); err != nil {
		return fmt.Errorf("delete user %s: the files they shared: %w", bare, err)
	}
	l.Events.Publish(Event{Kind: EventUsers, JID: bare})
	return nil
}

// forget takes a deleted account off every roster and forgets its
// unanswered requests when no server runs (a running one does it in
// Live.UserRemoved, telling the online owners): a later account of the
// same name must inherit nothing.
func (l *Local) forget(ctx context.Context, bare string) error {
	holders, _, err := l.DB.RosterHolders(ctx, bare)
	if err != nil {
		return err
	}
	for _, h := range holders {
		if _, err := l.DB.DeleteRosterItem(ctx, h, bare); err != nil {
			return err
		}
	}
	return l.DB.DeletePendingFrom(ctx, bare)
}

// SetPassword replaces an account's password and closes its sessions.
func (l *Local) SetPassword(ctx context.Context, user, password string) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	c1, c256, err := l.credentials(local, password)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", bare, err)
	}
	if err := l.DB.SetCredentials(ctx, local, c1, c256); err != nil {
		return mapErr("set password of "+bare, err)
	}
	if l.Live != nil {
		l.Live.CloseSessions(local)
	}
	l.Events.Publish(Event{Kind: EventUsers, JID: bare})
	return nil
}

// SetDisabled disables or enables an account; disabling closes its
// sessions.
func (l *Local) SetDisabled(ctx context.Context, user string, disabled bool) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("set disabled: %w", err)
	}
	if err := l.DB.SetDisabled(ctx, local, disabled); err != nil {
		return mapErr("set disabled of "+bare, err)
	}
	if disabled && l.Live != nil {
		l.Live.CloseSessions(local)
	}
	l.Events.Publish(Event{Kind: EventUsers, JID: bare})
	return nil
}

// Roster returns a user's contacts, sorted.
func (l *Local) Roster(ctx context.Context, user string) ([]RosterItem, error) {
	local, bare, err := l.user(user)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	items, _, err := l.DB.Roster(ctx, local)
	if err != nil {
		return nil, mapErr("roster of "+bare, err)
	}
	out := make([]RosterItem, 0, len(items))
	for _, it := range items {
		out = append(out, RosterItem{JID: it.Contact, Name: it.Name, Subscription: it.Subscription, Ask: it.Ask, Groups: it.Groups})
	}
	return out, nil
}

// contact normalises a roster item's address: a bare JID, not the user's.
func contact(s, bare string) (string, error) {
	j, err := jid.Parse(s)
	switch {
	case err != nil:
		return "", invalidf("%q is not an address", s)
	case j.Resource != "":
		// RFC 6121 2.1.2.2: roster items are bare JIDs.
		return "", invalidf("%q has a resource; give the bare address", s)
	case j.String() == bare:
		return "", invalidf("%s cannot be a contact of itself", s)
	}
	return j.String(), nil
}

// groups checks group names (RFC 6121 2.1.2.4: not empty, no duplicates)
// and drops repeats.
func groups(gs []string) ([]string, error) {
	var out []string
	for _, g := range gs {
		if strings.TrimSpace(g) == "" {
			return nil, invalidf("empty group name")
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// AddRosterItem adds a contact with subscription none, or changes the name
// and groups of one on the roster, keeping its subscription.
func (l *Local) AddRosterItem(ctx context.Context, user string, item RosterItem) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("add roster item: %w", err)
	}
	c, err := contact(item.JID, bare)
	if err != nil {
		return fmt.Errorf("add roster item of %s: %w", bare, err)
	}
	gs, err := groups(item.Groups)
	if err != nil {
		return fmt.Errorf("add roster item %s of %s: %w", c, bare, err)
	}
	op := "add roster item " + c + " of " + bare
	if l.Live != nil {
		// An unknown user shows as storage.ErrNotFound.
		return mapErr(op, l.Live.LabelRoster(ctx, local, c, item.Name, gs))
	}
	if _, _, err := l.DB.LabelRosterItem(ctx, local, c, item.Name, gs); err != nil {
		return mapErr(op, err)
	}
	l.Events.Publish(Event{Kind: EventRoster, JID: bare})
	return nil
}

// RemoveRosterItem removes a contact. With a running server its
// subscriptions are cancelled both ways (RFC 6121 2.5.2); without, the item
// is only deleted.
func (l *Local) RemoveRosterItem(ctx context.Context, user, contactJID string) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("remove roster item: %w", err)
	}
	c, err := contact(contactJID, bare)
	if err != nil {
		return fmt.Errorf("remove roster item of %s: %w", bare, err)
	}
	op := "remove roster item " + c + " of " + bare
	if l.Live != nil {
		if _, err := l.DB.User(ctx, local); err != nil {
			return mapErr(op, err)
		}
		return mapErr(op, l.Live.RemoveRoster(ctx, local, c))
	}
	if _, err := l.DB.DeleteRosterItem(ctx, local, c); err != nil {
		return mapErr(op, err)
	}
	if err := l.DB.DeletePending(ctx, local, c); err != nil {
		return err
	}
	l.Events.Publish(Event{Kind: EventRoster, JID: bare})
	return nil
}

// MakeMutual makes two accounts of this server contacts of each other
// with subscription both. Without a running server only the rosters
// change; a running one also tells their online clients.
func (l *Local) MakeMutual(ctx context.Context, user, contactJID string) error {
	local, bare, err := l.user(user)
	if err != nil {
		return fmt.Errorf("make mutual contacts: %w", err)
	}
	c, err := contact(contactJID, bare)
	if err != nil {
		return fmt.Errorf("make mutual contacts of %s: %w", bare, err)
	}
	op := "make " + bare + " and " + c + " mutual contacts"
	other, _, err := l.user(c)
	if err != nil {
		// RFC 6121 3.1: only the contact's own server may agree for it.
		return fmt.Errorf("%s: %w", op, invalidf("%s is not an account of this server: the contact must accept a request from their own app", c))
	}
	for _, u := range []string{local, other} {
		if _, err := l.DB.User(ctx, u); err != nil {
			return mapErr(op, err)
		}
	}
	if l.Live != nil {
		return mapErr(op, l.Live.MakeMutual(ctx, local, c))
	}
	for _, side := range [][2]string{{local, c}, {other, bare}} {
		if _, _, _, err := l.DB.MutualRosterItem(ctx, side[0], side[1], "", ""); err != nil {
			return mapErr(op, err)
		}
	}
	l.Events.Publish(Event{Kind: EventRoster, JID: bare})
	l.Events.Publish(Event{Kind: EventRoster, JID: c})
	return nil
}

// Sessions lists the bound resources; none when no server runs.
func (l *Local) Sessions(ctx context.Context) ([]Session, error) {
	if l.Live == nil {
		return nil, nil
	}
	return l.Live.Sessions(), nil
}

// Kick closes one session.
func (l *Local) Kick(ctx context.Context, fullJID string) error {
	j, err := jid.Parse(fullJID)
	if err != nil || j.Resource == "" {
		return invalidf("kick: %q is not a full JID", fullJID)
	}
	if l.Live == nil {
		return fmt.Errorf("kick %s: %w", j, ErrOffline)
	}
	if !l.Live.Kick(j.String()) {
		return fmt.Errorf("kick %s: %w", j, ErrNotFound)
	}
	return nil
}

// Settings lists every known setting with its value or default.
func (l *Local) Settings(ctx context.Context) ([]Setting, error) {
	stored, err := l.DB.Settings(ctx)
	if err != nil {
		return nil, err
	}
	all := settings.All()
	out := make([]Setting, 0, len(all))
	for _, s := range all {
		v, ok := stored[s.Key]
		if !ok {
			v = s.Default
		}
		if s.Secret && v != "" {
			v = SecretShown // a credential is never shown
		}
		out = append(out, Setting{Key: s.Key, Value: v, Default: s.Default, Help: s.Help, Restart: !s.Live,
			Kind: s.Kind.String(), Enum: s.Enum, Min: s.Min, Secret: s.Secret})
	}
	return out, nil
}

// SecretShown stands for the value of a secret setting that is set.
const SecretShown = "(set)"

// SetSetting checks value against the setting's type and stores it. A
// running server applies a live setting before it returns; when it could
// not, the error wraps ErrNotApplied (the value stays stored). restart
// reports that this one needs a restart.
func (l *Local) SetSetting(ctx context.Context, key, value string) (restart bool, err error) {
	v, err := CheckSetting(key, value)
	if err != nil {
		return false, fmt.Errorf("set %w", err)
	}
	if err := l.DB.SetSetting(ctx, key, v); err != nil {
		return false, err
	}
	if l.Live != nil {
		err = l.Live.SettingChanged(ctx, key)
	} else if key == settings.KeyFamilyCircle && v == "false" {
		// Off forgets whom the circle took in, as a running server's
		// does: on again, at the next start, pairs everyone anew.
		err = l.DB.ClearFamilyCircle(ctx)
	}
	l.Events.Publish(Event{Kind: EventSettings, Key: key})
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrNotApplied, err)
	}
	s, _ := settings.Lookup(key)
	return !s.Live, nil
}

// Values returns the stored settings, read through the registry.
func (l *Local) Values(ctx context.Context) (settings.Values, error) {
	stored, err := l.DB.Settings(ctx)
	if err != nil {
		return nil, err
	}
	return settings.Values(stored), nil
}

// Setting returns the value of a known setting, or its default when it was
// never set. An unknown key is ErrInvalid.
func (l *Local) Setting(ctx context.Context, key string) (string, error) {
	s, ok := settings.Lookup(key)
	if !ok {
		return "", invalidf("setting %s: unknown setting", key)
	}
	v, err := l.DB.Setting(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return s.Default, nil
	}
	return v, err
}

// TestFederation tests federation with domain, through the running server.
func (l *Local) TestFederation(ctx context.Context, domain string) ([]FederationStep, error) {
	j, err := jid.Parse(strings.TrimSpace(domain))
	if err != nil || !j.IsDomain() {
		return nil, invalidf("test federation: %q is not a domain name such as example.org", domain)
	}
	if l.Live == nil {
		return nil, fmt.Errorf("test federation with %s: %w: the test runs in the server (with its certificates, and the port other servers call back on); start Hearth first", j.Domain, ErrOffline)
	}
	return l.Live.TestFederation(ctx, j.Domain), nil
}

// CheckDatabase runs the database's quick check.
func (l *Local) CheckDatabase(ctx context.Context) ([]string, error) {
	return l.DB.QuickCheck(ctx)
}

// Watch delivers the events of Events until ctx is done.
func (l *Local) Watch(ctx context.Context) <-chan Event {
	if l.Events == nil {
		ch := make(chan Event)
		context.AfterFunc(ctx, func() { close(ch) })
		return ch
	}
	return l.Events.Subscribe(ctx)
}
