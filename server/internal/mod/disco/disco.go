// Package disco implements XEP-0030: Service Discovery for the server and
// for accounts' bare JIDs, with the server's contact addresses as a
// XEP-0128 extended form (XEP-0157: Contact Addresses for XMPP Services).
package disco

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Name is the server identity's name.
const Name = "Hearth"

// Item is one disco#items entry (XEP-0030 4.1).
type Item struct {
	JID  jid.JID
	Node string // optional
	Name string // optional
}

// Module answers disco#info and disco#items.
type Module struct {
	// Items, if set, lists the server's items (components, services) for
	// the requester; nil means none.
	Items func(ctx context.Context, from jid.JID) []Item
	// AccountFeatures are features of accounts' bare JIDs beyond the disco
	// ones (for example PEP's), shown to those allowed to see them.
	AccountFeatures []string

	db       *storage.DB
	r        *router.Router
	log      *slog.Logger
	features []string
	contacts func(ctx context.Context) map[string][]string
}

// New returns the disco module. features are the server's disco#info
// features (each module's Features); the module adds its own. contacts, if
// not nil, returns the server's contact addresses as XEP-0157 field names
// ("admin-addresses") to URIs; see Contacts.
func New(db *storage.DB, features []string, contacts func(ctx context.Context) map[string][]string, log *slog.Logger) *Module {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Module{db: db, log: log, contacts: contacts}
	m.features = unique(append(slices.Clone(features), m.Features()...))
	return m
}

// Register installs the handlers on r.
func (m *Module) Register(r *router.Router) {
	m.r = r
	r.HandleIQ(stanza.NSDiscoInfo, m.info)
	r.HandleIQ(stanza.NSDiscoItems, m.items)
}

// Features returns the disco#info features of the module.
func (m *Module) Features() []string { return []string{stanza.NSDiscoInfo, stanza.NSDiscoItems} }

// unique sorts features and drops duplicates: XEP-0115 5.4 treats a
// repeated feature as an error.
func unique(fs []string) []string {
	slices.Sort(fs)
	return slices.Compact(fs)
}

func (m *Module) info(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if q.Name != "query" {
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.Type != "get" {
		return nil, stanza.ErrNotAllowed()
	}
	if st.To.Local != "" {
		return m.accountInfo(ctx, st)
	}
	if q.Attr("node") != "" {
		// XEP-0030 3.2: the server has no info nodes yet.
		return nil, stanza.ErrItemNotFound()
	}
	res := stanza.New("query", stanza.NSDiscoInfo)
	res.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "server", "type", "im", "name", Name))
	for _, f := range m.features {
		res.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", f))
	}
	if form := m.serverInfo(ctx); form != nil {
		res.Append(form)
	}
	return res, nil
}

// serverInfo builds the XEP-0157 form (a XEP-0128 extension): the hidden
// FORM_TYPE, then one field per kind of contact that has addresses, in
// name order; nil when there are none.
func (m *Module) serverInfo(ctx context.Context) *stanza.Element {
	if m.contacts == nil {
		return nil
	}
	addrs := m.contacts(ctx)
	var fields []*stanza.Element
	for _, name := range slices.Sorted(maps.Keys(addrs)) {
		f := stanza.New("field", stanza.NSDataForms, "var", name)
		for _, uri := range addrs[name] {
			if uri = strings.TrimSpace(uri); uri != "" {
				f.Append(stanza.New("value", stanza.NSDataForms).AppendText(uri))
			}
		}
		if len(f.Children) > 0 {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return nil
	}
	x := stanza.New("x", stanza.NSDataForms, "type", "result")
	x.Append(stanza.New("field", stanza.NSDataForms, "var", "FORM_TYPE", "type", "hidden").
		Append(stanza.New("value", stanza.NSDataForms).AppendText(stanza.NSServerInfo)))
	return x.Append(fields...)
}

// accountInfo answers for an account's bare JID (XEP-0030 3.1): the
// account identity to the account itself and to those allowed to see its
// presence; service-unavailable to anyone else and for accounts that do
// not exist, which are then indistinguishable (XEP-0030 8, rule 1).
func (m *Module) accountInfo(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	ok, e := m.allowed(ctx, st)
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.Payload().Attr("node") != "" {
		return nil, stanza.ErrItemNotFound()
	}
	res := stanza.New("query", stanza.NSDiscoInfo)
	res.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "account", "type", "registered"))
	for _, f := range unique(append(m.Features(), m.AccountFeatures...)) {
		res.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", f))
	}
	return res, nil
}

