package pubsub

import (
	"strconv"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Request is a pubsub IQ as the services understand it: one action on
// one node, parsed once.
type Request struct {
	// Action is the element's name: publish, retract, items, create,
	// configure, delete, purge, default, subscriptions, affiliations,
	// subscribe, unsubscribe, options.
	Action string
	Owner  bool // in pubsub#owner
	Node   string
	// Items: publish's item (one), retract's ids, the ids items asks for.
	Items    []Item
	MaxItems int  // items: max_items, 0 for all
	Notify   bool // retract: notify='true'
	// Form is publish-options (publish), the configure form (create,
	// owner configure set) or the subscription options (options set,
	// subscribe's options); nil when there is none.
	Form map[string][]string
	// FormType is the form's FORM_TYPE.
	FormType string
	// JID is subscribe's, unsubscribe's and options' jid.
	JID jid.JID
	// SubID is unsubscribe's and options' subid.
	SubID string
	// Page is XEP-0059 paging of items; nil when not asked.
	Page *Page
	// Entries are an owner's changes to subscriptions or affiliations
	// (XEP-0060 8.8.2, 8.9.2).
	Entries []Entry
}

// Item is one <item/>: its id and, for publish, its payload.
type Item struct {
	ID      string
	Payload *stanza.Element
}

// Page is a result set request (XEP-0059 2).
type Page struct {
	Max       int // -1: not given
	After     string
	Before    string
	HasBefore bool // <before/> was given ("" asks for the last page)
}

// Entry is one <subscription/> or <affiliation/> an owner sets.
type Entry struct {
	JID   jid.JID
	Value string // the subscription state or the affiliation
	SubID string
}

// MaxPage bounds a page of items.
const MaxPage = 1000

// actions are the elements each namespace and IQ type may carry.
var actions = map[bool]map[string]map[string]bool{
	false: {
		"set": {"publish": true, "retract": true, "create": true, "subscribe": true, "unsubscribe": true, "options": true},
		"get": {"items": true, "subscriptions": true, "affiliations": true, "options": true, "default": true},
	},
	true: {
		"set": {"configure": true, "delete": true, "purge": true, "subscriptions": true, "affiliations": true},
		"get": {"configure": true, "default": true, "subscriptions": true, "affiliations": true},
	},
}

// Parse reads a pubsub or pubsub#owner payload of an IQ of type typ.
// Errors are XEP-0060's for malformed requests.
func Parse(typ string, p *stanza.Element) (*Request, *stanza.Error) {
	if p == nil || p.Name != "pubsub" || (p.NS != NS && p.NS != NSOwner) {
		return nil, stanza.ErrBadRequest("expected a pubsub element")
	}
	r := &Request{Owner: p.NS == NSOwner}
	var action, opts, configure, subOpts, set *stanza.Element
	for _, c := range p.Children {
		if c.Name == "" {
			continue
		}
		if c.Name == "set" && c.NS == NSRSM && !r.Owner {
			if set != nil {
				return nil, stanza.ErrBadRequest("more than one result set request")
			}
			set = c
			continue
		}
		if c.NS != p.NS {
			return nil, stanza.ErrBadRequest("unexpected <" + c.Name + "/> in the pubsub request")
		}
		switch {
		case !r.Owner && c.Name == "publish-options":
			if opts != nil {
				return nil, stanza.ErrBadRequest("more than one publish-options")
			}
			opts = c
		case !r.Owner && c.Name == "configure" && action != nil && action.Name == "create" && configure == nil:
			configure = c
		case !r.Owner && c.Name == "options" && action != nil && action.Name == "subscribe" && subOpts == nil:
			subOpts = c
		case action == nil:
			action = c
		default:
			return nil, stanza.ErrBadRequest("a pubsub request has one action")
		}
	}
	if action == nil {
		return nil, stanza.ErrBadRequest("the pubsub request has no action")
	}
	r.Action = action.Name
	if !actions[r.Owner][typ][r.Action] {
		if actions[r.Owner]["get"][r.Action] || actions[r.Owner]["set"][r.Action] {
			return nil, stanza.ErrBadRequest("<" + r.Action + "/> is not a request of type " + typ)
		}
		return nil, Unsupported(r.Action)
	}
	if opts != nil && r.Action != "publish" {
		return nil, stanza.ErrBadRequest("publish-options go with publish")
	}
	if set != nil && r.Action != "items" {
		return nil, stanza.ErrBadRequest("a result set request goes with items")
	}
	r.Node = action.Attr("node")
	switch r.Action {
	case "publish":
		if e := r.parseItems(action, true); e != nil {
			return nil, e
		}
		if len(r.Items) > 1 {
			return nil, Error(stanza.Modify, stanza.BadRequest, "invalid-payload", "publish one item at a time")
		}
		if len(r.Items) == 0 {
			return nil, Error(stanza.Modify, stanza.BadRequest, "item-required", "this service needs an item with a payload")
		}
		if opts != nil {
			if e := r.parseForm(opts); e != nil {
				return nil, e
			}
		}
	case "retract":
		r.Notify = action.Attr("notify") == "true" || action.Attr("notify") == "1"
		if e := r.parseItems(action, false); e != nil {
			return nil, e
		}
		if len(r.Items) == 0 {
			return nil, Error(stanza.Modify, stanza.BadRequest, "item-required", "name the item to retract")
		}
	case "items":
		if v := action.Attr("max_items"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return nil, stanza.ErrBadRequest("max_items is a positive number")
			}
			r.MaxItems = n
		}
		if e := r.parseItems(action, false); e != nil {
			return nil, e
		}
		if set != nil {
			pg, e := parsePage(set)
			if e != nil {
				return nil, e
			}
			r.Page = pg
		}
	case "create":
		if configure != nil {
			if e := r.parseForm(configure); e != nil {
				return nil, e
			}
		}
	case "configure":
		if r.Owner && typ == "set" {
			if e := r.parseForm(action); e != nil {
				return nil, e
			}
			if r.Form == nil {
				return nil, stanza.ErrBadRequest("send the configuration as a data form")
			}
		}
	case "subscribe", "unsubscribe", "options":
		v := action.Attr("jid")
		if v == "" {
			return nil, Error(stanza.Modify, stanza.BadRequest, "jid-required", "name the JID (your own)")
		}
		j, err := jid.Parse(v)
		if err != nil {
			return nil, Error(stanza.Modify, stanza.BadRequest, "invalid-jid", "the jid is not a valid JID")
		}
		r.JID = j
		r.SubID = action.Attr("subid")
		if subOpts != nil {
			action = subOpts
		}
		if r.Action != "unsubscribe" {
			if e := r.parseForm(action); e != nil {
				return nil, e
			}
			if r.Action == "options" && typ == "set" && r.Form == nil {
				return nil, stanza.ErrBadRequest("send the subscription options as a data form")
			}
		}
	case "subscriptions", "affiliations":
		if r.Owner && typ == "set" {
			if e := r.parseEntries(action); e != nil {
				return nil, e
			}
		}
	}
	needsNode := map[string]bool{"publish": true, "retract": true, "items": true,
		"configure": true, "delete": true, "purge": true, "subscribe": true, "unsubscribe": true, "options": true}
	if r.Owner && (r.Action == "subscriptions" || r.Action == "affiliations") {
		needsNode[r.Action] = true
	}
	if needsNode[r.Action] && r.Node == "" {
		return nil, Error(stanza.Modify, stanza.BadRequest, "nodeid-required", "name the node")
	}
	return r, nil
}

