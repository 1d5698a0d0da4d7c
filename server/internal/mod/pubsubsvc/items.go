package pubsubsvc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/quota"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// publish stores an item and notifies the subscribers (XEP-0060 7.1).
// publish-options are preconditions the node must meet (7.1.5).
func (m *Module) publish(ctx context.Context, from jid.JID, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.node(ctx, req.Node)
	if e != nil {
		return nil, e
	}
	aff, e := m.affiliation(ctx, n.Node, from)
	if e != nil {
		return nil, e
	}
	subscribed := false
	if n.PublishModel == "subscribers" && aff != pubsub.Owner && aff != pubsub.Publisher {
		s, err := m.db.ServiceSubscription(ctx, n.Node, from.Bare().String())
		subscribed = err == nil && s.State == "subscribed"
	}
	if e := pubsub.MayPublish(n.PublishModel, aff, subscribed); e != nil {
		return nil, e
	}
	if req.Form != nil {
		if req.FormType != "" && req.FormType != pubsub.NSPubOpts {
			return nil, stanza.ErrBadRequest("publish-options need the FORM_TYPE " + pubsub.NSPubOpts)
		}
		c, bad, e := m.prof.Apply(n, req.Form)
		switch {
		case bad != "":
			return nil, pubsub.PreconditionNotMet("this service does not support the node option " + bad)
		case e != nil || c != n:
			return nil, pubsub.PreconditionNotMet("the node has another configuration; configure it or publish without these options")
		}
	}
	it := req.Items[0]
	if it.ID == "" {
		it.ID = pubsub.NewID()
	}
	if len(it.ID) > 1023 {
		return nil, stanza.ErrBadRequest("the item id is too long (1023 bytes at most)")
	}
	payload := it.Payload.Bytes()
	if max := m.quota.PubsubPayload.Load(); int64(len(payload)) > max {
		// XEP-0060 7.1.3.4.
		return nil, pubsub.Error(stanza.Modify, stanza.NotAcceptable, "payload-too-big",
			"the item is "+quota.Amount(int64(len(payload)), "bytes")+"; this service takes items of at most "+quota.Amount(max, "bytes"))
	}
	// Others than owners and publishers replace only their own items.
	onlyOwn := aff != pubsub.Owner && aff != pubsub.Publisher
	if e := m.storeAndNotify(ctx, from.Bare(), n, it.ID, it.Payload, payload, onlyOwn); e != nil {
		return nil, e
	}
	return stanza.New("pubsub", pubsub.NS).Append(stanza.New("publish", pubsub.NS, "node", n.Node).
		Append(stanza.New("item", pubsub.NS, "id", it.ID))), nil
}

// storeAndNotify writes an item durably and notifies the subscribers, in
// the node's order (pubsub.Order: a new subscriber gets the item once,
// as the last item or as a notification). With onlyOwn an item of that
// id by someone else is not replaced: forbidden.
func (m *Module) storeAndNotify(ctx context.Context, publisher jid.JID, n storage.PubsubNode, id string, el *stanza.Element, payload []byte, onlyOwn bool) *stanza.Error {
	defer m.order.Lock(n.Node)()
	err := m.db.PublishService(ctx, n.Node, storage.PubsubItem{ID: id, Publisher: publisher.String(), Payload: payload, Published: time.Now()}, onlyOwn)
	if errors.Is(err, storage.ErrNotYours) {
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "someone else published an item with this id; only the node's owners and publishers may replace it, so publish under another id")
	}
	if e := m.storeError(err, "pubsub item not stored", n.Node); e != nil {
		return e
	}
	var ev *stanza.Element
	if n.DeliverPayloads {
		ev = pubsub.ItemsEvent(n.Node, id, el)
	} else {
		ev = pubsub.ItemsEvent(n.Node, id, nil)
	}
	pubsub.Send(ctx, m.r, m.host, m.subscribers(ctx, n), ev)
	return nil
}

// subscribers returns the JIDs a node's notifications go to: approved
// subscriptions that ask for delivery, of those who may still see the
// node (XEP-0060 4.5: a contact removed from the creator's roster, or a
// member taken off a whitelist, stops getting them).
func (m *Module) subscribers(ctx context.Context, n storage.PubsubNode) []jid.JID {
	subs, err := m.db.ServiceSubscriptions(ctx, n.Node)
	if err != nil {
		m.log.Warn("pubsub subscriptions not read; no notifications sent", "node", n.Node, "err", err)
		return nil
	}
	var affs map[string]string
	if n.Access == pubsub.AccessWhitelist {
		as, err := m.db.ServiceAffiliations(ctx, n.Node, "")
		if err != nil {
			m.log.Warn("pubsub affiliations not read; no notifications sent", "node", n.Node, "err", err)
			return nil
		}
		affs = make(map[string]string, len(as))
		for _, a := range as {
			affs[a.JID] = a.Affiliation
		}
	}
	allowed := map[jid.JID]bool{}
	out := make([]jid.JID, 0, len(subs))
	for _, s := range subs {
		if s.State != subscribed || !s.Deliver {
			continue
		}
		j, err := jid.Parse(s.JID)
		if err != nil {
			continue
		}
		switch n.Access {
		case pubsub.AccessWhitelist:
			if a := affs[j.Bare().String()]; a != pubsub.Owner && a != pubsub.Publisher && a != pubsub.Member {
				continue
			}
		case pubsub.AccessPresence, pubsub.AccessRoster:
			ok, seen := allowed[j.Bare()]
			if !seen {
				ok = m.access(ctx, n, j) == nil
				allowed[j.Bare()] = ok
			}
			if !ok {
				continue
			}
		}
		out = append(out, j)
	}
	return out
}

