package pep

import (
	"hearth/server/internal/pubsub"
	"hearth/server/internal/stanza"
)

// Namespaces of publish-subscribe (XEP-0060) and its personal profile.
const (
	NS        = pubsub.NS
	NSOwner   = pubsub.NSOwner
	NSEvent   = pubsub.NSEvent
	NSCaps    = "http://jabber.org/protocol/caps"
	nsConfig  = pubsub.NSConfig
	nsPubOpts = pubsub.NSPubOpts
)

// parseRequest reads a pubsub or pubsub#owner payload of an IQ of type
// typ with the shared parser, and what a personal service does not have:
// instant nodes (XEP-0060 8.1.2: node names here are namespaces).
func parseRequest(typ string, p *stanza.Element) (*pubsub.Request, *stanza.Error) {
	r, e := pubsub.Parse(typ, p)
	if e != nil {
		return nil, e
	}
	switch {
	case r.Action == "create" && r.Node == "":
		return nil, pubsub.Error(stanza.Modify, stanza.NotAcceptable, "nodeid-required", "name the node")
	case r.Action == "default" && !r.Owner:
		return nil, pubsub.Unsupported("retrieve-default-sub")
	case r.Action == "items" && r.Page != nil:
		return nil, pubsub.Unsupported("rsm")
	}
	return r, nil
}
