// Package ping implements XEP-0199: XMPP Ping.
//
// The server answers pings addressed to itself and, on behalf of the account
// (RFC 6121 8.5.2.1.3), pings addressed to a local account's bare JID. Pings
// to a full JID are delivered to that client by the router.
package ping

import (
	"context"
	"log/slog"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Visibility is the one rule of who may see an account's presence
// (roster.Module.MaySee).
type Visibility interface {
	MaySee(ctx context.Context, user string, contact jid.JID) (bool, error)
}

// Deps are what the module needs.
type Deps struct {
	// Visibility decides who the server answers for an account.
	Visibility Visibility
	Log        *slog.Logger
}

// Module answers XEP-0199 pings.
type Module struct {
	vis Visibility
	log *slog.Logger
}

// New returns the ping module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{vis: d.Visibility, log: d.Log}
}

// Register installs the handler: XEP-0199 defines only a get, to the
// server or to a bare JID.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer | router.ToAccount, Name: "ping", NS: stanza.NSPing}, m.handle)
}

// Features returns the disco#info features of the module (XEP-0199 5).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSPing}}
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.To.Local == "" {
		// XEP-0199 4.2 (client-to-server) and 4.3 (server-to-server).
		return nil, nil
	}
	// XEP-0199 4.2: a client's ping to its own bare JID is a ping of the
	// server; 4.4: a ping to a bare JID is answered by the server on
	// behalf of the account, here to those who may see the account's
	// presence. Anyone else gets service-unavailable, as for an account
	// that does not exist (RFC 6121 8.5.1): a ping must not tell a
	// stranger which accounts exist.
	ok, err := m.vis.MaySee(ctx, st.To.Local, st.From)
	switch {
	case err != nil:
		m.log.Warn("ping: roster lookup failed", "user", st.To.Local, "err", err)
		return nil, stanza.ErrInternal()
	case !ok:
		return nil, stanza.ErrServiceUnavailable()
	}
	return nil, nil
}
