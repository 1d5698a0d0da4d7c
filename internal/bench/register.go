package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type registerResult struct {
	result
	Created int64 `json:"created"`
	Existed int64 `json:"existed"`
	Failed  int64 `json:"failed"`
}

func (r *registerResult) line() string {
	return fmt.Sprintf("register: %.1f accounts/s (created=%d, existed=%d, failed=%d, %.1fs)",
		r.Value, r.Created, r.Existed, r.Failed, r.Seconds)
}

var errExists = errors.New("account exists")

// runRegister creates accounts --first .. --first+--users-1 by in-band
// registration (XEP-0077 3.1), one stream per account, over TLS and before
// authentication. An existing account counts as existed, not failed, so the
// harness can run it before every benchmark. The server must allow it (for
// Prosody: allow_registration = true; its per-IP throttle exempts loopback).
func runRegister(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	var (
		next                     atomic.Int64
		created, existed, failed atomic.Int64
		errs                     firstErr
		wg                       sync.WaitGroup
	)
	start := time.Now()
	for range min(o.conc, o.users) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.users || ctx.Err() != nil {
					return
				}
				switch err := d.register(ctx, o.first+i); {
				case err == nil:
					created.Add(1)
				case errors.Is(err, errExists):
					existed.Add(1)
				default:
					failed.Add(1)
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := &registerResult{result: o.newResult("accounts/s"), Created: created.Load(), Existed: existed.Load(), Failed: failed.Load()}
	r.Value = round1(rate(r.Created+r.Existed, elapsed))
	r.Seconds = round1(elapsed.Seconds())
	r.Error = errs.String()
	if r.Failed > 0 {
		return r, fmt.Errorf("%d of %d registrations failed", r.Failed, o.users)
	}
	return r, nil
}

func (d *dialer) register(ctx context.Context, i int) error {
	c, _, err := d.negotiate(ctx, func(c *Conn, feats []byte) ([]byte, error) {
		offered := hasChild(feats, "register") // feats is overwritten by the next read
		b := []byte("<iq type='set' id='reg'><query xmlns='" + nsRegister + "'><username>")
		b = appendEscaped(b, d.user(i))
		b = append(b, "</username><password>"...)
		b = appendEscaped(b, d.password(i))
		b = append(b, "</password></query></iq>"...)
		if err := c.send(b); err != nil {
			return nil, err
		}
		el, err := c.awaitIQ("reg")
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", d.user(i), err)
		}
		if attrString(el, "type") == "result" {
			return nil, nil
		}
		switch cond := errorCondition(el); {
		case cond == "conflict":
			return nil, errExists
		case !offered:
			return nil, fmt.Errorf("register %s: %s (the server does not offer in-band registration)", d.user(i), cond)
		default:
			return nil, fmt.Errorf("register %s: %s", d.user(i), cond)
		}
	})
	if err != nil {
		return err
	}
	return c.closeWait(d.o.timeout)
}
