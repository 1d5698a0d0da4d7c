// Package clock implements XEP-0202: Entity Time, for the server itself.
package clock

import (
	"context"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Module answers entity time queries sent to the server.
type Module struct {
	// Location is the time zone whose offset is reported in <tzo/>; nil
	// means the server's local zone. (XEP-0202 Security Considerations:
	// the offset hints at where the server is; set time.UTC to hide it.)
	Location *time.Location

	now func() time.Time
}

// New returns the entity time module.
func New() *Module { return &Module{now: time.Now} }

// Register installs the handler. An account's time is its clients' to
// tell, from their full JIDs: a query to a bare JID gets
// service-unavailable from the router.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Types: []string{"get"}, Target: router.ToServer, Name: "time", NS: stanza.NSTime}, m.handle)
}

// Features returns the disco#info features of the module.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSTime}}
}

func (m *Module) handle(_ context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	now := m.now()
	loc := m.Location
	if loc == nil {
		loc = time.Local
	}
	// XEP-0202 2: <tzo/> is a XEP-0082 TZD ("+01:00", "+00:00" for UTC,
	// never "Z") and <utc/> a XEP-0082 dateTime in UTC.
	t := stanza.New("time", stanza.NSTime)
	t.Append(stanza.New("tzo", stanza.NSTime).AppendText(now.In(loc).Format("-07:00")))
	t.Append(stanza.New("utc", stanza.NSTime).AppendText(now.UTC().Format("2006-01-02T15:04:05.000Z")))
	return t, nil
}