// allowed reports whether the requester may learn about the account: it is
// the account itself or has a subscription to its presence (from or both
// on the account's roster, RFC 6121 3). A roster item exists only for an
// existing account.
func (m *Module) allowed(ctx context.Context, st *stanza.Stanza) (bool, *stanza.Error) {
	if st.From.Bare() == st.To {
		return true, nil
	}
	it, err := m.db.RosterItem(ctx, st.To.Local, st.From.Bare().String())
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		m.log.Warn("roster lookup failed", "user", st.To.Local, "err", err)
		return false, stanza.ErrInternal()
	}
	return it.Subscription == "from" || it.Subscription == "both", nil
}

func (m *Module) items(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if q.Name != "query" {
		return nil, stanza.ErrServiceUnavailable()
	}
	if st.Type != "get" {
		return nil, stanza.ErrNotAllowed()
	}
	res := stanza.New("query", stanza.NSDiscoItems)
	node := q.Attr("node")
	if st.To.Local != "" {
		ok, e := m.allowed(ctx, st)
		if e != nil {
			return nil, e
		}
		// XEP-0030 8, rule 2: an empty list for accounts that do not exist
		// and for requesters not allowed to see the account's resources.
		if !ok {
			return res, nil
		}
		if node != "" {
			return nil, stanza.ErrItemNotFound()
		}
		// XEP-0030 4.1: the account's available resources.
		var full []jid.JID
		for _, s := range m.r.Sessions(st.To.Local) {
			if s.Available() {
				full = append(full, s.JID)
			}
		}
		slices.SortFunc(full, func(a, b jid.JID) int { return strings.Compare(a.Resource, b.Resource) })
		for _, j := range full {
			res.Append(stanza.New("item", stanza.NSDiscoItems, "jid", j.String()))
		}
		return res, nil
	}
	if node != "" {
		return nil, stanza.ErrItemNotFound()
	}
	if m.Items != nil {
		for _, it := range m.Items(ctx, st.From) {
			res.Append(stanza.New("item", stanza.NSDiscoItems, "jid", it.JID.String(), "node", it.Node, "name", it.Name))
		}
	}
	return res, nil
}

// ContactSettings maps the settings that hold the server's contact
// addresses to the fields XEP-0157 registers.
var ContactSettings = map[string]string{
	"contact.abuse":    "abuse-addresses",
	"contact.admin":    "admin-addresses",
	"contact.feedback": "feedback-addresses",
	"contact.sales":    "sales-addresses",
	"contact.security": "security-addresses",
	"contact.support":  "support-addresses",
}

// Contacts returns a contacts function for New that reads ContactSettings
// from db on each call, so that changes apply at once. A setting holds
// URIs (mailto:, xmpp:, https:) separated by commas or spaces.
func Contacts(db *storage.DB, log *slog.Logger) func(ctx context.Context) map[string][]string {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context) map[string][]string {
		all, err := db.Settings(ctx)
		if err != nil {
			log.Warn("contact addresses not read", "err", err)
			return nil
		}
		out := make(map[string][]string)
		for key, field := range ContactSettings {
			uris := strings.FieldsFunc(all[key], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
			if len(uris) > 0 {
				out[field] = uris
			}
		}
		return out
	}
}
