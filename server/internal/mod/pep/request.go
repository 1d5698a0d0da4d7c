package pep

import (
	"strconv"

	"hearth/server/internal/stanza"
)

// Namespaces of publish-subscribe (XEP-0060) and its personal profile.
const (
	NS        = "http://jabber.org/protocol/pubsub"
	NSOwner   = "http://jabber.org/protocol/pubsub#owner"
	NSEvent   = "http://jabber.org/protocol/pubsub#event"
	NSErrors  = "http://jabber.org/protocol/pubsub#errors"
	NSCaps    = "http://jabber.org/protocol/caps"
	nsConfig  = "http://jabber.org/protocol/pubsub#node_config"
	nsPubOpts = "http://jabber.org/protocol/pubsub#publish-options"
)

// request is a pubsub IQ as the service understands it: one action on one
// node, parsed once.
type request struct {
	// action is the element's name: publish, retract, items, create,
	// configure, delete, purge, default, subscriptions, affiliations,
	// subscribe, unsubscribe, options.
	action string
	owner  bool // in pubsub#owner
	node   string
	// items: publish's item (one), retract's ids, the ids items asks for.
	items    []item
	maxItems int  // items: max_items, 0 for all
	notify   bool // retract: notify='true'
	// form is publish-options (publish) or the configure form (create,
	// owner configure set); nil when there is none.
	form map[string][]string
	// formType is the form's FORM_TYPE.
	formType string
}

// item is one <item/>: its id and, for publish, its payload.
type item struct {
	id      string
	payload *stanza.Element
}

// pubsubError is an error with its pubsub#errors condition (XEP-0060 7-8).
func pubsubError(typ, cond, pcond, text string) *stanza.Error {
	e := stanza.NewError(typ, cond, text)
	if pcond != "" {
		e.Extra = stanza.New(pcond, NSErrors)
	}
	return e
}

// unsupported is feature-not-implemented with the feature named
// (XEP-0060 7.1.3.x, 8.x).
func unsupported(feature string) *stanza.Error {
	e := stanza.NewError(stanza.Cancel, stanza.FeatureNotImplemented, "")
	e.Extra = stanza.New("unsupported", NSErrors, "feature", feature)
	return e
}

// actions are the elements each namespace and IQ type may carry.
var actions = map[bool]map[string]map[string]bool{
	false: {
		"set": {"publish": true, "retract": true, "create": true, "subscribe": true, "unsubscribe": true, "options": true},
		"get": {"items": true, "subscriptions": true, "affiliations": true, "options": true},
	},
	true: {
		"set": {"configure": true, "delete": true, "purge": true, "subscriptions": true, "affiliations": true},
		"get": {"configure": true, "default": true, "subscriptions": true, "affiliations": true},
	},
}

