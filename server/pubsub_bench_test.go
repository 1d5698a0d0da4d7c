package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
	"hearth/storage"
)

// BenchmarkPubsubFanout: one publish to a service node with 1,000
// subscribers, each a local session of its own account, until every one
// of them has the notification. Reports notifications/s and the p50 and
// p99 latency of one notification (publish sent to notification read)
// and of the last one of each publish (everyone reached).
func BenchmarkPubsubFanout(b *testing.B) {
	const subscribers = 1000
	srv := xmpptest.Start(b)
	ctx := context.Background()
	for key, value := range map[string]string{"limits.connections_per_address": "3000"} {
		srv.Admin.SetSetting(ctx, key, value) // a build without the setting ignores it
	}
	srv.AddUser(b, "owner", "brass-bell-pw")
	owner := srv.Login(b, "owner", "brass-bell-pw", "pub")
	owner.Send(`<iq type='set' id='mk' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='fan'/>
  <configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#send_last_published_item'><value>never</value></field></x></configure></pubsub></iq>`)
	owner.Expect(`<iq type='result' id='mk' from='pubsub.hearth.test' to='owner@hearth.test/pub'/>`)

	var (
		mu      sync.Mutex
		started = map[string]time.Time{} // item id: when its publish was sent
		each    []time.Duration          // one per notification
		last    []time.Duration          // one per publish: everyone reached
		counts  = map[string]*atomic.Int64{}
		done    = map[string]chan struct{}{}
	)
	record := func(el *stanza.Element) {
		ev := el.Child("event", "http://jabber.org/protocol/pubsub#event")
		if ev == nil {
			return
		}
		its := ev.Child("items", "http://jabber.org/protocol/pubsub#event")
		if its == nil || its.Child("item", "http://jabber.org/protocol/pubsub#event") == nil {
			return
		}
		id := its.Child("item", "http://jabber.org/protocol/pubsub#event").Attr("id")
		now := time.Now()
		mu.Lock()
		d := now.Sub(started[id])
		each = append(each, d)
		n, ch := counts[id], done[id]
		mu.Unlock()
		if n.Add(1) == subscribers {
			mu.Lock()
			last = append(last, d)
			mu.Unlock()
			close(ch)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	clients := make([]*xmpptest.Client, subscribers)
	for i := range subscribers {
		user := fmt.Sprintf("sub%d", i)
		srv.AddUser(b, user, "pewter-cup-pw")
	}
	for i := range subscribers {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			user := fmt.Sprintf("sub%d", i)
			c, err := srv.Dial(user, "pewter-cup-pw", "r")
			if err != nil {
				b.Error(err)
				return
			}
			c.Use(b)
			clients[i] = c
			if _, err := srv.DB.Subscribe(ctx, storage.PubsubSubscription{Node: "fan", JID: user + "@hearth.test/r", SubID: user,
				State: "subscribed", Deliver: true}, 0); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	for _, c := range clients {
		go c.Receive(time.Hour, record)
	}
	go owner.Receive(time.Hour, func(*stanza.Element) {})
	b.ResetTimer()
	begin := time.Now()
	for i := range b.N {
		id := fmt.Sprintf("i%d", i)
		ch := make(chan struct{})
		mu.Lock()
		started[id], counts[id], done[id] = time.Now(), new(atomic.Int64), ch
		mu.Unlock()
		owner.Send(`<iq type='set' id='` + id + `' to='pubsub.hearth.test'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='fan'><item id='` + id + `'><entry xmlns='http://www.w3.org/2005/Atom'><title>Post ` + id + `</title></entry></item></publish></pubsub></iq>`)
		select {
		case <-ch:
		case <-time.After(30 * time.Second):
			b.Fatalf("publish %d: %d of %d subscribers notified in 30 s", i, counts[id].Load(), subscribers)
		}
	}
	elapsed := time.Since(begin)
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	pct := func(ds []time.Duration, p float64) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(float64(len(s))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N*subscribers)/elapsed.Seconds(), "notifications/s")
	b.ReportMetric(pct(each, 0.50), "p50-ms")
	b.ReportMetric(pct(each, 0.99), "p99-ms")
	b.ReportMetric(pct(last, 0.50), "all-reached-p50-ms")
	b.ReportMetric(pct(last, 0.99), "all-reached-p99-ms")
}
