// Package pep implements XEP-0163: Personal Eventing Protocol, the subset
// of XEP-0060 (Publish-Subscribe) clients use on their own account:
// publish with auto-create and XEP-0223 publish-options, retract, items,
// create, configure, purge and delete; the open, presence and whitelist
// access models; notifications to the account's sessions and contacts
// whose XEP-0115 entity capabilities ask for them (a server-side caps
// cache); the last item sent when a contact comes online (XEP-0163
// 4.3.2). OMEMO (XEP-0384), avatars (XEP-0084 with XEP-0398's vCard
// conversion), bookmarks (XEP-0402 with XEP-0411's conversion) and
// nicknames (XEP-0172) are nodes like any other.
package pep

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/disco"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/tasks"
	"hearth/storage"
)

// Visibility is the one rule of who may see an account's presence
// (roster.Module.MaySee): the presence access model follows it.
type Visibility interface {
	MaySee(ctx context.Context, user string, contact jid.JID) (bool, error)
}

// Deps are what the module needs.
type Deps struct {
	DB         *storage.DB
	Router     *router.Router
	Visibility Visibility
	Quota      *quota.Limits // nil: the defaults
	Log        *slog.Logger
}

// Module is every account's personal eventing service.
type Module struct {
	db    *storage.DB
	r     *router.Router
	vis   Visibility
	quota *quota.Limits
	log   *slog.Logger
	caps  *capsCache
	seen  *presenceTable
	order *pubsub.Order

	tasks *tasks.Group // the caps queries under way (askCaps), which Close ends
}

// New returns the personal eventing module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	m := &Module{db: d.DB, r: d.Router, vis: d.Visibility, quota: d.Quota, log: d.Log,
		caps: newCapsCache(), seen: newPresenceTable(), order: pubsub.NewOrder()}
	m.tasks = tasks.New()
	return m
}

// Close ends the caps queries under way and waits for them.
func (m *Module) Close() { m.tasks.Close() }

// Register installs the handlers: pubsub requests to accounts' bare JIDs
// (a client's own without 'to').
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Target: router.ToAccount, Name: "pubsub", NS: NS}, m.handle)
	mux.HandleIQ(router.Pattern{Target: router.ToAccount, Name: "pubsub", NS: NSOwner}, m.handle)
}

// Features returns what accounts' bare JIDs advertise (XEP-0163 4, XEP-0060
// 10): only what works end to end.
func (m *Module) Features() router.Features {
	fs := []string{NS}
	for _, f := range []string{"access-open", "access-presence", "access-whitelist", "auto-create",
		"config-node", "create-and-configure", "create-nodes", "delete-items", "delete-nodes", "filtered-notifications",
		"item-ids", "last-published", "persistent-items", "presence-notifications", "publish",
		"publish-options", "purge-nodes", "retract-items", "retrieve-items", "retrieve-default"} {
		fs = append(fs, NS+"#"+f)
	}
	fs = append(fs, avatarFeatures...)
	fs = append(fs, nsBookmarksCvt)
	return router.Features{Account: fs}
}

// Identity is the identity of an account's bare JID as a personal
// eventing service (XEP-0163 4).
var Identity = [2]string{"pubsub", "pep"}

// UserRemoved forgets what the module holds about a deleted account; its
// nodes went with it (storage deletes them with the account).
func (m *Module) UserRemoved(_ context.Context, user string) {
	m.seen.forget(user)
}

// SessionEnded forgets a session's capabilities.
func (m *Module) SessionEnded(_ context.Context, s *router.Session) {
	m.seen.remove(s.JID.Local, s.JID)
}

