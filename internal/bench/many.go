package bench

import (
	"context"
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
