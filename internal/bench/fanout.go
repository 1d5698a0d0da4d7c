package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type fanoutResult struct {
	result
	Contacts      int     `json:"contacts"`
	Updates       int64   `json:"updates"`
	Delivered     int64   `json:"delivered"`
	Expected      int64   `json:"expected"`
	Lost          int64   `json:"lost"`
	Window        int     `json:"window"`
	NewSubs       int     `json:"new_subscriptions"`
	UpdateP50     float64 `json:"update_p50_ms"`
	UpdateP99     float64 `json:"update_p99_ms"`
	updateLatency summary
}

func (r *fanoutResult) line() string {
	return fmt.Sprintf("fanout: %.1f presences/s (contacts=%d, updates=%d, delivered=%d/%d, lost=%d, window=%d, %.2fs; all contacts reached p50=%s p99=%s; new subscriptions=%d)",
		r.Value, r.Contacts, r.Updates, r.Delivered, r.Expected, r.Lost, r.Window, r.Seconds,
		fmtDur(r.updateLatency.P50), fmtDur(r.updateLatency.P99), r.NewSubs)
}

// A fanout run: the publisher is account --first, its contacts the next
// --contacts accounts. The scenario sets up what it needs itself and leaves
// it in place for the next run: the publisher fetches its roster (RFC 6121
// 2.1.3), and every contact not yet in it with subscription "from" or "both"
// sends a subscription request (RFC 6121 3.1.1) that the publisher approves.
// A contact is ready once it has received the publisher's available
// presence, either after the approval (RFC 6121 3.1.5) or as the answer to
// the probe its initial presence triggers (RFC 6121 4.3).
type fanout struct {
	*spread // the updates, each to every contact
	prefix  string
	pubBare []byte
}

type contact struct {
	c     *Conn
	ready chan struct{}
	once  sync.Once
	seen  bitset
	got   atomic.Int64
}

