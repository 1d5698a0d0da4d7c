// Package push implements XEP-0357: Push Notifications. A phone's client
// registers its push service (the app server that wakes the phone through
// Apple's or Google's push) with a node; when a message comes for the
// account while that device is away (no session, or a session held for
// resumption, XEP-0198) or goes to offline storage, the server publishes a
// notification to that node, in the account's name, over federation like
// any stanza. A push service that refuses a notification turns its
// registration off (XEP-0357 7); one that is only slow or unreachable
// keeps it.
package push

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/tasks"
	"hearth/storage"
)

// Namespaces.
const (
	NS               = "urn:xmpp:push:0"
	NSSummary        = "urn:xmpp:push:summary"
	NSPubSub         = "http://jabber.org/protocol/pubsub"
	NSPublishOptions = "http://jabber.org/protocol/pubsub#publish-options"
)

// Limits.
const (
	// MaxRegistrations bounds an account's registrations (devices).
	MaxRegistrations = 20
	// MaxOptionsBytes bounds the publish-options form a device gives.
	MaxOptionsBytes = 4 << 10
	// Timeout is how long a push service has to answer a notification.
	Timeout = 30 * time.Second
	// maxInFlight bounds the notifications under way at once, for all
	// accounts: past it a notification is dropped and logged.
	maxInFlight = 256
)

// What a notification tells the push service besides the count of
// messages (setting push.content): the sender, or the sender and the
// text. The service is someone else's computer, and Apple's or Google's
// behind it: by default it learns only that something came.
const (
	ContentCount  = "count"
	ContentSender = "sender"
	ContentBody   = "body"
)

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router
	Domain string
	// Content is the setting push.content (ContentCount when "").
	Content string
	Log     *slog.Logger
}

// Module keeps the registrations and sends the notifications.
type Module struct {
	db     *storage.DB
	r      *router.Router
	domain string
	log    *slog.Logger

	content atomic.Pointer[string]
	sem     chan struct{}
	tasks   *tasks.Group // the notifications under way

	loaded atomic.Bool
	any    atomic.Int64 // accounts with registrations: none, and a message costs one load
	mu     sync.Mutex
	regs   map[string][]*registration // by account, only those with some
}

// registration is a device's registration and what the server has told
// its push service since the device was last seen connected.
type registration struct {
	storage.Push
	count int
}

// New returns the push module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{db: d.DB, r: d.Router, domain: d.Domain, log: d.Log, sem: make(chan struct{}, maxInFlight),
		regs: map[string][]*registration{}}
	m.tasks = tasks.New()
	m.SetContent(d.Content)
	return m
}

// SetContent sets what notifications carry (push.content).
func (m *Module) SetContent(c string) {
	if c != ContentSender && c != ContentBody {
		c = ContentCount
	}
	m.content.Store(&c)
}

// Register installs enable and disable (XEP-0357 5, sent to the account's
// own bare JID) and the observer of messages to accounts.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToAccount, Name: "enable", NS: NS}, m.enable)
	mux.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToAccount, Name: "disable", NS: NS}, m.disable)
	mux.ObserveInbound(m)
}

// Features advertises push on accounts (XEP-0357 4).
func (m *Module) Features() router.Features {
	return router.Features{Account: []string{NS}}
}

// UserRemoved forgets a deleted account's registrations (the database
// deletes its rows).
func (m *Module) UserRemoved(_ context.Context, user string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setLocked(user, nil)
}

// Close stops the notifications under way and waits for them.
func (m *Module) Close() { m.tasks.Close() }

// setLocked replaces an account's registrations; m.mu is held.
func (m *Module) setLocked(user string, regs []*registration) {
	_, had := m.regs[user]
	switch {
	case len(regs) == 0 && had:
		delete(m.regs, user)
		m.any.Add(-1)
	case len(regs) > 0:
		if !had {
			m.any.Add(1)
		}
		m.regs[user] = regs
	}
}

// load reads every registration once; m.mu is held.
func (m *Module) loadLocked(ctx context.Context) error {
	if m.loaded.Load() {
		return nil
	}
	users, err := m.db.PushUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		ps, err := m.db.Pushes(ctx, u)
		if err != nil {
			return err
		}
		regs := make([]*registration, len(ps))
		for i, p := range ps {
			regs[i] = &registration{Push: p}
		}
		m.setLocked(u, regs)
	}
	m.loaded.Store(true)
	return nil
}

