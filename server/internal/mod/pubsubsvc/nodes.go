package pubsubsvc

import (
	"context"
	"errors"
	"strconv"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/quota"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// defaultMaxItems is how many items a new node keeps unless its
// configuration says otherwise (within quota.PubsubItems).
const defaultMaxItems = 10

// defaultConfig is a new node's configuration: open, its items kept,
// the last one sent to new subscribers, notifications with payloads.
func (m *Module) defaultConfig(node string, creator jid.JID) storage.PubsubNode {
	max := min(defaultMaxItems, int(m.quota.PubsubItems.Load()))
	c := storage.PubsubNode{Node: node, Access: pubsub.AccessOpen, MaxItems: max, Persist: true,
		SendLast: pubsub.SendOnSub, NotifyRetract: true, NotifyDelete: true, DeliverPayloads: true, PublishModel: "publishers"}
	if !creator.IsZero() {
		c.Creator = creator.Bare().String()
	}
	return c
}

// create makes a node (XEP-0060 8.1): named, or an instant node, with
// the default configuration or the one in the request. Local accounts
// may create nodes, up to quota.PubsubNodes each.
func (m *Module) create(ctx context.Context, from jid.JID, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	if !m.local(from) {
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "only accounts of "+m.domain+" may create nodes here")
	}
	instant := req.Node == ""
	name := req.Node
	if instant {
		name = pubsub.NewID()
	}
	if len(name) > 1023 {
		return nil, stanza.ErrBadRequest("the node name is too long (1023 bytes at most)")
	}
	n := m.defaultConfig(name, from)
	if req.Form != nil {
		if req.FormType != "" && req.FormType != pubsub.NSConfig {
			return nil, stanza.ErrBadRequest("a node configuration has the FORM_TYPE " + pubsub.NSConfig)
		}
		c, bad, e := m.prof.Apply(n, req.Form)
		if e != nil {
			return nil, e
		}
		if bad != "" {
			return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "this service does not have the node option "+bad)
		}
		n = c
	}
	max := m.quota.PubsubNodes.Load()
	err := m.db.CreateServiceNode(ctx, n, max)
	if errors.Is(err, storage.ErrQuota) {
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
			"you have created "+quota.Amount(max, "nodes")+" on this service, the most an account may; delete one first, or ask the administrator to raise limits.pubsub_nodes")
	}
	if errors.Is(err, storage.ErrExists) {
		// XEP-0060 8.1.3.4.
		return nil, stanza.NewError(stanza.Cancel, stanza.Conflict, "a node with this name exists already; choose another name")
	}
	if e := m.storeError(err, "pubsub node not created", name); e != nil {
		return nil, e
	}
	m.log.Info("pubsub node created", "node", name, "by", n.Creator)
	if !instant {
		return nil, nil
	}
	return stanza.New("pubsub", pubsub.NS).Append(stanza.New("create", pubsub.NS, "node", name)), nil
}

// configure answers an owner's configuration request (XEP-0060 8.2).
func (m *Module) configure(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.owned(ctx, req.Node, st.From)
	if e != nil {
		return nil, e
	}
	if st.Type == "get" {
		return stanza.New("pubsub", pubsub.NSOwner).Append(stanza.New("configure", pubsub.NSOwner, "node", n.Node).Append(m.prof.Form(n))), nil
	}
	if req.FormType != "" && req.FormType != pubsub.NSConfig {
		return nil, stanza.ErrBadRequest("a node configuration has the FORM_TYPE " + pubsub.NSConfig)
	}
	// Fields the service does not have are left alone: a form may come
	// back with what another server offered.
	c, _, e := m.prof.Apply(n, req.Form)
	if e != nil {
		return nil, e
	}
	return nil, m.storeError(m.db.ConfigureServiceNode(ctx, c), "pubsub node not configured", n.Node)
}

// deleteNode deletes a node an owner asks to (XEP-0060 8.4), telling its
// subscribers.
func (m *Module) deleteNode(ctx context.Context, from jid.JID, node string) *stanza.Error {
	n, e := m.owned(ctx, node, from)
	if e != nil {
		return e
	}
	var to []jid.JID
	if n.NotifyDelete {
		to = m.subscribers(ctx, n)
	}
	if e := m.storeError(m.db.DeleteServiceNode(ctx, n.Node), "pubsub node not deleted", n.Node); e != nil {
		return e
	}
	m.log.Info("pubsub node deleted", "node", n.Node, "by", from.Bare().String())
	pubsub.Send(ctx, m.r, m.host, to, stanza.New("delete", pubsub.NSEvent, "node", n.Node))
	return nil
}

