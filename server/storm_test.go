package server_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/xmpptest"
	"hearth/storage"
)

// BenchmarkLoginDuringPresenceStorm: another user's login while one
// account with 2,000 contacts of 2 KB each and 300 resources sends initial
// presence from all of them at once. Each iteration is one storm (all 300 go
// available, or unavailable again) with a login started just after it;
// reports the logins' mean and worst latency.
func BenchmarkLoginDuringPresenceStorm(b *testing.B) {
	const resources, contacts = 300, 2000
	srv := xmpptest.Start(b)
	ctx := context.Background()
	for key, value := range map[string]string{
		"limits.resources": "1000", "limits.roster_items": "5000", "limits.connections_per_address": "2000",
	} {
		srv.Admin.SetSetting(ctx, key, value) // a build without the setting ignores it
	}
	srv.AddUser(b, "big", "storm-cloud-pw")
	srv.AddUser(b, "other", "quiet-harbour-pw")
	for i := range contacts {
		sub := "none"
		if i%10 == 0 {
			sub = "from" // some see big's presence: broadcasts and probes
		}
		// Names and groups as long as the roster rules allow make every
		// read of the whole roster heavy.
		it := storage.RosterItem{Contact: fmt.Sprintf("contact%d@hearth.test", i), Subscription: sub,
			Name: strings.Repeat("n", 1000), Groups: []string{strings.Repeat("g", 1000)}}
		if _, err := srv.DB.PutRosterItem(ctx, "big", it); err != nil {
			b.Fatal(err)
		}
	}
	clients := make([]*xmpptest.Client, resources)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := srv.Dial("big", "storm-cloud-pw", fmt.Sprintf("r%d", i))
			if err != nil {
				b.Error(err)
				return
			}
			c.Use(b)
			c.Stop() // nobody reads: what they are sent stays in the server's queues and sockets
			clients[i] = c
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		p := `<presence/>`
		if i%2 == 1 {
			p = `<presence type='unavailable'/>`
		}
		for _, c := range clients {
			go c.Send(p)
		}
		start := time.Now()
		c, err := srv.Dial("other", "quiet-harbour-pw", fmt.Sprintf("o%d", i))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		c.Abort()
		time.Sleep(time.Second) // let the storm pass
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(lat)), "ms/login")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "max-ms/login")
}