// handle answers a pubsub or pubsub#owner request to an account.
func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	req, e := parseRequest(st.Type, st.Payload())
	if e != nil {
		return nil, e
	}
	user := st.To.Local
	own := st.From.Bare() == st.To.Bare()
	if req.Owner && !own {
		// XEP-0060 8: only the owner manages a node.
		return nil, stanza.ErrForbidden()
	}
	switch req.Action {
	case "items":
		return m.items(ctx, st, req)
	case "publish":
		if !own {
			// XEP-0060 7.1.3.1: only the account publishes to its nodes.
			return nil, stanza.ErrForbidden()
		}
		return m.publish(ctx, st, req)
	case "retract":
		if !own {
			return nil, stanza.ErrForbidden()
		}
		return nil, m.retract(ctx, user, req)
	case "create":
		if !own {
			return nil, stanza.ErrForbidden()
		}
		return nil, m.create(ctx, user, req)
	case "configure":
		if st.Type == "get" {
			n, e := m.node(ctx, user, req.Node)
			if e != nil {
				return nil, e
			}
			return stanza.New("pubsub", NSOwner).Append(stanza.New("configure", NSOwner, "node", n.Node).Append(configForm(n))), nil
		}
		return nil, m.configure(ctx, user, req)
	case "default":
		return stanza.New("pubsub", NSOwner).Append(stanza.New("default", NSOwner).Append(configForm(defaultConfig("")))), nil
	case "delete":
		return nil, m.deleteNode(ctx, user, req)
	case "purge":
		return nil, m.purge(ctx, user, req)
	case "subscriptions", "affiliations":
		return m.lists(ctx, st, req)
	}
	// subscribe, unsubscribe, options: a personal service's subscriptions
	// follow presence (XEP-0163 4.3); explicit ones it does not have.
	return nil, pubsub.Unsupported("subscribe")
}

// storeError is the requester's error for what storage said: none,
// item-not-found for a node or item that is not there, or, logged as
// what failed, internal-server-error.
func (m *Module) storeError(err error, what, user, node string) *stanza.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return stanza.ErrItemNotFound()
	}
	m.log.Warn(what, "user", user, "node", node, "err", err)
	return stanza.ErrInternal()
}

// node returns one of the user's nodes, or item-not-found.
func (m *Module) node(ctx context.Context, user, node string) (storage.PubsubNode, *stanza.Error) {
	n, err := m.db.PEPNode(ctx, user, node)
	return n, m.storeError(err, "pep node not read", user, node)
}

// mayAccess reports whether who may see the node's items (XEP-0060 4.5).
func (m *Module) mayAccess(ctx context.Context, user string, n storage.PubsubNode, who jid.JID) (bool, *stanza.Error) {
	if who.Bare() == (jid.JID{Local: user, Domain: m.r.Domain}) {
		return true, nil
	}
	e, err := pubsub.MayAccess(n.Access, pubsub.Requester{
		Presence: func() (bool, error) { return m.vis.MaySee(ctx, user, who) },
	})
	if err != nil {
		m.log.Warn("roster not read for a pep access check", "user", user, "err", err)
		return false, stanza.ErrInternal()
	}
	return e == nil, e
}

func (m *Module) items(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	user := st.To.Local
	n, e := m.node(ctx, user, req.Node)
	if e != nil {
		return nil, e
	}
	if _, e := m.mayAccess(ctx, user, n, st.From); e != nil {
		return nil, e
	}
	var ids []string
	for _, it := range req.Items {
		ids = append(ids, it.ID)
	}
	its, err := m.db.PEPItems(ctx, user, n.Node, req.MaxItems, ids)
	if err != nil {
		m.log.Warn("pep items not read", "user", user, "node", n.Node, "err", err)
		return nil, stanza.ErrInternal()
	}
	out := stanza.New("items", NS, "node", n.Node)
	for _, it := range its {
		el, err := pubsub.ItemElement(NS, it)
		if err != nil {
			m.log.Warn("stored pep item unreadable", "user", user, "node", n.Node, "item", it.ID, "err", err)
			continue
		}
		out.Append(el)
	}
	return stanza.New("pubsub", NS).Append(out), nil
}

func (m *Module) publish(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	user := st.To.Local
	it := req.Items[0]
	if it.ID == "" {
		it.ID = pubsub.NewID()
	}
	if req.Form != nil && req.FormType != "" && req.FormType != nsPubOpts {
		return nil, stanza.ErrBadRequest("publish-options need the FORM_TYPE " + nsPubOpts)
	}
	n, err := m.db.PEPNode(ctx, user, req.Node)
	exists := err == nil
	switch {
	case errors.Is(err, storage.ErrNotFound):
		n = defaultConfig(req.Node)
		if req.Form != nil {
			c, bad, e := apply(n, req.Form)
			if e != nil {
				return nil, e
			}
			if bad != "" {
				return nil, pubsub.PreconditionNotMet("this server does not support the node option " + bad)
			}
			n = c
		}
	case err != nil:
		m.log.Warn("pep node not read", "user", user, "node", req.Node, "err", err)
		return nil, stanza.ErrInternal()
	case req.Form != nil:
		// XEP-0223 / XEP-0060 7.1.5: the options are preconditions the
		// existing node must meet.
		c, bad, e := apply(n, req.Form)
		switch {
		case bad != "":
			return nil, pubsub.PreconditionNotMet("this server does not support the node option " + bad)
		case e != nil || c != n:
			return nil, pubsub.PreconditionNotMet("the node exists with another configuration; configure it or publish without these options")
		}
	}
	payload := it.Payload.Bytes()
	if e := m.room(ctx, user, n.Node, it.ID, exists, int64(len(payload))); e != nil {
		return nil, e
	}
	if e := m.storeAndNotify(ctx, user, st.From.Bare(), n, it.ID, it.Payload, payload); e != nil {
		return nil, e
	}
	m.published(ctx, user, n.Node, it.Payload)
	return stanza.New("pubsub", NS).Append(stanza.New("publish", NS, "node", n.Node).
		Append(stanza.New("item", NS, "id", it.ID))), nil
}