// purge deletes every item of a node (XEP-0060 8.5).
func (m *Module) purge(ctx context.Context, from jid.JID, node string) *stanza.Error {
	n, e := m.owned(ctx, node, from)
	if e != nil {
		return e
	}
	if e := m.storeError(m.db.PurgeServiceNode(ctx, n.Node), "pubsub node not purged", n.Node); e != nil {
		return e
	}
	if n.NotifyRetract {
		pubsub.Send(ctx, m.r, m.host, m.subscribers(ctx, n), stanza.New("purge", pubsub.NSEvent, "node", n.Node))
	}
	return nil
}

// info is the disco#info of the service or of one of its nodes (XEP-0060
// 5.1, 5.3, 5.4).
func (m *Module) info(ctx context.Context, from jid.JID, node string) (*stanza.Element, *stanza.Error) {
	q := stanza.New("query", stanza.NSDiscoInfo)
	if node == "" {
		q.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "pubsub", "type", "service", "name", "Publish-subscribe"))
		for _, f := range features {
			q.Append(stanza.New("feature", stanza.NSDiscoInfo, "var", f))
		}
		return q, nil
	}
	n, e := m.node(ctx, node)
	if e != nil {
		return nil, e
	}
	q.SetAttr("node", node)
	q.Append(stanza.New("identity", stanza.NSDiscoInfo, "category", "pubsub", "type", "leaf"),
		stanza.New("feature", stanza.NSDiscoInfo, "var", pubsub.NS))
	field := func(v, val string) *stanza.Element {
		return stanza.New("field", stanza.NSDataForms, "var", v).Append(stanza.New("value", stanza.NSDataForms).AppendText(val))
	}
	x := stanza.New("x", stanza.NSDataForms, "type", "result").Append(
		stanza.New("field", stanza.NSDataForms, "var", "FORM_TYPE", "type", "hidden").Append(stanza.New("value", stanza.NSDataForms).AppendText(pubsub.NSMeta)),
		field("pubsub#title", n.Title),
		field("pubsub#description", n.Description),
		field("pubsub#access_model", n.Access),
		field("pubsub#publish_model", n.PublishModel),
		field("pubsub#max_items", strconv.Itoa(n.MaxItems)))
	if m.access(ctx, n, from) == nil {
		owners, err := m.db.ServiceAffiliations(ctx, n.Node, "")
		if err == nil {
			f := stanza.New("field", stanza.NSDataForms, "var", "pubsub#owner")
			for _, a := range owners {
				if a.Affiliation == pubsub.Owner {
					f.Append(stanza.New("value", stanza.NSDataForms).AppendText(a.JID))
				}
			}
			x.Append(f)
		}
	}
	return q.Append(x), nil
}

// discoItems lists the nodes from may see (XEP-0060 5.2), or a node's
// items by id (5.5).
func (m *Module) discoItems(ctx context.Context, from jid.JID, node string) (*stanza.Element, *stanza.Error) {
	q := stanza.New("query", stanza.NSDiscoItems)
	if node == "" {
		nodes, err := m.db.ServiceNodes(ctx)
		if err != nil {
			return nil, m.storeError(err, "pubsub nodes not read", "")
		}
		for _, n := range nodes {
			if m.access(ctx, n, from) != nil {
				continue
			}
			it := stanza.New("item", stanza.NSDiscoItems, "jid", m.host.Domain, "node", n.Node)
			if n.Title != "" {
				it.SetAttr("name", n.Title)
			}
			q.Append(it)
		}
		return q, nil
	}
	n, e := m.node(ctx, node)
	if e != nil {
		return nil, e
	}
	if e := m.access(ctx, n, from); e != nil {
		return nil, e
	}
	its, err := m.db.ServiceItems(ctx, n.Node, 0, nil)
	if err != nil {
		return nil, m.storeError(err, "pubsub items not read", n.Node)
	}
	q.SetAttr("node", node)
	for _, it := range its {
		q.Append(stanza.New("item", stanza.NSDiscoItems, "jid", m.host.Domain, "name", it.ID))
	}
	return q, nil
}
