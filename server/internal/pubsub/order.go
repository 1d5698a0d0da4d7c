package pubsub

import (
	"hash/maphash"
	"sync"
)

// Order keeps "last item" sends (XEP-0163 4.3.2, XEP-0060 6.1.7) and
// publishes from crossing: a new item is either read by the last-item
// send or notified by the publish, never both, and never neither. A
// personal service orders by account, the service by node: publishes and
// presence (or subscriptions) of one key hold its stripe; a caps answer,
// which can complete the features of contacts of many accounts at once
// and is rare (once per client version), holds all of them.
type Order struct {
	seed    maphash.Seed
	stripes [32]sync.Mutex
}

// NewOrder returns an Order.
func NewOrder() *Order { return &Order{seed: maphash.MakeSeed()} }

// Lock holds key's stripe; call what it returns to let go.
func (o *Order) Lock(key string) func() {
	mu := &o.stripes[maphash.String(o.seed, key)%uint64(len(o.stripes))]
	mu.Lock()
	return mu.Unlock
}

// LockAll holds every stripe; call what it returns to let go.
func (o *Order) LockAll() func() {
	for i := range o.stripes {
		o.stripes[i].Lock()
	}
	return func() {
		for i := len(o.stripes) - 1; i >= 0; i-- {
			o.stripes[i].Unlock()
		}
	}
}