// retract deletes items (XEP-0060 7.2): an owner or publisher any, others
// their own.
func (m *Module) retract(ctx context.Context, from jid.JID, req *pubsub.Request) *stanza.Error {
	n, e := m.node(ctx, req.Node)
	if e != nil {
		return e
	}
	aff, e := m.affiliation(ctx, n.Node, from)
	if e != nil {
		return e
	}
	for _, it := range req.Items {
		if aff != pubsub.Owner && aff != pubsub.Publisher {
			its, err := m.db.ServiceItems(ctx, n.Node, 0, []string{it.ID})
			if err != nil {
				return m.storeError(err, "pubsub item not read", n.Node)
			}
			if len(its) == 0 {
				return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "")
			}
			if its[0].Publisher != from.Bare().String() {
				return stanza.NewError(stanza.Auth, stanza.Forbidden, "only the node's owners and publishers may retract others' items")
			}
		}
		if e := m.storeError(m.db.RetractServiceItem(ctx, n.Node, it.ID), "pubsub item not retracted", n.Node); e != nil {
			return e
		}
		if n.NotifyRetract || req.Notify {
			pubsub.Send(ctx, m.r, m.host, m.subscribers(ctx, n), pubsub.RetractEvent(n.Node, it.ID))
		}
	}
	return nil
}

// items answers a request for items (XEP-0060 6.5): all, the last
// max_items, by id, or a page (XEP-0059), newest first.
func (m *Module) items(ctx context.Context, from jid.JID, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.node(ctx, req.Node)
	if e != nil {
		return nil, e
	}
	if e := m.access(ctx, n, from); e != nil {
		return nil, e
	}
	out := stanza.New("items", pubsub.NS, "node", n.Node)
	res := stanza.New("pubsub", pubsub.NS).Append(out)
	var ids []string
	for _, it := range req.Items {
		ids = append(ids, it.ID)
	}
	var its []storage.PubsubItem
	var err error
	var set *stanza.Element
	if pg := req.Page; pg != nil && len(ids) == 0 {
		max := pg.Max
		if max < 0 {
			max = pubsub.MaxPage
		}
		if req.MaxItems > 0 {
			max = min(max, req.MaxItems)
		}
		var count, index int
		its, count, index, err = m.db.ServiceItemsPage(ctx, n.Node, max, pg.After, pg.Before, pg.HasBefore)
		if errors.Is(err, storage.ErrNotFound) {
			// XEP-0059 2.6.
			return nil, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "the page starts at an item the node does not have")
		}
		set = stanza.New("set", pubsub.NSRSM)
		if len(its) > 0 {
			set.Append(stanza.New("first", pubsub.NSRSM, "index", strconv.Itoa(index)).AppendText(its[0].ID),
				stanza.New("last", pubsub.NSRSM).AppendText(its[len(its)-1].ID))
		}
		set.Append(stanza.New("count", pubsub.NSRSM).AppendText(strconv.Itoa(count)))
	} else {
		its, err = m.db.ServiceItems(ctx, n.Node, req.MaxItems, ids)
	}
	if err != nil {
		return nil, m.storeError(err, "pubsub items not read", n.Node)
	}
	for _, it := range its {
		el, err := pubsub.ItemElement(pubsub.NS, it)
		if err != nil {
			m.log.Warn("stored pubsub item unreadable", "node", n.Node, "item", it.ID, "err", err)
			continue
		}
		out.Append(el)
	}
	if set != nil {
		res.Append(set)
	}
	return res, nil
}

// sendLast sends to the last item of n, if it has one, (XEP-0060 6.1.7).
func (m *Module) sendLast(ctx context.Context, n storage.PubsubNode, to jid.JID) {
	its, err := m.db.ServiceItems(ctx, n.Node, 1, nil)
	if err != nil || len(its) == 0 {
		return
	}
	var ev *stanza.Element
	if n.DeliverPayloads {
		el, err := pubsub.ItemElement(pubsub.NSEvent, its[0])
		if err != nil {
			return
		}
		ev = stanza.New("items", pubsub.NSEvent, "node", n.Node).Append(el)
	} else {
		ev = pubsub.ItemsEvent(n.Node, its[0].ID, nil)
	}
	pubsub.Send(ctx, m.r, m.host, []jid.JID{to}, ev)
}
