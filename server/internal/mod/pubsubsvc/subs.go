package pubsubsvc

import (
	"context"
	"errors"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/quota"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Subscription states (XEP-0060 4.2).
const (
	subscribed = "subscribed"
	pending    = "pending"
)

func notSubscribed() *stanza.Error {
	return pubsub.Error(stanza.Cancel, stanza.UnexpectedRequest, "not-subscribed", "you have no subscription to this node")
}

// subscribe answers a subscription request (XEP-0060 6.1), with its
// options (6.3.7): approved at once, or pending an owner's decision on a
// node with the authorize access model; then the last item (6.1.7). A
// subscription asked for again is answered as it is (6.1.6): an approved
// one stays approved, with its options unless the request has a form.
func (m *Module) subscribe(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.node(ctx, req.Node)
	if e != nil {
		return nil, e
	}
	if req.JID.Bare() != st.From.Bare() {
		// XEP-0060 6.1.3.1.
		return nil, pubsub.Error(stanza.Modify, stanza.BadRequest, "invalid-jid", "subscribe with your own JID")
	}
	aff, e := m.affiliation(ctx, n.Node, st.From)
	if e != nil {
		return nil, e
	}
	state := subscribed
	if n.Access == pubsub.AccessAuthorize && aff != pubsub.Outcast {
		if aff == "" {
			state = pending
		}
	} else if e := m.access(ctx, n, st.From); e != nil {
		return nil, e
	}
	deliver, e := deliverOption(req, true)
	if e != nil {
		return nil, e
	}
	unlock := m.order.Lock(n.Node)
	defer unlock()
	s, err := m.db.RequestSubscription(ctx, storage.PubsubSubscription{Node: n.Node, JID: req.JID.String(), SubID: pubsub.NewID(), State: state, Deliver: deliver},
		req.Form != nil, int(m.quota.PubsubSubscribers.Load()))
	if errors.Is(err, storage.ErrFull) {
		max := m.quota.PubsubSubscribers.Load()
		return nil, stanza.NewError(stanza.Cancel, stanza.PolicyViolation,
			"this node has "+quota.Amount(max, "subscriptions")+", the most this service allows; ask the administrator to raise limits.pubsub_subscribers")
	}
	if e := m.storeError(err, "pubsub subscription not stored", n.Node); e != nil {
		return nil, e
	}
	m.reply(ctx, st, stanza.New("pubsub", pubsub.NS).Append(subscriptionElement(pubsub.NS, s, true)))
	switch {
	case s.State == pending:
		m.askOwners(ctx, n, s)
	case n.SendLast != pubsub.SendNever && s.Deliver:
		m.sendLast(ctx, n, req.JID)
	}
	return errAnswered, nil
}

// deliverOption reads pubsub#deliver from a subscription options form
// (XEP-0060 6.3), def when it has none.
func deliverOption(req *pubsub.Request, def bool) (bool, *stanza.Error) {
	if req.Form == nil {
		return def, nil
	}
	if req.FormType != "" && req.FormType != pubsub.NSSubOpts {
		return def, pubsub.Error(stanza.Modify, stanza.BadRequest, "invalid-options", "subscription options have the FORM_TYPE "+pubsub.NSSubOpts)
	}
	for field, vals := range req.Form {
		switch field {
		case "pubsub#deliver":
			if len(vals) != 1 || (vals[0] != "1" && vals[0] != "0" && vals[0] != "true" && vals[0] != "false") {
				return def, pubsub.Error(stanza.Modify, stanza.BadRequest, "invalid-options", "pubsub#deliver is true or false")
			}
			def = vals[0] == "1" || vals[0] == "true"
		default:
			return def, pubsub.Error(stanza.Modify, stanza.BadRequest, "invalid-options", "this service does not have the subscription option "+field)
		}
	}
	return def, nil
}

// optionsForm is the subscription options form (XEP-0060 6.3.2).
func optionsForm(deliver bool) *stanza.Element {
	return stanza.New("x", stanza.NSDataForms, "type", "form").Append(
		stanza.New("field", stanza.NSDataForms, "var", "FORM_TYPE", "type", "hidden").Append(stanza.New("value", stanza.NSDataForms).AppendText(pubsub.NSSubOpts)),
		stanza.New("field", stanza.NSDataForms, "var", "pubsub#deliver", "type", "boolean", "label", "Send me notifications").
			Append(stanza.New("value", stanza.NSDataForms).AppendText(pubsub.Bool(deliver))))
}

// subscriptionElement renders a subscription; withNode for the lists
// that span nodes.
func subscriptionElement(ns string, s storage.PubsubSubscription, withNode bool) *stanza.Element {
	el := stanza.New("subscription", ns)
	if withNode {
		el.SetAttr("node", s.Node)
	}
	return el.SetAttr("jid", s.JID).SetAttr("subscription", s.State).SetAttr("subid", s.SubID)
}

// ownSubscription returns the subscription of jid (which must be from's)
// to node, checking subid if given.
func (m *Module) ownSubscription(ctx context.Context, from jid.JID, req *pubsub.Request) (storage.PubsubSubscription, *stanza.Error) {
	if _, e := m.node(ctx, req.Node); e != nil {
		return storage.PubsubSubscription{}, e
	}
	if req.JID.Bare() != from.Bare() {
		// XEP-0060 6.2.3.3, 6.3.4.2.
		return storage.PubsubSubscription{}, stanza.NewError(stanza.Auth, stanza.Forbidden, "you may change only your own subscriptions")
	}
	s, err := m.db.ServiceSubscription(ctx, req.Node, req.JID.String())
	if errors.Is(err, storage.ErrNotFound) {
		return s, notSubscribed()
	}
	if e := m.storeError(err, "pubsub subscription not read", req.Node); e != nil {
		return s, e
	}
	if req.SubID != "" && req.SubID != s.SubID {
		return s, pubsub.Error(stanza.Modify, stanza.NotAcceptable, "invalid-subid", "no subscription has this subid")
	}
	return s, nil
}

// unsubscribe ends a subscription (XEP-0060 6.2).
func (m *Module) unsubscribe(ctx context.Context, from jid.JID, req *pubsub.Request) *stanza.Error {
	s, e := m.ownSubscription(ctx, from, req)
	if e != nil {
		return e
	}
	return m.storeError(m.db.Unsubscribe(ctx, s.Node, s.JID), "pubsub subscription not deleted", s.Node)
}

// options reads or sets a subscription's options (XEP-0060 6.3).
func (m *Module) options(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	s, e := m.ownSubscription(ctx, st.From, req)
	if e != nil {
		return nil, e
	}
	if st.Type == "get" {
		return stanza.New("pubsub", pubsub.NS).Append(stanza.New("options", pubsub.NS, "node", s.Node, "jid", s.JID, "subid", s.SubID).
			Append(optionsForm(s.Deliver))), nil
	}
	deliver, e := deliverOption(req, s.Deliver)
	if e != nil {
		return nil, e
	}
	s.Deliver = deliver
	_, err := m.db.Subscribe(ctx, s, 0)
	return nil, m.storeError(err, "pubsub subscription options not stored", s.Node)
}

// mySubscriptions lists the requester's subscriptions (XEP-0060 5.6).
func (m *Module) mySubscriptions(ctx context.Context, from jid.JID, node string) (*stanza.Element, *stanza.Error) {
	subs, err := m.db.SubscriptionsOf(ctx, from.Bare().String())
	if err != nil {
		return nil, m.storeError(err, "pubsub subscriptions not read", node)
	}
	list := stanza.New("subscriptions", pubsub.NS)
	if node != "" {
		list.SetAttr("node", node)
	}
	for _, s := range subs {
		if node == "" || s.Node == node {
			list.Append(subscriptionElement(pubsub.NS, s, true))
		}
	}
	return stanza.New("pubsub", pubsub.NS).Append(list), nil
}

// myAffiliations lists the requester's affiliations (XEP-0060 5.7).
func (m *Module) myAffiliations(ctx context.Context, from jid.JID, node string) (*stanza.Element, *stanza.Error) {
	as, err := m.db.ServiceAffiliations(ctx, "", from.Bare().String())
	if err != nil {
		return nil, m.storeError(err, "pubsub affiliations not read", node)
	}
	list := stanza.New("affiliations", pubsub.NS)
	if node != "" {
		list.SetAttr("node", node)
	}
	for _, a := range as {
		if node == "" || a.Node == node {
			list.Append(stanza.New("affiliation", pubsub.NS, "node", a.Node, "affiliation", a.Affiliation))
		}
	}
	return stanza.New("pubsub", pubsub.NS).Append(list), nil
}

// ownerSubscriptions lists or changes a node's subscriptions (XEP-0060
// 8.8): "subscribed" approves one (or subscribes a JID), "none" ends it.
func (m *Module) ownerSubscriptions(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.owned(ctx, req.Node, st.From)
	if e != nil {
		return nil, e
	}
	if st.Type == "get" {
		subs, err := m.db.ServiceSubscriptions(ctx, n.Node)
		if err != nil {
			return nil, m.storeError(err, "pubsub subscriptions not read", n.Node)
		}
		list := stanza.New("subscriptions", pubsub.NSOwner, "node", n.Node)
		for _, s := range subs {
			list.Append(subscriptionElement(pubsub.NSOwner, s, false))
		}
		return stanza.New("pubsub", pubsub.NSOwner).Append(list), nil
	}
	for _, en := range req.Entries {
		if e := m.setSubscription(ctx, n, en.JID, en.Value); e != nil {
			return nil, e
		}
	}
	return nil, nil
}

// setSubscription sets j's subscription to n as an owner decided, and
// tells j (XEP-0060 8.6.2, 8.8.4).
func (m *Module) setSubscription(ctx context.Context, n storage.PubsubNode, j jid.JID, state string) *stanza.Error {
	if state == "none" {
		err := m.db.Unsubscribe(ctx, n.Node, j.String())
		if errors.Is(err, storage.ErrNotFound) {
			return nil
		}
		if e := m.storeError(err, "pubsub subscription not deleted", n.Node); e != nil {
			return e
		}
	} else {
		old, err := m.db.ServiceSubscription(ctx, n.Node, j.String())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return m.storeError(err, "pubsub subscription not read", n.Node)
		}
		if err == nil && old.State == state {
			return nil
		}
		s := storage.PubsubSubscription{Node: n.Node, JID: j.String(), SubID: pubsub.NewID(), State: state, Deliver: true}
		if err == nil {
			s.Deliver = old.Deliver
		}
		unlock := m.order.Lock(n.Node)
		defer unlock()
		_, err = m.db.Subscribe(ctx, s, int(m.quota.PubsubSubscribers.Load()))
		if errors.Is(err, storage.ErrFull) {
			return stanza.NewError(stanza.Cancel, stanza.PolicyViolation, "this node has as many subscriptions as this service allows")
		}
		if e := m.storeError(err, "pubsub subscription not stored", n.Node); e != nil {
			return e
		}
	}
	pubsub.Send(ctx, m.r, m.host, []jid.JID{j}, stanza.New("subscription", pubsub.NSEvent, "node", n.Node, "jid", j.String(), "subscription", state))
	if state == subscribed && n.SendLast != pubsub.SendNever {
		m.sendLast(ctx, n, j)
	}
	return nil
}

