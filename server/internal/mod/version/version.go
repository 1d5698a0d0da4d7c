// Package version implements XEP-0092: Software Version, for the server
// itself.
//
// The answer names the software and its version but, unless OS is set, not
// the operating system: XEP-0092 5 notes that revealing it helps attackers,
// and a home server has no reason to.
package version

import (
	"context"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Name is the software name the server reports.
const Name = "Hearth"

// Module answers software version queries sent to the server.
type Module struct {
	version string
	// OS, if not empty, is reported in <os/> (XEP-0092 2: optional).
	OS string
}

// New returns the module reporting version.
func New(version string) *Module { return &Module{version: version} }

// Register installs the handler. The software of an account is its
// clients' business: a query to a bare JID is not answered on the
// account's behalf (RFC 6121 8.5.2.1.3 lets the server refuse it with
// service-unavailable, which the router does).
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer, Name: "query", NS: stanza.NSVersion}, m.handle)
}

// Features returns the disco#info features of the module (XEP-0092 4).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSVersion}}
}

func (m *Module) handle(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := stanza.New("query", stanza.NSVersion)
	q.Append(stanza.New("name", stanza.NSVersion).AppendText(Name))
	q.Append(stanza.New("version", stanza.NSVersion).AppendText(m.version))
	if m.OS != "" {
		q.Append(stanza.New("os", stanza.NSVersion).AppendText(m.OS))
	}
	return q, nil
}
