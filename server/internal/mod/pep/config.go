package pep

import (
	"hearth/server/internal/pubsub"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Access models (XEP-0060 4.5) a personal node may have; roster and
// authorize it does not.
const (
	AccessOpen      = pubsub.AccessOpen
	AccessPresence  = pubsub.AccessPresence
	AccessWhitelist = pubsub.AccessWhitelist
)

// send_last_published_item values (XEP-0060 16.4.3).
const (
	sendNever    = pubsub.SendNever
	sendOnSub    = pubsub.SendOnSub
	sendPresence = pubsub.SendPresence
)

// profile is what a personal node's configuration may be: delivery
// follows presence and payloads always go with notifications.
var profile = pubsub.Profile{
	Access:   []string{AccessOpen, AccessPresence, AccessWhitelist},
	SendLast: []string{sendNever, sendOnSub, sendPresence},
	Fixed: pubsub.FixedWith(map[string]string{
		"pubsub#deliver_payloads":        "1",
		"pubsub#presence_based_delivery": "1",
		"pubsub#publish_model":           "publishers",
	}),
}

// defaultConfig is a new node's configuration (XEP-0163 4.2 and 6: the
// presence access model, the last item sent to contacts as they come
// online), for fields a publish-options or create form does not set.
func defaultConfig(node string) storage.PubsubNode {
	return storage.PubsubNode{Node: node, Access: AccessPresence, MaxItems: 1, Persist: true,
		SendLast: sendPresence, NotifyRetract: true, NotifyDelete: true, DeliverPayloads: true, PublishModel: "publishers"}
}

// apply returns cfg with the form's fields applied (pubsub.Profile.Apply).
func apply(cfg storage.PubsubNode, form map[string][]string) (storage.PubsubNode, string, *stanza.Error) {
	return profile.Apply(cfg, form)
}

// configForm renders a node's configuration (pubsub.Profile.Form).
func configForm(cfg storage.PubsubNode) *stanza.Element { return profile.Form(cfg) }
