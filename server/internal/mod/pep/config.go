package pep

import (
	"strconv"

	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Access models (XEP-0060 4.5) the service has; roster and authorize it
// does not.
const (
	AccessOpen      = "open"
	AccessPresence  = "presence"
	AccessWhitelist = "whitelist"
)

// send_last_published_item values (XEP-0060 16.4.3).
const (
	sendNever    = "never"
	sendOnSub    = "on_sub"
	sendPresence = "on_sub_and_presence"
)

// defaultConfig is a new node's configuration (XEP-0163 4.2 and 6: the
// presence access model, the last item sent to contacts as they come
// online), for fields a publish-options or create form does not set.
func defaultConfig(node string) storage.PEPNode {
	return storage.PEPNode{Node: node, Access: AccessPresence, MaxItems: 1, Persist: true,
		SendLast: sendPresence, NotifyRetract: true, NotifyDelete: true}
}

// fixed are node options the service has one value for: a form may
// name them only with that value.
var fixed = map[string]string{
	"pubsub#deliver_payloads":        "1",
	"pubsub#deliver_notifications":   "1",
	"pubsub#presence_based_delivery": "1",
	"pubsub#publish_model":           "publishers",
	"pubsub#notification_type":       "headline",
	"pubsub#purge_offline":           "0",
	"pubsub#notify_config":           "0",
	"pubsub#notify_sub":              "0",
	"pubsub#subscribe":               "1",
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

// apply returns cfg with the form's fields applied. known is false for a
// field the service does not have (its name in bad), and e is
// not-acceptable for a value it cannot take (XEP-0060 8.2.5.3).
func apply(cfg storage.PEPNode, form map[string][]string) (out storage.PEPNode, bad string, e *stanza.Error) {
	notAcceptable := func(field string) (storage.PEPNode, string, *stanza.Error) {
		return cfg, "", stanza.NewError(stanza.Modify, stanza.NotAcceptable,
			"this server does not support "+field+" = '"+one(form[field])+"'")
	}
	for field, vals := range form {
		v := one(vals)
		switch field {
		case "pubsub#access_model":
			switch v {
			case AccessOpen, AccessPresence, AccessWhitelist:
				cfg.Access = v
			default:
				return notAcceptable(field)
			}
		case "pubsub#max_items":
			if v == "max" {
				cfg.MaxItems = 0
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return notAcceptable(field)
			}
			cfg.MaxItems = n
		case "pubsub#persist_items", "pubsub#notify_retract", "pubsub#notify_delete":
			b, ok := parseBool(v)
			if !ok {
				return notAcceptable(field)
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
			switch v {
			case sendNever, sendOnSub, sendPresence:
				cfg.SendLast = v
			default:
				return notAcceptable(field)
			}
		case "pubsub#title":
			cfg.Title = v
		case "pubsub#type", "pubsub#description":
			// Descriptive only.
		default:
			want, ok := fixed[field]
			if !ok {
				return cfg, field, nil
			}
			if b, isBool := parseBool(v); isBool && (want == "1" || want == "0") {
				if b != (want == "1") {
					return notAcceptable(field)
				}
			} else if v != want {
				return notAcceptable(field)
			}
		}
	}
	return cfg, "", nil
}

// configForm renders a node's configuration as the form of XEP-0060
// 8.2.1 (type form), with only the options the service has.
func configForm(cfg storage.PEPNode) *stanza.Element {
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
	boolean := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	field("FORM_TYPE", "hidden", "", nsConfig)
	field("pubsub#title", "text-single", "A name for the node", cfg.Title)
	option(field("pubsub#access_model", "list-single", "Who may see the items", cfg.Access), AccessOpen, AccessPresence, AccessWhitelist)
	max := "max"
	if cfg.MaxItems > 0 {
		max = strconv.Itoa(cfg.MaxItems)
	}
	field("pubsub#max_items", "text-single", "How many items to keep", max)
	field("pubsub#persist_items", "boolean", "Keep items", boolean(cfg.Persist))
	option(field("pubsub#send_last_published_item", "list-single", "When to send the last item", cfg.SendLast), sendNever, sendOnSub, sendPresence)
	field("pubsub#notify_retract", "boolean", "Tell when an item is retracted", boolean(cfg.NotifyRetract))
	field("pubsub#notify_delete", "boolean", "Tell when the node is deleted", boolean(cfg.NotifyDelete))
	field("pubsub#deliver_payloads", "boolean", "Send items with their payload", "1")
	return x
}
