package pep

import (
	"hash/maphash"
	"sync"
)

// order keeps an account's "last item" sends (XEP-0163 4.3.2) and its
// publishes from crossing: a new item is either read by the last-item
// send or notified by the publish, never both. Publishes and presence of
// one account hold its stripe; a caps answer, which can complete the
// features of contacts of many accounts at once and is rare (once per
// client version), holds all of them.
type order struct {
	seed    maphash.Seed
	stripes [32]sync.Mutex
}

func newOrder() *order { return &order{seed: maphash.MakeSeed()} }

func (o *order) lock(user string) func() {
	mu := &o.stripes[maphash.String(o.seed, user)%uint64(len(o.stripes))]
	mu.Lock()
	return mu.Unlock
}

func (o *order) lockAll() func() {
	for i := range o.stripes {
		o.stripes[i].Lock()
	}
	return func() {
		for i := len(o.stripes) - 1; i >= 0; i-- {
			o.stripes[i].Unlock()
		}
	}
}