func runFanout(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	run := runID()
	maxUpdates := orDefault(o.count, 1<<20)
	f := &fanout{spread: newSpread(o.contacts, maxUpdates, o.window), prefix: "f" + run + "-", pubBare: []byte(d.bare(o.first))}
	var (
		cr   crowd // the publisher, then its contacts
		errs firstErr
	)
	r := &fanoutResult{result: o.newResult("presences/s"), Contacts: o.contacts, Window: o.window}

	pub, err := d.login(ctx, o.first, o.resource+"-pub"+run)
	if err != nil {
		return nil, fmt.Errorf("publisher login: %w", err)
	}
	subscribed, err := fetchSubscribers(pub)
	if err != nil {
		pub.Close()
		return nil, err
	}
	cr.conns = []*Conn{pub}
	defer cr.close()
	cr.serve(&errs, pub, func(el []byte) {
		// Approve every subscription request (RFC 6121 3.1.4).
		if string(tagName(el)) == "presence" && attrString(el, "type") == "subscribe" {
			from := bareOf(attrString(el, "from"))
			b := appendEscaped([]byte("<presence type='subscribed' to='"), from)
			pub.send(append(b, "'/>"...))
		}
	})
	contacts := make([]*contact, o.contacts)
	conns, failed, first := loginMany(ctx, d, o.contacts, o.conc, func(i int) (int, string) {
		return o.first + 1 + i, o.resource + "-c" + run
	})
	cr.conns = append(cr.conns, conns...)
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d contact logins failed: %s", failed, o.contacts, first)
	}
	if err := pub.send([]byte("<presence><status>ready</status></presence>")); err != nil {
		return nil, err
	}
	for i, c := range conns {
		ct := &contact{c: c, ready: make(chan struct{})}
		contacts[i] = ct
		cr.serve(&errs, c, func(el []byte) { f.received(ct, el) })
		b := []byte("<presence/>")
		if !subscribed[strings.ToLower(d.bare(o.first+1+i))] {
			r.NewSubs++
			b = append(b, "<presence type='subscribe' to='"...)
			b = appendEscaped(b, string(f.pubBare))
			b = append(b, "'/>"...)
		}
		if err := c.send(b); err != nil {
			return nil, err
		}
	}
	setup := time.NewTimer(max(30*time.Second, o.timeout))
	defer setup.Stop()
	for i, ct := range contacts {
		select {
		case <-ct.ready:
		case <-setup.C:
			notReady := 0
			for _, ct := range contacts[i:] {
				select {
				case <-ct.ready:
				default:
					notReady++
				}
			}
			return nil, fmt.Errorf("%d of %d contacts never received the publisher's presence (subscription not established?)", notReady, o.contacts)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	start := time.Since(f.epoch)
	f.publish(runCtx, pub, maxUpdates, &errs)
	f.wait(ctx, o.drain)

	r.Updates = f.final.Load()
	r.Expected = r.Updates * int64(o.contacts)
	lat := f.latencies(r.Updates)
	for _, ct := range contacts {
		r.Delivered += ct.got.Load()
	}
	r.Lost = r.Expected - r.Delivered
	elapsed := time.Duration(f.last.Load()) - start
	r.Value = round1(rate(r.Delivered, elapsed))
	r.Seconds = round3(elapsed.Seconds())
	r.updateLatency = summarize(lat)
	r.UpdateP50, r.UpdateP99 = ms(r.updateLatency.P50), ms(r.updateLatency.P99)
	r.Error = errs.String()
	if r.Lost > 0 {
		return r, fmt.Errorf("%d of %d presence stanzas %w", r.Lost, r.Expected, errLost)
	}
	return r, nil
}

// publish sends presence updates while the window and the run allow, as
// many as the window has room for in one write.
func (f *fanout) publish(ctx context.Context, pub *Conn, maxUpdates int, errs *firstErr) {
	defer f.ended()
	shows := [2]string{"away", "dnd"}
	buf := make([]byte, 0, 4096)
	seq := 0
	for seq < maxUpdates {
		if !f.enter(ctx) {
			return
		}
		buf = buf[:0]
		for {
			id := f.prefix + strconv.Itoa(seq)
			buf = append(buf, "<presence id='"+id+"'><show>"+shows[seq%2]+"</show><status>"+id+"</status></presence>"...)
			f.sentAt[seq].Store(f.now())
			seq++
			if seq >= maxUpdates || !f.tryEnter() {
				break
			}
		}
		if err := pub.send(buf); err != nil {
			errs.add(fmt.Errorf("publish: %w", err))
			return
		}
		f.sent.Store(int64(seq))
	}
}

// received handles a stanza at a contact.
func (f *fanout) received(ct *contact, el []byte) {
	if string(tagName(el)) != "presence" {
		return
	}
	from, _ := attr(el, "from")
	if i := bytes.IndexByte(from, '/'); i >= 0 {
		from = from[:i]
	}
	if !bytes.EqualFold(from, f.pubBare) {
		return
	}
	if _, has := attr(el, "type"); has {
		return // subscribed, unavailable and the like
	}
	ct.once.Do(func() { close(ct.ready) })
	seq, _, ok := f.seqOf(el)
	if !ok || seq >= int64(len(f.counts)) || !ct.seen.add(seq) {
		return
	}
	ct.got.Add(1)
	f.spread.received(seq)
}

func (f *fanout) seqOf(el []byte) (int64, int64, bool) {
	if id, ok := attr(el, "id"); ok {
		if a, b, ok := parseSeq(id, f.prefix); ok {
			return a, b, true
		}
	}
	status, ok := childText(el, "status")
	if !ok {
		return 0, 0, false
	}
	return parseSeq([]byte(status), f.prefix)
}

// fetchSubscribers gets the roster and returns the bare JIDs (lowercase)
// with a subscription to the user's presence.
func fetchSubscribers(c *Conn) (map[string]bool, error) {
	if err := c.send([]byte("<iq type='get' id='roster'><query xmlns='" + nsRoster + "'/></iq>")); err != nil {
		return nil, err
	}
	el, err := c.awaitIQ("roster")
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	if attrString(el, "type") != "result" {
		return nil, errors.New("roster: " + errorCondition(el))
	}
	subs := map[string]bool{}
	eachTag(el, func(tag, _ []byte) bool {
		if string(localName(tagName(tag))) == "item" {
			if s := attrString(tag, "subscription"); s == "from" || s == "both" {
				subs[strings.ToLower(attrString(tag, "jid"))] = true
			}
		}
		return true
	})
	return subs, nil
}

func bareOf(jid string) string {
	if i := strings.IndexByte(jid, '/'); i >= 0 {
		return jid[:i]
	}
	return jid
}
