// Package pubsub is the core of publish-subscribe (XEP-0060) that the two
// services share: each account's personal eventing (mod/pep, XEP-0163)
// and the service on pubsub.<domain> (mod/pubsubsvc). It reads requests,
// applies and renders node configuration forms, decides access, and
// builds and routes notifications; the services add their addressing,
// their owners and their subscribers. Items are stored by storage's
// shared item methods.
package pubsub

import (
	"bytes"
	"context"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Namespaces of XEP-0060 and its companions.
const (
	NS        = "http://jabber.org/protocol/pubsub"
	NSOwner   = "http://jabber.org/protocol/pubsub#owner"
	NSEvent   = "http://jabber.org/protocol/pubsub#event"
	NSErrors  = "http://jabber.org/protocol/pubsub#errors"
	NSConfig  = "http://jabber.org/protocol/pubsub#node_config"
	NSPubOpts = "http://jabber.org/protocol/pubsub#publish-options"
	NSSubOpts = "http://jabber.org/protocol/pubsub#subscribe_options"
	NSAuth    = "http://jabber.org/protocol/pubsub#subscribe_authorization"
	NSMeta    = "http://jabber.org/protocol/pubsub#meta-data"
	NSRSM     = "http://jabber.org/protocol/rsm"
)

// Error is an error with its pubsub#errors condition (XEP-0060 7-8).
func Error(typ, cond, pcond, text string) *stanza.Error {
	e := stanza.NewError(typ, cond, text)
	if pcond != "" {
		e.Extra = stanza.New(pcond, NSErrors)
	}
	return e
}

// Unsupported is feature-not-implemented with the feature named
// (XEP-0060 7.1.3.x, 8.x).
func Unsupported(feature string) *stanza.Error {
	e := stanza.NewError(stanza.Cancel, stanza.FeatureNotImplemented, "")
	e.Extra = stanza.New("unsupported", NSErrors, "feature", feature)
	return e
}

// PreconditionNotMet is XEP-0060 7.1.5's error for publish-options a
// node does not meet.
func PreconditionNotMet(text string) *stanza.Error {
	return Error(stanza.Cancel, stanza.Conflict, "precondition-not-met", text)
}

// NewID returns a random item or subscription id.
func NewID() string { return stanza.RandomID(12) }

// ParsePayload reads back a payload stored as XML.
func ParsePayload(raw []byte) (*stanza.Element, error) {
	d := stream.NewDecoder(bytes.NewReader(raw), stream.Limits{MaxStanza: len(raw) + 1})
	return d.Next()
}

// ItemElement rebuilds <item id='...'>payload</item> in namespace ns.
func ItemElement(ns string, it storage.PubsubItem) (*stanza.Element, error) {
	p, err := ParsePayload(it.Payload)
	if err != nil {
		return nil, err
	}
	return stanza.New("item", ns, "id", it.ID).Append(p), nil
}

// ItemsEvent is the notification of a published item (XEP-0060 7.1.2.1),
// with its payload or, when payload is nil, without (7.1.2.2).
func ItemsEvent(node, id string, payload *stanza.Element) *stanza.Element {
	it := stanza.New("item", NSEvent, "id", id)
	if payload != nil {
		it.Append(payload)
	}
	return stanza.New("items", NSEvent, "node", node).Append(it)
}

// RetractEvent is the notification of a retracted item (XEP-0060 7.2.2.1).
func RetractEvent(node, id string) *stanza.Element {
	return stanza.New("items", NSEvent, "node", node).Append(stanza.New("retract", NSEvent, "id", id))
}

// Send routes <message type='headline'><event>ev</event></message> from
// from to each of to (XEP-0060 7.1.2.1). ev is shared, not copied: the
// router only reads it.
func Send(ctx context.Context, r *router.Router, from jid.JID, to []jid.JID, ev *stanza.Element) {
	for _, j := range to {
		id := NewID()
		el := stanza.New("message", stanza.NSClient, "from", from.String(), "to", j.String(), "type", "headline", "id", id).
			Append(stanza.New("event", NSEvent).Append(ev))
		r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindMessage, From: from, To: j, Type: "headline", ID: id})
	}
}