// parseItems reads the <item/> children of an action; with payload, each
// must carry exactly one payload element (XEP-0060 7.1.3.6).
func (r *Request) parseItems(action *stanza.Element, payload bool) *stanza.Error {
	for _, c := range action.Children {
		if c.Name == "" {
			continue
		}
		if c.Name != "item" || c.NS != action.NS {
			return stanza.ErrBadRequest("unexpected <" + c.Name + "/> in <" + action.Name + "/>")
		}
		it := Item{ID: c.Attr("id")}
		if payload {
			els := c.Elements()
			switch len(els) {
			case 0:
				return Error(stanza.Modify, stanza.BadRequest, "payload-required", "the item has no payload")
			case 1:
				it.Payload = els[0]
			default:
				return Error(stanza.Modify, stanza.BadRequest, "invalid-payload", "an item carries one payload element")
			}
		} else if it.ID == "" {
			return Error(stanza.Modify, stanza.BadRequest, "item-required", "an item needs its id")
		}
		r.Items = append(r.Items, it)
	}
	return nil
}

// parseEntries reads an owner's <subscription/> or <affiliation/> list.
func (r *Request) parseEntries(action *stanza.Element) *stanza.Error {
	want, attr := "subscription", "subscription"
	if action.Name == "affiliations" {
		want, attr = "affiliation", "affiliation"
	}
	for _, c := range action.Children {
		if c.Name == "" {
			continue
		}
		if c.Name != want || c.NS != action.NS {
			return stanza.ErrBadRequest("unexpected <" + c.Name + "/> in <" + action.Name + "/>")
		}
		j, err := jid.Parse(c.Attr("jid"))
		if err != nil || c.Attr("jid") == "" {
			return stanza.ErrBadRequest("each " + want + " needs a valid jid")
		}
		v := c.Attr(attr)
		ok := map[string]bool{"none": true, "subscribed": true, "pending": true}[v]
		if want == "affiliation" {
			ok = map[string]bool{"none": true, Owner: true, Publisher: true, Member: true, Outcast: true}[v]
			j = j.Bare()
		}
		if !ok {
			return stanza.ErrBadRequest("'" + v + "' is not a " + want + " this service knows")
		}
		r.Entries = append(r.Entries, Entry{JID: j, Value: v, SubID: c.Attr("subid")})
	}
	if len(r.Entries) == 0 {
		return stanza.ErrBadRequest("name at least one " + want)
	}
	return nil
}

