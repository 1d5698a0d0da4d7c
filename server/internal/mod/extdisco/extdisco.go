// Package extdisco implements XEP-0215: External Service Discovery, for
// the server's own STUN and TURN services (server/internal/turn): a
// client asks the server which services it may use for calls, and gets
// them with short-lived TURN credentials made for its account.
package extdisco

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// NS is XEP-0215's namespace.
const NS = "urn:xmpp:extdisco:2"

// Service is one external service (XEP-0215 2, the <service/> element).
type Service struct {
	Type      string // stun, turn, turns
	Host      string
	Port      int
	Transport string // udp, tcp
	// Restricted services need credentials: Username and Password, valid
	// until Expires.
	Restricted         bool
	Username, Password string
	Expires            time.Time
}

// Services are the services a server offers.
type Services interface {
	// Running says whether there are any (the TURN server runs).
	Running() bool
	// For lists the services for the account bareJID, with credentials
	// made for it.
	For(bareJID string) []Service
}

// Deps is what the module needs.
type Deps struct {
	Domain   string
	Services Services
	Log      *slog.Logger
}

// Module answers XEP-0215 requests to the server.
type Module struct {
	domain   string
	services Services
	log      *slog.Logger
}

// New returns the module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Module{domain: d.Domain, services: d.Services, log: d.Log}
}

// Register installs the handlers: both requests are gets to the server.
func (m *Module) Register(mux *router.Mux) {
	for _, name := range []string{"services", "credentials"} {
		mux.HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer, Name: name, NS: NS}, m.handle)
	}
}

// Features returns the disco#info feature (XEP-0215 6), claimed only
// while the services run.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{NS}, On: m.services.Running}
}

func (m *Module) handle(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	// XEP-0215 3.1: a server MAY restrict its services to its own users;
	// Hearth's relays are for its accounts alone.
	if st.From.Domain != m.domain || st.From.Local == "" {
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "these services are for accounts of this server")
	}
	if !m.services.Running() {
		return nil, stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "the server's STUN/TURN service is not running")
	}
	req, e := parseRequest(st.El.FirstElement())
	if e != nil {
		return nil, e
	}
	all := m.services.For(st.From.Bare().String())
	out := stanza.New(req.name, NS)
	if req.name == "services" && req.typ != "" {
		// XEP-0215 3.2: the answer names the type asked for.
		out.SetAttr("type", req.typ)
	}
	for _, s := range all {
		if req.match(s) {
			out.Append(element(s))
		}
	}
	// XEP-0215 3.3: credentials for a service the server does not know.
	if req.name == "credentials" && len(out.Elements()) == 0 {
		return nil, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "no such service here")
	}
	return out, nil
}

// element is a service as XEP-0215 2 writes it.
func element(s Service) *stanza.Element {
	el := stanza.New("service", NS, "type", s.Type, "host", s.Host, "port", strconv.Itoa(s.Port))
	if s.Transport != "" {
		el.SetAttr("transport", s.Transport)
	}
	if s.Restricted {
		el.SetAttr("restricted", "1")
		el.SetAttr("username", s.Username)
		el.SetAttr("password", s.Password)
		el.SetAttr("expires", s.Expires.UTC().Format(time.RFC3339))
	}
	return el
}
