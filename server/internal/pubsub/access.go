package pubsub

import (
	"hearth/server/internal/stanza"
)

// Access models (XEP-0060 4.5).
const (
	AccessOpen      = "open"
	AccessPresence  = "presence"
	AccessRoster    = "roster"
	AccessAuthorize = "authorize"
	AccessWhitelist = "whitelist"
)

// Affiliations (XEP-0060 4.1); "" is none.
const (
	Owner     = "owner"
	Publisher = "publisher"
	Member    = "member"
	Outcast   = "outcast"
)

// Requester is what an access check knows about who asks.
type Requester struct {
	// Affiliation is the requester's affiliation with the node.
	Affiliation string
	// Subscribed: the requester's subscription was approved (the
	// authorize model).
	Subscribed bool
	// Presence reports whether the requester has a presence
	// subscription to the node's owner (the presence model); nil: no
	// one has.
	Presence func() (bool, error)
	// InGroups reports whether the requester is in one of the roster
	// groups the node allows (the roster model); nil: no one is (a
	// personal node, which has no roster model, stored with it).
	InGroups func() (bool, error)
}

// MayAccess decides whether the requester may see a node with the given
// access model's items and subscribe to it (XEP-0060 4.5, 6.1.3, 6.5.9):
// nil, or the error to answer; err is a lookup that failed.
func MayAccess(model string, rq Requester) (e *stanza.Error, err error) {
	switch rq.Affiliation {
	case Outcast:
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "you are banned from this node"), nil
	case Owner, Publisher, Member:
		return nil, nil
	}
	switch model {
	case AccessOpen:
		return nil, nil
	case AccessPresence:
		ok, err := ask(rq.Presence)
		if err != nil || ok {
			return nil, err
		}
		return Error(stanza.Auth, stanza.NotAuthorized, "presence-subscription-required", ""), nil
	case AccessRoster:
		ok, err := ask(rq.InGroups)
		if err != nil || ok {
			return nil, err
		}
		return Error(stanza.Auth, stanza.NotAuthorized, "not-in-roster-group", ""), nil
	case AccessAuthorize:
		if rq.Subscribed {
			return nil, nil
		}
		return Error(stanza.Auth, stanza.NotAuthorized, "not-subscribed", ""), nil
	}
	// XEP-0060 6.5.9.7 (closed node): whitelist and anything unknown.
	return Error(stanza.Cancel, stanza.NotAllowed, "closed-node", ""), nil
}

// ask calls a check, false if there is none.
func ask(check func() (bool, error)) (bool, error) {
	if check == nil {
		return false, nil
	}
	return check()
}

// MayPublish decides whether an entity with affiliation aff (subscribed
// or not) may publish to a node with the given publish model (XEP-0060
// 7.1.3.1).
func MayPublish(model, aff string, subscribed bool) *stanza.Error {
	switch {
	case aff == Outcast:
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "you are banned from this node")
	case aff == Owner || aff == Publisher:
		return nil
	case model == "open", model == "subscribers" && subscribed:
		return nil
	}
	return stanza.NewError(stanza.Auth, stanza.Forbidden, "only the node's owners and publishers may publish to it")
}
