// Package disco implements XEP-0030: Service Discovery for the server and
// for accounts' bare JIDs, with the server's contact addresses as a
// XEP-0128 extended form (XEP-0157: Contact Addresses for XMPP Services).
package disco

import (
	"context"
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

// Visibility is the one rule of who may see an account's presence
// (roster.Module.MaySee); disco shows an account to them only.
type Visibility interface {
	MaySee(ctx context.Context, user string, contact jid.JID) (bool, error)
}

// ItemSource lists the server's disco#items (local hosts, components).
type ItemSource interface {
	Items(ctx context.Context, from jid.JID) []Item
}

// ContactSource gives the server's contact addresses as XEP-0157 field
// names ("admin-addresses") to URIs; see SettingsContacts.
type ContactSource interface {
	Contacts(ctx context.Context) map[string][]string
}

// NodeSource lists the nodes of an account's bare JID that from may see
// (XEP-0163's personal eventing nodes, XEP-0030 4.1 items with a node).
type NodeSource interface {
	Nodes(ctx context.Context, user string, from jid.JID) []Item
}

// ServerNodes are nodes of the server's domain (XEP-0030 3.2, 4.1): the
// ad-hoc commands' (XEP-0050). ok false, or nil info: no such node for
// from.
type ServerNodes interface {
	NodeInfo(ctx context.Context, node string, from jid.JID) *stanza.Element
	NodeItems(ctx context.Context, node string, from jid.JID) (items []Item, ok bool)
}

// Deps are what the module needs.
type Deps struct {
	Router     *router.Router // an account's available resources
	Visibility Visibility
	// Features are every other module's features; the module adds its own.
	Features []router.Features
	Items    ItemSource // nil: no items
	// AccountIdentities are identities of accounts' bare JIDs besides
	// account/registered, as category and type (pubsub/pep).
	AccountIdentities [][2]string
	Nodes             NodeSource    // nil: no nodes
	ServerNodes       ServerNodes   // nil: the server has no nodes
	Contacts          ContactSource // nil: no contact addresses
	Log               *slog.Logger
}

// Module answers disco#info and disco#items.
type Module struct {
	r        *router.Router
	vis      Visibility
	items    ItemSource
	contacts ContactSource
	ids      [][2]string
	nodes    NodeSource
	snodes   ServerNodes
	log      *slog.Logger
	features []router.Features // every module's, its own included
	// server and account are the features of the domain and of an
	// account's bare JID while every module's On says what it said at
	// start (on: mam; off: calls, until the TURN server runs).
	server, account []string
	onAtStart       []bool
}

// New returns the disco module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{r: d.Router, vis: d.Visibility, items: d.Items, contacts: d.Contacts, ids: d.AccountIdentities, nodes: d.Nodes, snodes: d.ServerNodes, log: d.Log}
	m.features = append(slices.Clone(d.Features), m.Features())
	m.server, m.account = m.current()
	for _, f := range m.features {
		m.onAtStart = append(m.onAtStart, f.On == nil || f.On())
	}
	return m
}

// current lists the features advertised now, server's and account's.
func (m *Module) current() (server, account []string) {
	for _, f := range m.features {
		if f.On == nil || f.On() {
			server = append(server, f.Server...)
			account = append(account, f.Account...)
		}
	}
	return unique(server), unique(account)
}

// lists returns the features advertised now: the ones made at start
// unless a module's On says otherwise since.
func (m *Module) lists() (server, account []string) {
	for i, f := range m.features {
		if f.On != nil && f.On() != m.onAtStart[i] {
			return m.current()
		}
	}
	return m.server, m.account
}

// Register installs the handlers: gets to the server and to bare JIDs.
func (m *Module) Register(mux *router.Mux) {
	to := router.ToServer | router.ToAccount
	get := []string{"get"}
	mux.HandleIQ(router.Pattern{Types: get, Target: to, Name: "query", NS: stanza.NSDiscoInfo}, m.info)
	mux.HandleIQ(router.Pattern{Types: get, Target: to, Name: "query", NS: stanza.NSDiscoItems}, m.itemsOf)
}