// ownerAffiliations lists or changes a node's affiliations (XEP-0060
// 8.9); a node keeps at least one owner.
func (m *Module) ownerAffiliations(ctx context.Context, st *stanza.Stanza, req *pubsub.Request) (*stanza.Element, *stanza.Error) {
	n, e := m.owned(ctx, req.Node, st.From)
	if e != nil {
		return nil, e
	}
	as, err := m.db.ServiceAffiliations(ctx, n.Node, "")
	if err != nil {
		return nil, m.storeError(err, "pubsub affiliations not read", n.Node)
	}
	if st.Type == "get" {
		list := stanza.New("affiliations", pubsub.NSOwner, "node", n.Node)
		for _, a := range as {
			list.Append(stanza.New("affiliation", pubsub.NSOwner, "jid", a.JID, "affiliation", a.Affiliation))
		}
		return stanza.New("pubsub", pubsub.NSOwner).Append(list), nil
	}
	owners := map[string]bool{}
	for _, a := range as {
		if a.Affiliation == pubsub.Owner {
			owners[a.JID] = true
		}
	}
	var changes []storage.PubsubAffiliation
	for _, en := range req.Entries {
		j := en.JID.Bare().String()
		if en.Value == pubsub.Owner {
			owners[j] = true
		} else {
			delete(owners, j)
		}
		changes = append(changes, storage.PubsubAffiliation{Node: n.Node, JID: j, Affiliation: en.Value})
	}
	if len(owners) == 0 {
		// XEP-0060 8.9.2.4.
		return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "a node keeps at least one owner; make someone else owner first")
	}
	return nil, m.storeError(m.db.SetServiceAffiliations(ctx, n.Node, changes), "pubsub affiliations not stored", n.Node)
}

