// Package ping implements XEP-0199: XMPP Ping.
//
// The server answers pings addressed to itself and, on behalf of the account
// (RFC 6121 8.5.2.1.3), pings addressed to a local account's bare JID. Pings
// to a full JID are delivered to that client by the router.
package ping

import (
	"context"
	"log/slog"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Module answers XEP-0199 pings.
type Module struct {
	db  *storage.DB
	log *slog.Logger
}

// New returns the ping module; db tells which accounts exist.
func New(db *storage.DB, log *slog.Logger) *Module {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Module{db: db, log: log}
}

// Register installs the handler on r.
func (m *Module) Register(r *router.Router) {
	r.HandleIQ(stanza.NSPing, m.handle)
}

// Features returns the disco#info features of the module (XEP-0199 5).
func (m *Module) Features() []string { return []string{stanza.NSPing} }

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if p := st.Payload(); p.Name != "ping" {
		return nil, stanza.ErrServiceUnavailable()
	}
	// XEP-0199 defines only a get.
	if st.Type != "get" {
		return nil, stanza.ErrNotAllowed()
	}
	if st.To.Local == "" {
		// XEP-0199 4.2 (client-to-server) and 4.3 (server-to-server).
		return nil, nil
	}
	// XEP-0199 4.2: a client's ping to its own bare JID is a ping of the
	// server; 4.4: a ping to any bare JID is answered by the server on
	// behalf of the account. An account that does not exist gets
	// service-unavailable (RFC 6121 8.5.1).
	if st.From.Bare() == st.To {
		return nil, nil
	}
	ok, err := m.db.UserExists(ctx, st.To.Local)
	switch {
	case err != nil:
		m.log.Warn("ping: account lookup failed", "user", st.To.Local, "err", err)
		return nil, stanza.ErrInternal()
	case !ok:
		return nil, stanza.ErrServiceUnavailable()
	}
	return nil, nil
}
