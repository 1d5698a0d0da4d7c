// Package quota is what one account may keep on the server: roster items,
// resources bound at once, private XML and vCard bytes, block-list items.
// One Limits is shared by the parts that enforce them; the server changes
// it when a setting changes, and the next request sees the new value.
package quota

import (
	"fmt"
	"strings"
	"sync/atomic"

	"hearth/server/internal/stanza"
)

// Defaults, each written down here only.
const (
	DefaultRosterItems  = 1000
	DefaultResources    = 16
	DefaultPrivateBytes = 1 << 20
	DefaultVCardBytes   = 256 << 10
	DefaultBlockItems   = 1000
	// Personal eventing (XEP-0163): an avatar, OMEMO bundles for a few
	// devices and bookmarks fit many times over.
	DefaultPEPBytes = 4 << 20
	DefaultPEPNodes = 256
	// The publish-subscribe service (pubsub.<domain>): nodes an account
	// may create, items a node may keep, the size of one item's payload,
	// subscriptions a node may have.
	DefaultPubsubNodes       = 100
	DefaultPubsubItems       = 1000
	DefaultPubsubPayload     = 64 << 10
	DefaultPubsubSubscribers = 10000
)

// Limits are the per-account quotas.
type Limits struct {
	RosterItems  atomic.Int64
	Resources    atomic.Int64
	PrivateBytes atomic.Int64
	VCardBytes   atomic.Int64
	BlockItems   atomic.Int64
	PEPBytes     atomic.Int64 // payloads of published items
	PEPNodes     atomic.Int64

	PubsubNodes       atomic.Int64 // per account
	PubsubItems       atomic.Int64 // per node
	PubsubPayload     atomic.Int64 // bytes, per item
	PubsubSubscribers atomic.Int64 // per node
}

// New returns the default limits.
func New() *Limits {
	l := &Limits{}
	l.RosterItems.Store(DefaultRosterItems)
	l.Resources.Store(DefaultResources)
	l.PrivateBytes.Store(DefaultPrivateBytes)
	l.VCardBytes.Store(DefaultVCardBytes)
	l.BlockItems.Store(DefaultBlockItems)
	l.PEPBytes.Store(DefaultPEPBytes)
	l.PEPNodes.Store(DefaultPEPNodes)
	l.PubsubNodes.Store(DefaultPubsubNodes)
	l.PubsubItems.Store(DefaultPubsubItems)
	l.PubsubPayload.Store(DefaultPubsubPayload)
	l.PubsubSubscribers.Store(DefaultPubsubSubscribers)
	return l
}

// Full is the error for a request that would take an account past a
// quota: policy-violation (RFC 6120 8.3.3.16: a local service policy), of
// type modify (the user can make room first), with a text a person
// understands. what is "roster", "private storage" and so on; the text
// says how much is allowed and what to do.
func Full(what string, limit int64, unit string) *stanza.Error {
	return stanza.NewError(stanza.Modify, stanza.PolicyViolation,
		fmt.Sprintf("your %s is full: this server keeps at most %s per account; remove something first", what, Amount(limit, unit)))
}

// Amount writes a limit as people read it: "1000 contacts", "256 KiB".
func Amount(n int64, unit string) string {
	if unit != "bytes" {
		if n == 1 {
			if strings.HasSuffix(unit, "sses") {
				unit = strings.TrimSuffix(unit, "es")
			} else {
				unit = strings.TrimSuffix(unit, "s")
			}
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
