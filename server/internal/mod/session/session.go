// Package session answers the session establishment request of RFC 3921
// 3, which RFC 6120 dropped: clients such as mcabber and sendxmpp still
// send it after binding, and the stream features offer it as optional
// (RFC 6121 Appendix E), so it gets an empty result, as on the stream
// before binding.
package session

import (
	"context"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Module answers session requests.
type Module struct{}

// New returns the module.
func New() *Module { return &Module{} }

// Register installs the handler for the request, which clients send to
// the server or without 'to' (their own account).
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"set"}, Target: router.ToServer | router.ToAccount, Name: "session", NS: stanza.NSSession}, m.handle)
}

func (m *Module) handle(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.To.Local != "" && st.From.Bare() != st.To {
		// Another account's session is not the sender's to open.
		return nil, stanza.ErrForbidden()
	}
	return nil, nil
}
