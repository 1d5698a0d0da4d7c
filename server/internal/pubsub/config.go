package pubsub

import (
	"strconv"
	"strings"

	"hearth/server/internal/stanza"
	"hearth/storage"
)

// send_last_published_item values (XEP-0060 16.4.3).
const (
	SendNever    = "never"
	SendOnSub    = "on_sub"
	SendPresence = "on_sub_and_presence"
)

// Profile is what a service lets a node's configuration be: the options
// it has and the values of those it fixes.
type Profile struct {
	// Access are the access models a node may have, in the order the
	// form offers them.
	Access []string
	// SendLast are the pubsub#send_last_published_item values a node
	// may have.
	SendLast []string
	// Fixed are node options with one value: a form may name them only
	// with that value.
	Fixed map[string]string
	// Service: the node has the service's own options
	// (deliver_payloads, publish_model, roster_groups_allowed,
	// description).
	Service bool
	// MaxItems bounds pubsub#max_items ("max" is this bound); 0: none
	// ("max" is stored as 0).
	MaxItems func() int
}

// fixed are options neither service lets change.
var fixed = map[string]string{
	"pubsub#deliver_notifications": "1",
	"pubsub#notification_type":     "headline",
	"pubsub#purge_offline":         "0",
	"pubsub#notify_config":         "0",
	"pubsub#notify_sub":            "0",
	"pubsub#subscribe":             "1",
}

// FixedWith returns the options fixed by both services and those in more.
func FixedWith(more map[string]string) map[string]string {
	out := make(map[string]string, len(fixed)+len(more))
	for k, v := range fixed {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "1", "true":
		return true, true
	case "0", "false":
		return false, true
	}
	return false, false
}

// one returns the single value of a field.
func one(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}

// Apply returns cfg with the form's fields applied. bad names a field the
// service does not have, and e is not-acceptable for a value it cannot
// take (XEP-0060 8.2.5.3).
func (p Profile) Apply(cfg storage.PubsubNode, form map[string][]string) (out storage.PubsubNode, bad string, e *stanza.Error) {
	notAcceptable := func(field, why string) (storage.PubsubNode, string, *stanza.Error) {
		return cfg, "", stanza.NewError(stanza.Modify, stanza.NotAcceptable,
			"this server does not support "+field+" = '"+one(form[field])+"'"+why)
	}
	for field, vals := range form {
		v := one(vals)
		switch field {
		case "pubsub#access_model":
			if !contains(p.Access, v) {
				return notAcceptable(field, "")
			}
			cfg.Access = v
		case "pubsub#max_items":
			limit := 0
			if p.MaxItems != nil {
				limit = p.MaxItems()
			}
			if v == "max" {
				cfg.MaxItems = limit
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return notAcceptable(field, "")
			}
			if limit > 0 && n > limit {
				return notAcceptable(field, "; a node keeps at most "+strconv.Itoa(limit)+" items here")
			}
			cfg.MaxItems = n
		case "pubsub#persist_items", "pubsub#notify_retract", "pubsub#notify_delete":
			b, ok := parseBool(v)
			if !ok {
				return notAcceptable(field, "")
			}
			switch field {
			case "pubsub#persist_items":
				cfg.Persist = b
			case "pubsub#notify_retract":
				cfg.NotifyRetract = b
			default:
				cfg.NotifyDelete = b
			}
		case "pubsub#send_last_published_item":
			if !contains(p.SendLast, v) {
				return notAcceptable(field, "")
			}
			cfg.SendLast = v
		case "pubsub#title":
			cfg.Title = v
		case "pubsub#type":
			// Descriptive only.
		case "pubsub#description":
			if p.Service {
				cfg.Description = v
			}
		case "pubsub#deliver_payloads":
			if !p.Service {
				if out, bad, e := p.fixedValue(cfg, field, v, form); bad != "" || e != nil {
					return out, bad, e
				}
				continue
			}
			b, ok := parseBool(v)
			if !ok {
				return notAcceptable(field, "")
			}
			cfg.DeliverPayloads = b
		case "pubsub#publish_model":
			if !p.Service {
				if out, bad, e := p.fixedValue(cfg, field, v, form); bad != "" || e != nil {
					return out, bad, e
				}
				continue
			}
			switch v {
			case "publishers", "subscribers", "open":
				cfg.PublishModel = v
			default:
				return notAcceptable(field, "")
			}
		case "pubsub#roster_groups_allowed":
			if !p.Service {
				return cfg, field, nil
			}
			var gs []string
			for _, g := range vals {
				if g = strings.TrimSpace(g); g != "" && !strings.Contains(g, "\n") {
					gs = append(gs, g)
				}
			}
			cfg.RosterGroups = strings.Join(gs, "\n")
		default:
			if out, bad, e := p.fixedValue(cfg, field, v, form); bad != "" || e != nil {
				return out, bad, e
			}
		}
	}
	return cfg, "", nil
}