// Features returns the disco#info features of the module, which both the
// server and accounts have.
func (m *Module) Features() router.Features {
	fs := []string{stanza.NSDiscoInfo, stanza.NSDiscoItems}
	return router.Features{Server: fs, Account: fs}
}

// unique sorts features and drops duplicates: XEP-0115 5.4 treats a
// repeated feature as an error.
func unique(fs []string) []string {
	slices.Sort(fs)
	return slices.Compact(fs)
}

func (m *Module) info(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if st.To.Local != "" {
		return m.accountInfo(ctx, st)
	}
	if node := q.Attr("node"); node != "" {
		// XEP-0030 3.2: the server's nodes are the ad-hoc commands'.
		if m.snodes != nil {
			if res := m.snodes.NodeInfo(ctx, node, st.From); res != nil {
				return res, nil
			}
		}
		return nil, stanza.ErrItemNotFound()
	}
	res := stanza.New("query", stanza.NSDiscoInfo)
	res.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "server", "type", "im", "name", Name))
	server, _ := m.lists()
	for _, f := range server {
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
	addrs := m.contacts.Contacts(ctx)
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
	for _, id := range m.ids {
		res.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", id[0], "type", id[1]))
	}
	_, account := m.lists()
	for _, f := range account {
		res.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", f))
	}
	return res, nil
}

// allowed reports whether the requester may learn about the account (see
// Visibility). Nobody may see an account that does not exist.
func (m *Module) allowed(ctx context.Context, st *stanza.Stanza) (bool, *stanza.Error) {
	ok, err := m.vis.MaySee(ctx, st.To.Local, st.From)
	if err != nil {
		m.log.Warn("roster lookup failed", "user", st.To.Local, "err", err)
		return false, stanza.ErrInternal()
	}
	return ok, nil
}

func (m *Module) itemsOf(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	res := stanza.New("query", stanza.NSDiscoItems)
	node := q.Attr("node")
	if st.To.Local != "" {
		ok, e := m.allowed(ctx, st)
		if e != nil {
			return nil, e
		}
		if node != "" {
			if !ok {
				return res, nil // as below: nothing to tell
			}
			return nil, stanza.ErrItemNotFound()
		}
		// The nodes the requester may see (open ones to anyone).
		if m.nodes != nil {
			for _, it := range m.nodes.Nodes(ctx, st.To.Local, st.From) {
				res.Append(stanza.New("item", stanza.NSDiscoItems, "jid", it.JID.String(), "node", it.Node, "name", it.Name))
			}
		}
		// XEP-0030 8, rule 2: no resources for accounts that do not exist
		// and for requesters not allowed to see the account's resources.
		if !ok {
			return res, nil
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
		if m.snodes != nil {
			if items, ok := m.snodes.NodeItems(ctx, node, st.From); ok {
				res.SetAttr("node", node)
				for _, it := range items {
					res.Append(stanza.New("item", stanza.NSDiscoItems, "jid", it.JID.String(), "node", it.Node, "name", it.Name))
				}
				return res, nil
			}
		}
		return nil, stanza.ErrItemNotFound()
	}
	if m.items != nil {
		for _, it := range m.items.Items(ctx, st.From) {
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

// SettingsContacts reads ContactSettings from the database on each call,
// so that changes apply at once. A setting holds URIs (mailto:, xmpp:,
// https:) separated by commas or spaces.
type SettingsContacts struct {
	DB  *storage.DB
	Log *slog.Logger
}

// Contacts implements ContactSource.
func (c SettingsContacts) Contacts(ctx context.Context) map[string][]string {
	all, err := c.DB.Settings(ctx)
	if err != nil {
		if c.Log != nil {
			c.Log.Warn("contact addresses not read", "err", err)
		}
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
