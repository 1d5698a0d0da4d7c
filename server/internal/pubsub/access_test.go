package pubsub

import (
	"errors"
	"testing"

	"hearth/server/internal/stanza"
)

func TestMayAccess(t *testing.T) {
	yes := func() (bool, error) { return true, nil }
	no := func() (bool, error) { return false, nil }
	broken := func() (bool, error) { return false, errors.New("disk on fire") }
	for _, tt := range []struct {
		model string
		rq    Requester
		cond  string // "" allowed
		pcond string
		err   bool
	}{
		{AccessOpen, Requester{}, "", "", false},
		{AccessOpen, Requester{Affiliation: Outcast}, stanza.Forbidden, "", false},
		{AccessWhitelist, Requester{}, stanza.NotAllowed, "closed-node", false},
		{AccessWhitelist, Requester{Affiliation: Member}, "", "", false},
		{AccessWhitelist, Requester{Affiliation: Publisher}, "", "", false},
		{AccessPresence, Requester{Presence: yes}, "", "", false},
		{AccessPresence, Requester{Presence: no}, stanza.NotAuthorized, "presence-subscription-required", false},
		{AccessPresence, Requester{Presence: broken}, "", "", true},
		{AccessRoster, Requester{InGroups: yes}, "", "", false},
		{AccessRoster, Requester{InGroups: no}, stanza.NotAuthorized, "not-in-roster-group", false},
		// No check given (a personal node has no roster groups): no one.
		{AccessRoster, Requester{}, stanza.NotAuthorized, "not-in-roster-group", false},
		{AccessPresence, Requester{}, stanza.NotAuthorized, "presence-subscription-required", false},
		{AccessAuthorize, Requester{}, stanza.NotAuthorized, "not-subscribed", false},
		{AccessAuthorize, Requester{Subscribed: true}, "", "", false},
		{AccessAuthorize, Requester{Affiliation: Owner}, "", "", false},
		{"unknown", Requester{}, stanza.NotAllowed, "closed-node", false},
	} {
		e, err := MayAccess(tt.model, tt.rq)
		switch {
		case tt.err != (err != nil):
			t.Errorf("%s %+v: lookup error %v", tt.model, tt.rq.Affiliation, err)
		case tt.cond == "" && e != nil:
			t.Errorf("%s %+v: refused %v", tt.model, tt.rq.Affiliation, e)
		case tt.cond != "" && (e == nil || e.Condition != tt.cond):
			t.Errorf("%s %+v: %v, want %s", tt.model, tt.rq.Affiliation, e, tt.cond)
		case tt.pcond != "" && (e.Extra == nil || e.Extra.Name != tt.pcond):
			t.Errorf("%s: pubsub condition %v, want %s", tt.model, e.Extra, tt.pcond)
		}
	}
	for _, tt := range []struct {
		model, aff string
		sub, ok    bool
	}{
		{"publishers", Owner, false, true}, {"publishers", Publisher, false, true}, {"publishers", Member, true, false},
		{"subscribers", "", true, true}, {"subscribers", "", false, false}, {"open", "", false, true}, {"open", Outcast, false, false},
	} {
		if got := MayPublish(tt.model, tt.aff, tt.sub) == nil; got != tt.ok {
			t.Errorf("MayPublish(%s, %q, %v) = %v", tt.model, tt.aff, tt.sub, got)
		}
	}
}