// parsePage reads <set xmlns='http://jabber.org/protocol/rsm'/>.
func parsePage(set *stanza.Element) (*Page, *stanza.Error) {
	pg := &Page{Max: -1}
	for _, c := range set.Children {
		if c.Name == "" || c.NS != NSRSM {
			continue
		}
		switch c.Name {
		case "max":
			n, err := strconv.Atoi(c.Content())
			if err != nil || n < 0 {
				return nil, stanza.ErrBadRequest("<max/> is a number, 0 or more")
			}
			pg.Max = min(n, MaxPage)
		case "after":
			if c.Content() == "" {
				return nil, stanza.ErrBadRequest("<after/> names an item")
			}
			pg.After = c.Content()
		case "before":
			pg.Before, pg.HasBefore = c.Content(), true
		case "index":
			return nil, Unsupported("rsm-index")
		}
	}
	if pg.After != "" && pg.HasBefore {
		return nil, stanza.ErrBadRequest("ask for the page after an item or before one, not both")
	}
	return pg, nil
}

// parseForm reads the data form (XEP-0004) in parent, if any.
func (r *Request) parseForm(parent *stanza.Element) *stanza.Error {
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
	form, ftype, e := ParseForm(x)
	if e != nil {
		return e
	}
	r.Form, r.FormType = form, ftype
	return nil
}

// ParseForm reads a submitted data form's fields and FORM_TYPE.
func ParseForm(x *stanza.Element) (form map[string][]string, formType string, e *stanza.Error) {
	form = make(map[string][]string)
	for _, f := range x.Children {
		if f.Name != "field" || f.NS != stanza.NSDataForms {
			continue
		}
		v := f.Attr("var")
		if v == "" {
			continue
		}
		if _, dup := form[v]; dup || (v == "FORM_TYPE" && formType != "") {
			return nil, "", stanza.ErrBadRequest("field " + v + " appears twice")
		}
		vals := []string{}
		for _, val := range f.Children {
			if val.Name == "value" && val.NS == stanza.NSDataForms {
				vals = append(vals, val.Content())
			}
		}
		if v == "FORM_TYPE" {
			if len(vals) > 0 {
				formType = vals[0]
			}
			continue
		}
		form[v] = vals
	}
	return form, formType, nil
}