// askOwners sends the node's owners the authorization form for a pending
// subscription (XEP-0060 8.6.1).
func (m *Module) askOwners(ctx context.Context, n storage.PubsubNode, s storage.PubsubSubscription) {
	as, err := m.db.ServiceAffiliations(ctx, n.Node, "")
	if err != nil {
		m.log.Warn("pubsub owners not read; a subscription waits unasked", "node", n.Node, "err", err)
		return
	}
	field := func(v, typ, label, val string) *stanza.Element {
		f := stanza.New("field", stanza.NSDataForms, "var", v, "type", typ)
		if label != "" {
			f.SetAttr("label", label)
		}
		return f.Append(stanza.New("value", stanza.NSDataForms).AppendText(val))
	}
	for _, a := range as {
		if a.Affiliation != pubsub.Owner {
			continue
		}
		to, err := jid.Parse(a.JID)
		if err != nil {
			continue
		}
		id := pubsub.NewID()
		el := stanza.New("message", stanza.NSClient, "from", m.host.String(), "to", to.String(), "id", id).Append(
			stanza.New("x", stanza.NSDataForms, "type", "form").Append(
				stanza.New("title", stanza.NSDataForms).AppendText("Subscription request"),
				stanza.New("instructions", stanza.NSDataForms).AppendText(s.JID+" asks to subscribe to "+n.Node+". Allow it?"),
				field("FORM_TYPE", "hidden", "", pubsub.NSAuth),
				field("pubsub#subid", "hidden", "", s.SubID),
				field("pubsub#node", "text-single", "Node", n.Node),
				field("pubsub#subscriber_jid", "jid-single", "Subscriber", s.JID),
				field("pubsub#allow", "boolean", "Allow this JID to subscribe to this node?", "false")))
		m.r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindMessage, From: m.host, To: to, ID: id})
	}
}

// authorization takes an owner's answer to a subscription request, a
// submitted form in a message (XEP-0060 8.6.2).
func (m *Module) authorization(ctx context.Context, st *stanza.Stanza) {
	x := st.El.Child("x", stanza.NSDataForms)
	if x == nil || x.Attr("type") != "submit" {
		return
	}
	form, ftype, e := pubsub.ParseForm(x)
	if e != nil || ftype != pubsub.NSAuth {
		return
	}
	one := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	j, err := jid.Parse(one("pubsub#subscriber_jid"))
	if err != nil {
		return
	}
	n, e := m.owned(ctx, one("pubsub#node"), st.From)
	if e != nil {
		m.log.Debug("a subscription decision from someone who does not own the node was ignored", "from", st.From.Bare().String(), "node", one("pubsub#node"))
		return
	}
	s, err := m.db.ServiceSubscription(ctx, n.Node, j.String())
	if err != nil || s.State != pending {
		return
	}
	state := "none"
	if v := one("pubsub#allow"); v == "1" || v == "true" {
		state = subscribed
	}
	if e := m.setSubscription(ctx, n, j, state); e != nil {
		m.log.Warn("a subscription decision was not stored", "node", n.Node, "err", e.Text)
	}
}
