package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type loginsResult struct {
	result
	N      int64   `json:"n"`
	Failed int64   `json:"failed"`
	Conc   int     `json:"conc"`
	P50ms  float64 `json:"login_p50_ms"`
	P99ms  float64 `json:"login_p99_ms"`
	MaxMs  float64 `json:"login_max_ms"`
	lat    summary
}

func (r *loginsResult) line() string {
	return fmt.Sprintf("logins: %.1f/s (n=%d, failed=%d, conc=%d, %.1fs; login p50=%s p99=%s max=%s)",
		r.Value, r.N, r.Failed, r.Conc, r.Seconds, fmtDur(r.lat.P50), fmtDur(r.lat.P99), fmtDur(r.lat.Max))
}

// runLogins has --conc workers log in (connect, TLS, SASL, bind) and out
// (close the stream and wait for the server's close) back to back. Worker w
// uses accounts w, w+C, w+2C, ... with a fresh resource each time, so that
// concurrent logins to one account never conflict.
func runLogins(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	ctx, cancel := bounded(ctx, o.duration)
	defer cancel()
	var (
		done, failed atomic.Int64
		budget       atomic.Int64 // logins left to start, when --count is set
		errs         firstErr
		wg           sync.WaitGroup
		lats         = make([]samples, o.conc)
	)
	budget.Store(int64(o.count))
	start := time.Now()
	for w := range o.conc {
		wg.Go(func() {
			for k := 0; !ended(ctx); k++ {
				if o.count > 0 && budget.Add(-1) < 0 {
					return
				}
				acct := o.first + (w+k*o.conc)%o.users
				t0 := time.Now()
				c, err := d.login(ctx, acct, o.resource+strconv.Itoa(w)+"-"+strconv.Itoa(k))
				if err != nil {
					if ended(ctx) {
						return // cut off by the end of the run: neither success nor failure
					}
					failed.Add(1)
					errs.add(err)
					continue
				}
				lats[w] = append(lats[w], time.Since(t0))
				done.Add(1)
				if err := c.closeWait(o.timeout); err != nil && !ended(ctx) {
					failed.Add(1)
					errs.add(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all samples
	for _, l := range lats {
		all = append(all, l...)
	}
	s := summarize(all)
	r := &loginsResult{result: o.newResult("logins/s"), N: done.Load(), Failed: failed.Load(), Conc: o.conc, lat: s,
		P50ms: ms(s.P50), P99ms: ms(s.P99), MaxMs: ms(s.Max)}
	r.Value = round1(rate(r.N, elapsed))
	r.Seconds = round1(elapsed.Seconds())
	r.Error = errs.String()
	if r.N == 0 && r.Failed > 0 {
		return r, fmt.Errorf("every login failed")
	}
	return r, nil
}

// ended reports whether ctx is done or past its deadline: the timer that
// cancels a context can fire late on a loaded machine, while dialing already
// fails at once with a timeout.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// bounded returns ctx limited to d, or unlimited for d == 0.
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}