// reload rereads an account's registrations after a change; m.mu is
// held.
func (m *Module) reloadLocked(ctx context.Context, user string) error {
	ps, err := m.db.Pushes(ctx, user)
	if err != nil {
		return err
	}
	old := map[[2]string]int{}
	for _, r := range m.regs[user] {
		old[[2]string{r.Service, r.Node}] = r.count
	}
	regs := make([]*registration, len(ps))
	for i, p := range ps {
		regs[i] = &registration{Push: p, count: old[[2]string{p.Service, p.Node}]}
	}
	m.setLocked(user, regs)
	return nil
}

var errNotSaved = stanza.NewError(stanza.Wait, stanza.InternalServerError, "the server could not save the push registration; try again later")

// request checks that an enable or disable comes from a session of the
// account itself and returns it with the push service it names.
func request(st *stanza.Stanza) (*stanza.Element, jid.JID, *stanza.Error) {
	if st.To.Local != st.From.Local || st.From.Resource == "" {
		return nil, jid.JID{}, stanza.NewError(stanza.Cancel, stanza.NotAllowed, "push notifications are turned on and off by the device itself")
	}
	p := st.Payload()
	svc, err := jid.Parse(p.Attr("jid"))
	if err != nil || svc.IsZero() {
		return nil, jid.JID{}, stanza.ErrBadRequest("'jid' must be the address of the push service")
	}
	return p, svc, nil
}

// enable records a device's registration (XEP-0357 5).
func (m *Module) enable(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	p, svc, e := request(st)
	if e != nil {
		return nil, e
	}
	node := p.Attr("node")
	if node == "" {
		return nil, stanza.ErrBadRequest("'node' must name the push service's node for this device")
	}
	var options []byte
	if x := p.Child("x", stanza.NSDataForms); x != nil {
		if x.Attr("type") != "submit" || formType(x) != NSPublishOptions {
			return nil, stanza.ErrBadRequest("the form must be a submitted form of type " + NSPublishOptions)
		}
		options = x.Bytes()
		if len(options) > MaxOptionsBytes {
			return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "the publish options are larger than "+strconv.Itoa(MaxOptionsBytes)+" bytes")
		}
	}
	user := st.From.Local
	reg := storage.Push{Service: svc.String(), Node: node, Resource: st.From.Resource, Options: options, Created: time.Now()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.loadLocked(ctx); err != nil {
		m.log.Error("push registration not saved: registrations could not be read", "user", user, "err", err)
		return nil, errNotSaved
	}
	switch err := m.db.AddPush(ctx, user, reg, MaxRegistrations); {
	case errors.Is(err, storage.ErrQuota):
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
			"this account has "+strconv.Itoa(MaxRegistrations)+" devices registered for push notifications, the most this server keeps; turn them off on a device you no longer use")
	case err != nil:
		m.log.Error("push registration not saved", "user", user, "err", err)
		return nil, errNotSaved
	}
	if err := m.reloadLocked(ctx, user); err != nil {
		m.log.Warn("push registrations not reread", "user", user, "err", err)
	}
	for _, r := range m.regs[user] {
		if r.Service == reg.Service && r.Node == reg.Node {
			r.count = 0 // the device is here: it has what came
		}
	}
	m.log.Info("push notifications on", "user", user, "device", st.From.Resource, "service", reg.Service)
	return nil, nil
}

// disable removes a registration, or all those with a service (XEP-0357 6).
func (m *Module) disable(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	p, svc, e := request(st)
	if e != nil {
		return nil, e
	}
	user := st.From.Local
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.loadLocked(ctx); err != nil {
		m.log.Error("push registration not removed: registrations could not be read", "user", user, "err", err)
		return nil, errNotSaved
	}
	if _, err := m.db.RemovePush(ctx, user, svc.String(), p.Attr("node")); err != nil {
		m.log.Error("push registration not removed", "user", user, "err", err)
		return nil, errNotSaved
	}
	if err := m.reloadLocked(ctx, user); err != nil {
		m.log.Warn("push registrations not reread", "user", user, "err", err)
	}
	m.log.Info("push notifications off", "user", user, "device", st.From.Resource, "service", svc.String())
	return nil, nil
}

// formType returns a data form's FORM_TYPE.
func formType(x *stanza.Element) string {
	for _, f := range x.Elements() {
		if f.Name == "field" && f.Attr("var") == "FORM_TYPE" {
			return f.ChildText("value", stanza.NSDataForms)
		}
	}
	return ""
}
