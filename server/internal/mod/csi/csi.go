// Package csi implements XEP-0352: Client State Indication. A client (a
// phone with its screen off) says it is inactive; until it is active
// again, its stream holds presence updates (the latest of each contact)
// and chat states, and sends everything else at once, after what it held.
// Fewer wake-ups, less radio, less battery.
package csi

import (
	"context"

	"hearth/server/internal/c2s"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// NS is the namespace of XEP-0352.
const NS = "urn:xmpp:csi:0"

// Module offers the stream feature and handles <active/> and <inactive/>.
type Module struct{}

// New returns the CSI module.
func New() *Module { return &Module{} }

// Register has nothing to install on the router: CSI is a stream's
// business (see StreamElements).
func (m *Module) Register(*router.Mux) {}

// Features: XEP-0352 is a stream feature, not a disco feature.
func (m *Module) Features() router.Features { return router.Features{} }

// StreamFeatures offers <csi/> after authentication (XEP-0352 4).
func (m *Module) StreamFeatures() []c2s.Feature {
	return []c2s.Feature{{Stage: c2s.AfterAuth, Element: stanza.New("csi", NS)}}
}

// BindInlines lets a client begin its session inactive (or active) in
// its Bind 2 request (XEP-0386 2.2).
func (m *Module) BindInlines() []c2s.Inline {
	return []c2s.Inline{{NS: NS, Handle: func(_ context.Context, s *c2s.Stream, el *stanza.Element) *stanza.Element {
		switch el.Name {
		case "active":
			s.SetActive(true)
		case "inactive":
			s.SetActive(false)
		}
		return nil
	}}}
}

// StreamElements handles the client's state changes.
func (m *Module) StreamElements() []c2s.Element {
	set := func(active bool) c2s.ElementHandler {
		return func(_ context.Context, s *c2s.Stream, _ *stanza.Element) error {
			s.SetActive(active)
			return nil
		}
	}
	return []c2s.Element{
		{Name: "active", NS: NS, Handle: set(true)},
		{Name: "inactive", NS: NS, Handle: set(false)},
	}
}
