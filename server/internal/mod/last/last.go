// Package last implements XEP-0012: Last Activity.
//
// Sent to the server, a query returns the server's uptime (XEP-0012 5).
// Sent to an account's bare JID, the server answers on the account's behalf
// (XEP-0012 3) with the time since its last session ended and the status it
// ended with, which the presence module records through Logout.
package last

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Visibility is the one rule of who may see an account's presence
// (roster.Module.MaySee).
type Visibility interface {
	MaySee(ctx context.Context, user string, contact jid.JID) (bool, error)
}

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router // which accounts have an available session
	// Visibility decides who may learn an account's last activity.
	Visibility Visibility
	// Started is when the server started (its uptime, XEP-0012 5).
	Started time.Time
	Log     *slog.Logger
}

// Module answers last activity queries.
type Module struct {
	db      *storage.DB
	r       *router.Router
	vis     Visibility
	log     *slog.Logger
	started time.Time
	now     func() time.Time

	// unsaved are logouts whose write has not committed yet: a query
	// answers from them meanwhile.
	mu      sync.Mutex
	unsaved map[string]logout
}

type logout struct {
	at     time.Time
	status string
}

// New returns the module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: d.DB, r: d.Router, vis: d.Visibility, log: d.Log, started: d.Started, now: time.Now,
		unsaved: make(map[string]logout)}
}

// Register installs the handler: a get, to the server or a bare JID.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer | router.ToAccount, Name: "query", NS: stanza.NSLast}, m.handle)
}

// Features returns the disco#info features of the module (XEP-0012 6).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSLast}}
}

// Logout records that the last session of user ended now with the status
// text of its unavailable presence. The presence module calls it when an
// account's last available session goes. The write joins the next group
// commit and Logout does not wait for it: ten thousand sessions ending
// together (a restart) make a few commits, not ten thousand.
func (m *Module) Logout(_ context.Context, user string, status string) {
	l := logout{at: m.now(), status: status}
	m.mu.Lock()
	m.unsaved[user] = l
	m.mu.Unlock()
	m.db.QueueLastActivity(user, l.at, status, func(_ int64, err error) {
		m.mu.Lock()
		if m.unsaved[user] == l {
			delete(m.unsaved, user)
		}
		m.mu.Unlock()
		// A deleted account has nothing left to record.
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Warn("last activity not recorded", "user", user, "err", err)
		}
	})
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.To.Local == "" {
		// XEP-0012 5: the uptime of the server, with no character data.
		return query(m.now().Sub(m.started), ""), nil
	}
	user := st.To.Local
	if e := m.authorize(ctx, user, st); e != nil {
		return nil, e
	}
	// XEP-0012 3: an account with an available resource was last active
	// now.
	for _, s := range m.r.Sessions(user) {
		if s.Available() {
			return query(0, ""), nil
		}
	}
	m.mu.Lock()
	l, ok := m.unsaved[user]
	m.mu.Unlock()
	if ok {
		return query(m.now().Sub(l.at), l.status), nil
	}
	at, status, err := m.db.LastActivity(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		// The account never ended a session (or it was never recorded):
		// there is no last activity to report.
		return nil, stanza.ErrItemNotFound()
	}
	if err != nil {
		m.log.Warn("last activity lookup failed", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	return query(m.now().Sub(at), status), nil
}

// authorize applies XEP-0012 3 and 8: only the account itself and those
// allowed to see its presence (Visibility) may learn its last activity.
// Anyone else gets service-unavailable, the answer for an account that
// does not exist (RFC 6121 8.5.1), so that nobody can learn which accounts
// exist by asking (XEP-0012's forbidden would tell them).
func (m *Module) authorize(ctx context.Context, user string, st *stanza.Stanza) *stanza.Error {
	ok, err := m.vis.MaySee(ctx, user, st.From)
	switch {
	case err != nil:
		m.log.Warn("roster lookup failed", "user", user, "err", err)
		return stanza.ErrInternal()
	case !ok:
		return stanza.ErrServiceUnavailable()
	}
	return nil
}

// query builds the result: seconds is required (XEP-0012 2), the status
// text optional.
func query(d time.Duration, status string) *stanza.Element {
	secs := int64(d / time.Second)
	if secs < 0 {
		secs = 0 // a clock that went backwards
	}
	return stanza.New("query", stanza.NSLast, "seconds", strconv.FormatInt(secs, 10)).AppendText(status)
}
