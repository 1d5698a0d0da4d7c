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
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Module answers last activity queries.
type Module struct {
	db      *storage.DB
	r       *router.Router
	log     *slog.Logger
	started time.Time
	now     func() time.Time
}

// New returns the module; started is when the server started (for uptime).
func New(db *storage.DB, started time.Time, log *slog.Logger) *Module {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: db, log: log, started: started, now: time.Now}
}

// Register installs the handler on r; the module asks r whether an account
// has an available session.
func (m *Module) Register(r *router.Router) {
	m.r = r
	r.HandleIQ(stanza.NSLast, m.handle)
}

// Features returns the disco#info features of the module (XEP-0012 6).
func (m *Module) Features() []string { return []string{stanza.NSLast} }

// Logout records that the last session of user ended now with the status
// text of its unavailable presence. The presence module calls it when an
// account's last available session goes.
func (m *Module) Logout(ctx context.Context, user string, status string) {
	if err := m.db.SetLastActivity(ctx, user, m.now(), status); err != nil {
		// A deleted account has nothing left to record.
		if !errors.Is(err, storage.ErrNotFound) {
			m.log.Warn("last activity not recorded", "user", user, "err", err)
		}
	}
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.Payload().Name != "query" {
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.Type != "get" {
		return nil, stanza.ErrNotAllowed()
	}
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
	if m.r != nil {
		for _, s := range m.r.Sessions(user) {
			if s.Available() {
				return query(0, ""), nil
			}
		}
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
// allowed to see its presence (a subscription from or both on the
// account's roster, RFC 6121 3) may learn its last activity; anyone else
// gets forbidden. An account that does not exist gets service-unavailable
// (RFC 6121 8.5.1).
func (m *Module) authorize(ctx context.Context, user string, st *stanza.Stanza) *stanza.Error {
	if st.From.Bare() == st.To {
		return nil
	}
	it, err := m.db.RosterItem(ctx, user, st.From.Bare().String())
	switch {
	case err == nil:
		if it.Subscription == "from" || it.Subscription == "both" {
			return nil
		}
	case !errors.Is(err, storage.ErrNotFound):
		m.log.Warn("roster lookup failed", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	exists, err := m.db.UserExists(ctx, user)
	switch {
	case err != nil:
		m.log.Warn("account lookup failed", "user", user, "err", err)
		return stanza.ErrInternal()
	case !exists:
		return stanza.ErrServiceUnavailable()
	}
	return stanza.ErrForbidden()
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