// parseRequest reads a pubsub or pubsub#owner payload of an IQ of type
// typ. Errors are XEP-0060's for malformed requests.
func parseRequest(typ string, p *stanza.Element) (*request, *stanza.Error) {
	if p == nil || p.Name != "pubsub" || (p.NS != NS && p.NS != NSOwner) {
		return nil, stanza.ErrBadRequest("expected a pubsub element")
	}
	r := &request{owner: p.NS == NSOwner}
	var action, opts, configure *stanza.Element
	for _, c := range p.Children {
		if c.Name == "" {
			continue
		}
		if c.NS != p.NS {
			return nil, stanza.ErrBadRequest("unexpected <" + c.Name + "/> in the pubsub request")
		}
		switch {
		case !r.owner && c.Name == "publish-options":
			if opts != nil {
				return nil, stanza.ErrBadRequest("more than one publish-options")
			}
			opts = c
		case !r.owner && c.Name == "configure" && action != nil && action.Name == "create":
			configure = c
		case action == nil:
			action = c
		default:
			return nil, stanza.ErrBadRequest("a pubsub request has one action")
		}
	}
	if action == nil {
		return nil, stanza.ErrBadRequest("the pubsub request has no action")
	}
	r.action = action.Name
	if !actions[r.owner][typ][r.action] {
		if actions[r.owner]["get"][r.action] || actions[r.owner]["set"][r.action] {
			return nil, stanza.ErrBadRequest("<" + r.action + "/> is not a request of type " + typ)
		}
		return nil, unsupported(r.action)
	}
	if opts != nil && r.action != "publish" {
		return nil, stanza.ErrBadRequest("publish-options go with publish")
	}
	r.node = action.Attr("node")
	switch r.action {
	case "publish":
		if e := r.parseItems(action, true); e != nil {
			return nil, e
		}
		if len(r.items) > 1 {
			return nil, pubsubError(stanza.Modify, stanza.BadRequest, "invalid-payload", "publish one item at a time")
		}
		if len(r.items) == 0 {
			return nil, pubsubError(stanza.Modify, stanza.BadRequest, "item-required", "a personal eventing node needs an item with a payload")
		}
		if opts != nil {
			if e := r.parseForm(opts); e != nil {
				return nil, e
			}
		}
	case "retract":
		r.notify = action.Attr("notify") == "true" || action.Attr("notify") == "1"
		if e := r.parseItems(action, false); e != nil {
			return nil, e
		}
		if len(r.items) == 0 {
			return nil, pubsubError(stanza.Modify, stanza.BadRequest, "item-required", "name the item to retract")
		}
	case "items":
		if v := action.Attr("max_items"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, stanza.ErrBadRequest("max_items is a positive number")
			}
			r.maxItems = n
		}
		if e := r.parseItems(action, false); e != nil {
			return nil, e
		}
	case "create":
		if configure != nil {
			if e := r.parseForm(configure); e != nil {
				return nil, e
			}
		}
	case "configure":
		if r.owner && typ == "set" {
			if e := r.parseForm(action); e != nil {
				return nil, e
			}
			if r.form == nil {
				return nil, stanza.ErrBadRequest("send the configuration as a data form")
			}
		}
	}
	needsNode := map[string]bool{"publish": true, "retract": true, "items": true, "create": true,
		"configure": true, "delete": true, "purge": true}
	if needsNode[r.action] && r.node == "" {
		if r.action == "create" {
			// XEP-0060 8.1.2: instant nodes have no meaning on a
			// personal service, whose node names are namespaces.
			return nil, pubsubError(stanza.Modify, stanza.NotAcceptable, "nodeid-required", "name the node")
		}
		return nil, pubsubError(stanza.Modify, stanza.BadRequest, "nodeid-required", "name the node")
	}
	return r, nil
}

// parseItems reads the <item/> children of an action; with payload, each
// must carry exactly one payload element (XEP-0060 7.1.3.6).
func (r *request) parseItems(action *stanza.Element, payload bool) *stanza.Error {
	for _, c := range action.Children {
		if c.Name == "" {
			continue
		}
		if c.Name != "item" || c.NS != action.NS {
			return stanza.ErrBadRequest("unexpected <" + c.Name + "/> in <" + action.Name + "/>")
		}
		it := item{id: c.Attr("id")}
		if payload {
			els := c.Elements()
			switch len(els) {
			case 0:
				return pubsubError(stanza.Modify, stanza.BadRequest, "payload-required", "the item has no payload")
			case 1:
				it.payload = els[0]
			default:
				return pubsubError(stanza.Modify, stanza.BadRequest, "invalid-payload", "an item carries one payload element")
			}
		} else if it.id == "" {
			return pubsubError(stanza.Modify, stanza.BadRequest, "item-required", "an item needs its id")
		}
		r.items = append(r.items, it)
	}
	return nil
}

// parseForm reads the data form (XEP-0004) in parent, if any.
func (r *request) parseForm(parent *stanza.Element) *stanza.Error {
	x := parent.Child("x", stanza.NSDataForms)
	if x == nil {
		return nil
	}
	if t := x.Attr("type"); t != "submit" && t != "" {
		if t == "cancel" {
			return nil
		}
		return stanza.ErrBadRequest("the form must be submitted (type 'submit')")
	}
	r.form = make(map[string][]string)
	for _, f := range x.Children {
		if f.Name != "field" || f.NS != stanza.NSDataForms {
			continue
		}
		v := f.Attr("var")
		if v == "" {
			continue
		}
		if _, dup := r.form[v]; dup {
			return stanza.ErrBadRequest("field " + v + " appears twice")
		}
		vals := []string{}
		for _, val := range f.Children {
			if val.Name == "value" && val.NS == stanza.NSDataForms {
				vals = append(vals, val.Content())
			}
		}
		if v == "FORM_TYPE" {
			if len(vals) > 0 {
				r.formType = vals[0]
			}
			continue
		}
		r.form[v] = vals
	}
	return nil
}
