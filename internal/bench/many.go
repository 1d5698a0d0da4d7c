package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// loginMany logs in n streams with at most conc logins at a time; spec
// gives the account number and resource of stream i. A failed login leaves
// conns[i] nil.
func loginMany(ctx context.Context, d *dialer, n, conc int, spec func(i int) (acct int, resource string)) (conns []*Conn, failed int, first string) {
	conns = make([]*Conn, n)
	var (
		next, nfailed atomic.Int64
		errs          firstErr
		wg            sync.WaitGroup
	)
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				acct, res := spec(i)
				c, err := d.login(ctx, acct, res)
				if err != nil {
					nfailed.Add(1)
					errs.add(err)
					continue
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	// Indexes never claimed because ctx ended count as failed too.
	missing := 0
	for _, c := range conns {
		if c == nil {
			missing++
		}
	}
	if missing > int(nfailed.Load()) && errs.String() == "" && ctx.Err() != nil {
		errs.add(ctx.Err())
	}
	return conns, missing, errs.String()
}

// closeAll ends every open stream, 64 at a time.
func closeAll(conns []*Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		if c == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.Close()
		})
	}
	wg.Wait()
}

// crowd is connections logged in together for one scenario (loginMany),
// each read by a goroutine of its own until close.
type crowd struct {
	conns   []*Conn
	readers sync.WaitGroup
	closing atomic.Bool
}

// serveEach reads every connection, handing its stanzas to what handle
// returns for it; a connection lost before close is an error in errs.
func (cr *crowd) serveEach(errs *firstErr, handle func(i int, c *Conn) func(el []byte)) {
	for i, c := range cr.conns {
		cr.serve(errs, c, handle(i, c))
	}
}

// serve reads one connection (of the crowd's or not) with h.
func (cr *crowd) serve(errs *firstErr, c *Conn, h func(el []byte)) {
	cr.readers.Go(func() {
		err := c.serve(h)
		if !cr.closing.Load() {
			errs.add(fmt.Errorf("connection %s lost: %w", c.JID, err))
		}
	})
}

// close closes the connections and waits for their readers.
func (cr *crowd) close() {
	cr.closing.Store(true)
	closeAll(cr.conns)
	cr.readers.Wait()
}

// orDefault is v, or def when v is its type's zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