// storeAndNotify writes an item durably and tells those interested, in
// the account's order (see pubsub.Order).
func (m *Module) storeAndNotify(ctx context.Context, user string, publisher jid.JID, n storage.PubsubNode, id string, el *stanza.Element, payload []byte) *stanza.Error {
	defer m.order.Lock(user)()
	if e := m.store(ctx, user, publisher, n, id, payload); e != nil {
		return e
	}
	m.notifyItem(ctx, user, n, id, el)
	return nil
}

// store writes an item durably.
func (m *Module) store(ctx context.Context, user string, publisher jid.JID, n storage.PubsubNode, id string, payload []byte) *stanza.Error {
	err := m.db.PublishPEP(ctx, user, n, storage.PubsubItem{ID: id, Publisher: publisher.String(), Payload: payload, Published: time.Now()})
	if err != nil {
		m.log.Warn("pep item not stored", "user", user, "node", n.Node, "err", err)
		if errors.Is(err, storage.ErrBusy) {
			return stanza.NewError(stanza.Wait, stanza.InternalServerError, "the server could not store the item; try again later")
		}
		return stanza.ErrInternal()
	}
	return nil
}

// room checks the account's quotas for a publish of size bytes to node
// (which exists or is made), replacing item id.
func (m *Module) room(ctx context.Context, user, node, id string, exists bool, size int64) *stanza.Error {
	nodes, used, err := m.db.PEPUsage(ctx, user)
	if err != nil {
		m.log.Warn("pep usage not read", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	if max := m.quota.PEPNodes.Load(); !exists && int64(nodes) >= max {
		return quota.Full("published data", max, "nodes")
	}
	if exists {
		old, err := m.db.PEPItemSize(ctx, user, node, id)
		if err != nil {
			m.log.Warn("pep item size not read", "user", user, "err", err)
			return stanza.ErrInternal()
		}
		used -= old
	}
	if max := m.quota.PEPBytes.Load(); used+size > max {
		return quota.Full("published data", max, "bytes")
	}
	return nil
}

func (m *Module) retract(ctx context.Context, user string, req *pubsub.Request) *stanza.Error {
	n, e := m.node(ctx, user, req.Node)
	if e != nil {
		return e
	}
	for _, it := range req.Items {
		if e := m.storeError(m.db.RetractPEPItem(ctx, user, n.Node, it.ID), "pep item not retracted", user, n.Node); e != nil {
			return e
		}
		if n.NotifyRetract || req.Notify {
			m.notify(ctx, user, n, stanza.New("items", NSEvent, "node", n.Node).Append(stanza.New("retract", NSEvent, "id", it.ID)))
		}
	}
	m.retracted(ctx, user, n.Node)
	return nil
}

func (m *Module) create(ctx context.Context, user string, req *pubsub.Request) *stanza.Error {
	n := defaultConfig(req.Node)
	if req.Form != nil {
		c, _, e := apply(n, req.Form)
		if e != nil {
			return e
		}
		n = c
	}
	if nodes, _, err := m.db.PEPUsage(ctx, user); err != nil {
		m.log.Warn("pep usage not read", "user", user, "err", err)
		return stanza.ErrInternal()
	} else if max := m.quota.PEPNodes.Load(); int64(nodes) >= max {
		return quota.Full("published data", max, "nodes")
	}
	err := m.db.CreatePEPNode(ctx, user, n)
	if errors.Is(err, storage.ErrExists) {
		// XEP-0060 8.1.3.4.
		return stanza.NewError(stanza.Cancel, stanza.Conflict, "the node exists already")
	}
	if err != nil {
		m.log.Warn("pep node not created", "user", user, "node", n.Node, "err", err)
		return stanza.ErrInternal()
	}
	return nil
}

func (m *Module) configure(ctx context.Context, user string, req *pubsub.Request) *stanza.Error {
	n, e := m.node(ctx, user, req.Node)
	if e != nil {
		return e
	}
	if req.FormType != "" && req.FormType != nsConfig {
		return stanza.ErrBadRequest("a node configuration has the FORM_TYPE " + nsConfig)
	}
	// Fields the service does not have are left alone: a form may come
	// back with what another server offered.
	c, _, e := apply(n, req.Form)
	if e != nil {
		return e
	}
	if err := m.db.ConfigurePEPNode(ctx, user, c); err != nil {
		m.log.Warn("pep node not configured", "user", user, "node", n.Node, "err", err)
		return stanza.ErrInternal()
	}
	return nil
}

func (m *Module) deleteNode(ctx context.Context, user string, req *pubsub.Request) *stanza.Error {
	n, e := m.node(ctx, user, req.Node)
	if e != nil {
		return e
	}
	// Those to tell are found while the node still stands.
	var to []jid.JID
	if n.NotifyDelete {
		to = m.interested(ctx, user, n)
	}
	if e := m.storeError(m.db.DeletePEPNode(ctx, user, n.Node), "pep node not deleted", user, n.Node); e != nil {
		return e
	}
	m.send(ctx, user, to, stanza.New("delete", NSEvent, "node", n.Node))
	m.retracted(ctx, user, n.Node)
	return nil
}

func (m *Module) purge(ctx context.Context, user string, req *pubsub.Request) *stanza.Error {
	n, e := m.node(ctx, user, req.Node)
	if e != nil {
		return e
	}
	if e := m.storeError(m.db.PurgePEPNode(ctx, user, n.Node), "pep node not purged", user, n.Node); e != nil {
		return e
	}
	m.notify(ctx, user, n, stanza.New("purge", NSEvent, "node", n.Node))
	m.retracted(ctx, user, n.Node)
	return nil
}

// lists answers subscriptions and affiliations requests. A personal
// service has no explicit subscriptions, and one affiliation: the
// account owns its nodes (XEP-0163 4.1).
func (m *Module) lists(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	ns := NS
	if req.Owner {
		ns = NSOwner
		if st.Type == "set" {
			return nil, pubsub.Unsupported(map[string]string{"subscriptions": "manage-subscriptions", "affiliations": "modify-affiliations"}[req.Action])
		}
		if _, e := m.node(ctx, st.To.Local, req.Node); e != nil {
			return nil, e
		}
	}
	list := stanza.New(req.Action, ns, "node", req.Node)
	if req.Action == "affiliations" {
		owner := st.To.Bare().String()
		switch {
		case req.Owner:
			list.Append(stanza.New("affiliation", ns, "jid", owner, "affiliation", "owner"))
		case st.From.Bare() == st.To.Bare():
			nodes, err := m.db.PEPNodes(ctx, st.To.Local)
			if err != nil {
				m.log.Warn("pep nodes not read", "user", st.To.Local, "err", err)
				return nil, stanza.ErrInternal()
			}
			for _, n := range nodes {
				if req.Node == "" || n.Node == req.Node {
					list.Append(stanza.New("affiliation", ns, "node", n.Node, "affiliation", "owner"))
				}
			}
		}
	}
	return stanza.New("pubsub", ns).Append(list), nil
}

// Nodes lists the user's nodes that from may see, for disco#items on the
// bare JID (XEP-0163 4: discovering the account's nodes).
func (m *Module) Nodes(ctx context.Context, user string, from jid.JID) []disco.Item {
	nodes, err := m.db.PEPNodes(ctx, user)
	if err != nil {
		m.log.Warn("pep nodes not read", "user", user, "err", err)
		return nil
	}
	self := jid.JID{Local: user, Domain: m.r.Domain}
	var out []disco.Item
	for _, n := range nodes {
		if ok, _ := m.mayAccess(ctx, user, n, from); ok {
			out = append(out, disco.Item{JID: self, Node: n.Node, Name: n.Title})
		}
	}
	return out
}
