package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type idleResult struct {
	result
	Conns         int     `json:"conns"`
	Failed        int     `json:"failed"`
	Dropped       int64   `json:"dropped"`
	RSSBeforeKiB  int64   `json:"rss_before_kib"`
	RSSLoginKiB   int64   `json:"rss_after_login_kib"`
	RSSSettledKiB int64   `json:"rss_settled_kib"`
	PerConnLogin  float64 `json:"kib_per_conn_after_login"`
	ClientRSSKiB  int64   `json:"client_rss_kib"`
	LoginSeconds  float64 `json:"login_seconds"`
	pid           int
}

func (r *idleResult) line() string {
	if r.pid == 0 {
		return fmt.Sprintf("idle: held %d connections for %.1fs (failed=%d, dropped=%d, login %.1fs; no --pid, so no RSS)",
			r.Conns, r.Seconds, r.Failed, r.Dropped, r.LoginSeconds)
	}
	return fmt.Sprintf("idle: %.1f KiB/conn (n=%d, failed=%d, dropped=%d, server VmRSS %s -> %s after login -> %s after %.1fs; login %.1fs; client %s)",
		r.Value, r.Conns, r.Failed, r.Dropped, mib(r.RSSBeforeKiB), mib(r.RSSLoginKiB), mib(r.RSSSettledKiB), r.Seconds, r.LoginSeconds, mib(r.ClientRSSKiB))
}

func mib(kib int64) string { return fmt.Sprintf("%.1fMiB", float64(kib)/1024) }

// runIdle opens --conns authenticated streams that then do nothing but
// answer pings and send whitespace keepalives (RFC 6120 4.6.1), and measures
// what they cost the server in resident memory. Stream i logs in to account
// first+i%users with resource <prefix>-idle<i>, so 10,000 streams need no
// more than a hundred accounts (a server limiting sessions per account,
// such as ejabberd's max_user_sessions, needs enough --users).
func runIdle(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	if _, err := raiseNoFile(uint64(o.conns) + 256); err != nil {
		return nil, fmt.Errorf("raise open file limit: %w", err)
	}
	r := &idleResult{result: o.newResult("KiB/conn"), pid: o.pid}
	rss := func() int64 {
		if o.pid == 0 {
			return 0
		}
		kib, err := vmRSS(o.pid)
		if err != nil {
			r.Error = err.Error()
		}
		return kib
	}
	r.RSSBeforeKiB = rss()
	if r.Error != "" {
		return r, errors.New(r.Error)
	}
	run := runID()
	t0 := time.Now()
	conns, failed, first := loginMany(ctx, d, o.conns, o.conc, func(i int) (int, string) {
		return o.first + i%o.users, o.resource + "-idle" + strconv.Itoa(i) + "-" + run
	})
	r.LoginSeconds = round1(time.Since(t0).Seconds())
	r.Failed, r.Error = failed, first

	var (
		readers sync.WaitGroup
		closing atomic.Bool
		dropped atomic.Int64
	)
	for _, c := range conns {
		if c == nil {
			continue
		}
		r.Conns++
		c.shrink()
		if o.presence {
			if err := c.send([]byte("<presence/>")); err != nil {
				r.Dropped++
			}
		}
		readers.Go(func() {
			c.serve(nil)
			if !closing.Load() {
				dropped.Add(1)
			}
		})
	}
	r.RSSLoginKiB = rss()
	r.ClientRSSKiB, _ = vmRSS(os.Getpid())

	hold := time.NewTimer(o.duration)
	defer hold.Stop()
	var tick <-chan time.Time
	if o.keepalive > 0 {
		t := time.NewTicker(o.keepalive)
		defer t.Stop()
		tick = t.C
	}
	held := time.Now()
loop:
	for {
		select {
		case <-hold.C:
			break loop
		case <-ctx.Done():
			break loop
		case <-tick:
			for _, c := range conns {
				if c != nil {
					c.send([]byte{' '})
				}
			}
		}
	}
	r.Seconds = round1(time.Since(held).Seconds())
	r.RSSSettledKiB = rss()
	r.Dropped += dropped.Load()
	closing.Store(true)
	closeAll(conns)
	readers.Wait()

	if r.Conns > 0 && o.pid != 0 {
		r.Value = round1(float64(r.RSSSettledKiB-r.RSSBeforeKiB) / float64(r.Conns))
		r.PerConnLogin = round1(float64(r.RSSLoginKiB-r.RSSBeforeKiB) / float64(r.Conns))
	}
	if r.Conns == 0 {
		return r, errors.New("no connection logged in")
	}
	return r, nil
}

// vmRSS reads a process's resident set size in KiB from /proc (Linux).
func vmRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("server memory: %w", err)
	}
	defer f.Close()
	return parseVmRSS(f)
}

func parseVmRSS(f io.Reader) (int64, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			v = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))
			return strconv.ParseInt(string(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("server memory: no VmRSS in /proc status")
}