// fixedValue checks a field the profile fixes.
func (p Profile) fixedValue(cfg storage.PubsubNode, field, v string, form map[string][]string) (storage.PubsubNode, string, *stanza.Error) {
	want, ok := p.Fixed[field]
	if !ok {
		return cfg, field, nil
	}
	if b, isBool := parseBool(v); isBool && (want == "1" || want == "0") {
		if b == (want == "1") {
			return cfg, "", nil
		}
	} else if v == want {
		return cfg, "", nil
	}
	return cfg, "", stanza.NewError(stanza.Modify, stanza.NotAcceptable,
		"this server does not support "+field+" = '"+one(form[field])+"'")
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Form renders a node's configuration as the form of XEP-0060 8.2.1
// (type form), with only the options the profile has.
func (p Profile) Form(cfg storage.PubsubNode) *stanza.Element {
	x := stanza.New("x", stanza.NSDataForms, "type", "form")
	field := func(v, typ, label string, vals ...string) *stanza.Element {
		f := stanza.New("field", stanza.NSDataForms, "var", v, "type", typ, "label", label)
		for _, val := range vals {
			f.Append(stanza.New("value", stanza.NSDataForms).AppendText(val))
		}
		x.Append(f)
		return f
	}
	option := func(f *stanza.Element, vals ...string) {
		for _, v := range vals {
			f.Append(stanza.New("option", stanza.NSDataForms).Append(stanza.New("value", stanza.NSDataForms).AppendText(v)))
		}
	}
	field("FORM_TYPE", "hidden", "", NSConfig)
	field("pubsub#title", "text-single", "A name for the node", cfg.Title)
	if p.Service {
		field("pubsub#description", "text-single", "What the node is about", cfg.Description)
	}
	option(field("pubsub#access_model", "list-single", "Who may see the items", cfg.Access), p.Access...)
	if p.Service {
		var groups []string
		if cfg.RosterGroups != "" {
			groups = strings.Split(cfg.RosterGroups, "\n")
		}
		field("pubsub#roster_groups_allowed", "list-multi", "The roster groups that may see the items (access model roster)", groups...)
		option(field("pubsub#publish_model", "list-single", "Who may publish", cfg.PublishModel), "publishers", "subscribers", "open")
	}
	max := "max"
	if cfg.MaxItems > 0 {
		max = strconv.Itoa(cfg.MaxItems)
	}
	field("pubsub#max_items", "text-single", "How many items to keep", max)
	field("pubsub#persist_items", "boolean", "Keep items", Bool(cfg.Persist))
	option(field("pubsub#send_last_published_item", "list-single", "When to send the last item", cfg.SendLast), p.SendLast...)
	field("pubsub#notify_retract", "boolean", "Tell when an item is retracted", Bool(cfg.NotifyRetract))
	field("pubsub#notify_delete", "boolean", "Tell when the node is deleted", Bool(cfg.NotifyDelete))
	field("pubsub#deliver_payloads", "boolean", "Send items with their payload", Bool(cfg.DeliverPayloads))
	return x
}

// Bool is a boolean field's value.
func Bool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
