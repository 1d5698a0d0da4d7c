package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

type preauthResult struct {
	result
	Conns          int     `json:"conns"`
	Refused        int     `json:"refused"` // closed by the server before the hold ended
	SentKiB        int64   `json:"sent_kib"`
	RSSBeforeKiB   int64   `json:"rss_before_kib"`
	RSSHeldKiB     int64   `json:"rss_held_kib"`
	RSSAfterKiB    int64   `json:"rss_after_close_kib"`
	PerConnHeldKiB float64 `json:"kib_per_conn_held"`
	pid            int
}

func (r *preauthResult) line() string {
	return fmt.Sprintf("preauth: server VmRSS %s -> %s held (%+.1f MiB, %.1f KiB/conn) -> %s %.0fs after they closed (n=%d, refused or cut off=%d, sent %s)",
		mib(r.RSSBeforeKiB), mib(r.RSSHeldKiB), float64(r.RSSHeldKiB-r.RSSBeforeKiB)/1024, r.PerConnHeldKiB,
		mib(r.RSSAfterKiB), r.Seconds, r.Conns, r.Refused, mib(r.SentKiB))
}

// preauthElements are what the connections send after their stream
// header, in turn: elements that never end. The first has 4,095 empty
// children each followed by one byte of text, the largest a server that
// parsed unauthenticated input with its full limits (256 KiB, 4,096
// elements) would take; the second, 46 children and 9,800 bytes of text,
// stays just inside limits of 10 KiB and 48 nodes, so a server with such
// limits holds it until its authentication timeout.
var preauthElements = []string{
	"<x>" + strings.Repeat("<y/>z", 4095),
	"<x>" + strings.Repeat("<y/>", 46) + strings.Repeat("z", 9800),
}

// runPreauth measures what connections that never log in cost the server
// (RFC 6120 13.12): --conns plain TCP streams each send a header and one
// unfinished element (preauthElements, in turn), and hold for --duration;
// then they close, and the server's VmRSS is read again after as long.
func runPreauth(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	if _, err := raiseNoFile(uint64(o.conns) + 256); err != nil {
		return nil, fmt.Errorf("raise open file limit: %w", err)
	}
	r := &preauthResult{result: o.newResult("KiB/conn"), Conns: o.conns, pid: o.pid}
	rss := func() int64 {
		kib, err := vmRSS(o.pid)
		if err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		return kib
	}
	r.RSSBeforeKiB = rss()
	header := fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>`, o.domain)
	t0 := time.Now()
	var (
		mu      sync.Mutex
		conns   []net.Conn
		wg      sync.WaitGroup
		refused int
		sent    int64
	)
	sem := make(chan struct{}, max(o.conc, 1))
	for i := range o.conns {
		payload := []byte(header + preauthElements[i%len(preauthElements)])
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var nd net.Dialer
			c, err := nd.DialContext(ctx, "tcp", d.addr)
			if err != nil {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			n, _ := c.Write(payload)
			mu.Lock()
			conns = append(conns, c)
			sent += int64(n)
			mu.Unlock()
		})
	}
	wg.Wait()
	// Hold, then see which the server has closed already.
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	r.RSSHeldKiB = rss()
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		b := make([]byte, 4096)
		for {
			_, err := c.Read(b)
			if err == nil {
				continue
			}
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				refused++ // closed by the server
			}
			break
		}
		c.Close()
	}
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
	}
	r.RSSAfterKiB = rss()
	r.Refused = refused
	r.SentKiB = sent / 1024
	r.Seconds = round1(time.Since(t0).Seconds())
	r.PerConnHeldKiB = round1(float64(r.RSSHeldKiB-r.RSSBeforeKiB) / float64(o.conns))
	r.Value = r.PerConnHeldKiB
	return r, nil
}
