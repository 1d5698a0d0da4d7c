// Package roster implements roster management (RFC 6121 2) and the
// presence subscription state machine (RFC 6121 3 and Appendix A): roster
// get with versioning, set and remove, pushes to interested resources, and
// the state changes for subscribe, subscribed, unsubscribe and unsubscribed
// in both directions, with pre-approval (RFC 6121 3.4).
package roster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"hearth/server/internal/c2s"
	"hearth/server/internal/jid"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Events is told about roster changes (the admin window follows them).
type Events interface {
	RosterChanged(user string)
}

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router
	Events Events        // may be nil
	Quota  *quota.Limits // nil: the defaults
	Log    *slog.Logger
}

// Module owns rosters.
type Module struct {
	db     *storage.DB
	r      *router.Router
	events Events
	quota  *quota.Limits
	log    *slog.Logger
}

// New returns the roster module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	return &Module{db: d.DB, r: d.Router, events: d.Events, quota: d.Quota, log: d.Log}
}

// ErrFull is a roster at its quota (limits.roster_items).
var ErrFull = errors.New("roster full")

// room checks that contact, if not on the user's roster yet, fits in it.
func (m *Module) room(ctx context.Context, user, contact string) error {
	if _, err := m.db.RosterItem(ctx, user, contact); !errors.Is(err, storage.ErrNotFound) {
		return nil // there, or not readable: the write will say
	}
	n, err := m.db.RosterSize(ctx, user)
	if err != nil {
		return err
	}
	if max := m.quota.RosterItems.Load(); int64(n) >= max {
		return fmt.Errorf("%w: %s has %d contacts, the most this server keeps; remove some first: %w", ErrFull, user, n, storage.ErrQuota)
	}
	return nil
}

// full is the stanza error for a full roster.
func (m *Module) full() *stanza.Error {
	return quota.Full("roster", m.quota.RosterItems.Load(), "contacts")
}

// Features returns the disco features of rosters.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSRosterVer, stanza.NSPreApproval}}
}

// StreamFeatures are advertised after authentication (RFC 6121 2.6.1, 3.4.1).
func (m *Module) StreamFeatures() []c2s.Feature {
	return []c2s.Feature{
		{Stage: c2s.AfterAuth, Element: stanza.New("ver", stanza.NSRosterVer)},
		{Stage: c2s.AfterAuth, Element: stanza.New("sub", stanza.NSPreApproval)},
	}
}

// Register installs the roster IQ handler, for every element of the
// roster namespace: a roster request sent anywhere but to the account
// itself is forbidden (RFC 6121 2.1.5) whatever it holds.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get", "set"}, Target: router.ToServer | router.ToAccount, NS: stanza.NSRoster}, m.handle)
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	// RFC 6121 2.1.5: only the account itself may touch its roster.
	if st.To != st.From.Bare() {
		return nil, stanza.ErrForbidden()
	}
	user := st.From.Local
	q := st.Payload()
	if q.Name != "query" {
		return nil, stanza.ErrBadRequest("")
	}
	if st.Type == "get" {
		return m.get(ctx, st, user, q)
	}
	return nil, m.set(ctx, st, user, q)
}

func (m *Module) get(ctx context.Context, st *stanza.Stanza, user string, q *stanza.Element) (*stanza.Element, *stanza.Error) {
	if s := m.r.Session(st.From); s != nil {
		s.Want(router.PushRoster)
	}
	items, ver, err := m.db.Roster(ctx, user)
	if err != nil {
		m.log.Error("roster get", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	v := strconv.FormatInt(ver, 10)
	// RFC 6121 2.6.3: an up-to-date cached roster gets an empty result.
	if cv := q.Attr("ver"); cv != "" && cv == v {
		return nil, nil
	}
	res := stanza.New("query", stanza.NSRoster, "ver", v)
	for _, it := range items {
		res.Append(itemElement(it))
	}
	return res, nil
}

// itemElement renders a stored item (RFC 6121 2.1.2).
func itemElement(it storage.RosterItem) *stanza.Element {
	el := stanza.New("item", stanza.NSRoster, "jid", it.Contact, "name", it.Name, "subscription", it.Subscription)
	if it.Ask {
		el.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		el.SetAttr("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(stanza.New("group", stanza.NSRoster).AppendText(g))
	}
	return el
}

func (m *Module) set(ctx context.Context, st *stanza.Stanza, user string, q *stanza.Element) *stanza.Error {
	items := q.Elements()
	// RFC 6121 2.3.3: exactly one item.
	if len(items) != 1 || items[0].Name != "item" {
		return stanza.ErrBadRequest("a roster set has exactly one item")
	}
	el := items[0]
	contact, err := jid.Parse(el.Attr("jid"))
	if err != nil {
		return stanza.NewError(stanza.Modify, stanza.JIDMalformed, "")
	}
	contact = contact.Bare()
	if contact == st.From.Bare() {
		return stanza.NewError(stanza.Modify, stanza.NotAllowed, "you are always subscribed to yourself")
	}
	if el.Attr("subscription") == "remove" {
		return m.remove(ctx, user, contact)
	}
	if s := el.Attr("subscription"); s != "" && s != "none" && s != "to" && s != "from" && s != "both" {
		return stanza.ErrBadRequest("invalid subscription")
	}
	var groups []string
	seen := map[string]bool{}
	for _, g := range el.Children {
		if g.Name != "group" {
			continue
		}
		name := g.Content()
		if name == "" {
			return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "empty group name")
		}
		if seen[name] {
			return stanza.ErrBadRequest("duplicate group")
		}
		if len(name) > 1024 {
			return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "group name too long")
		}
		seen[name] = true
		groups = append(groups, name)
	}
	if len(el.Attr("name")) > 1024 {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "name too long")
	}
	if err := m.Label(ctx, user, contact.String(), el.Attr("name"), groups); err != nil {
		if errors.Is(err, ErrFull) {
			return m.full()
		}
		m.log.Error("roster set", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	return nil
}

// Label sets a contact's name and groups, adding the contact if needed;
// the subscription is the server's alone (RFC 6121 2.1.2). The change is
// pushed to the account's interested sessions.
func (m *Module) Label(ctx context.Context, user, contact, name string, groups []string) error {
	if err := m.room(ctx, user, contact); err != nil {
		return err
	}
	it, ver, err := m.db.LabelRosterItem(ctx, user, contact, name, groups)
	if err != nil {
		return err
	}
	m.push(ctx, user, it, ver)
	return nil
}

// remove deletes a contact and cancels subscriptions both ways (RFC 6121 2.5.2).
func (m *Module) remove(ctx context.Context, user string, contact jid.JID) *stanza.Error {
	st, err := m.load(ctx, user, contact)
	if err != nil {
		return stanza.ErrInternal()
	}
	if !st.exists {
		return stanza.ErrItemNotFound()
	}
	from := jid.JID{Local: user, Domain: m.r.Domain}
	if st.to() || st.item.Ask {
		m.route(ctx, from, contact, "unsubscribe")
	}
	if st.from() || st.pendingIn {
		m.route(ctx, from, contact, "unsubscribed")
	}
	_ = m.db.DeletePending(ctx, user, contact.String())
	ver, err := m.db.DeleteRosterItem(ctx, user, contact.String())
	if err != nil {
		return stanza.ErrInternal()
	}
	m.push(ctx, user, storage.RosterItem{Contact: contact.String(), Subscription: "remove"}, ver)
	return nil
}

// Put stores an item and pushes it to the account's interested sessions.
func (m *Module) Put(ctx context.Context, user string, it storage.RosterItem) error {
	ver, err := m.db.PutRosterItem(ctx, user, it)
	if err != nil {
		return fmt.Errorf("roster put %s: %w", user, err)
	}
	m.push(ctx, user, it, ver)
	return nil
}

// Remove deletes an item as the account would (admin use).
func (m *Module) Remove(ctx context.Context, user string, contact jid.JID) error {
	if e := m.remove(ctx, user, contact); e != nil {
		if e.Condition == stanza.ItemNotFound {
			return storage.ErrNotFound
		}
		return e
	}
	return nil
}

// push sends a roster push (RFC 6121 2.1.6) to every interested session.
func (m *Module) push(ctx context.Context, user string, it storage.RosterItem, ver int64) {
	q := stanza.New("query", stanza.NSRoster, "ver", strconv.FormatInt(ver, 10)).Append(itemElement(it))
	for _, s := range m.r.Sessions(user) {
		if !s.Wants(router.PushRoster) {
			continue
		}
		iq := stanza.New("iq", stanza.NSClient, "type", "set", "id", "push"+strconv.FormatInt(ver, 10), "to", s.JID.String()).Append(q)
		m.r.Deliver(ctx, s, iq)
	}
	if m.events != nil {
		m.events.RosterChanged(user)
	}
}

func (m *Module) route(ctx context.Context, from, to jid.JID, typ string) {
	el := stanza.New("presence", stanza.NSClient, "from", from.String(), "to", to.String(), "type", typ)
	m.r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindPresence, From: from, To: to, Type: typ})
}
