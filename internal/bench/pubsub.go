package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

const nsPubsub = "http://jabber.org/protocol/pubsub"

type pubsubResult struct {
	result
	Node        string  `json:"node"`
	Subscribers int     `json:"subscribers"`
	Publishes   int64   `json:"publishes"`
	Delivered   int64   `json:"delivered"`
	Expected    int64   `json:"expected"`
	Lost        int64   `json:"lost"`
	PerSecond   float64 `json:"notifications_per_s"`
	Window      int     `json:"window"`
	SetupSecs   float64 `json:"setup_s"`
	P50         float64 `json:"all_reached_p50_ms"`
	P99         float64 `json:"all_reached_p99_ms"`
	latency     summary
}

func (r *pubsubResult) line() string {
	return fmt.Sprintf("pubsub: %.1f publishes/s to %d subscribers = %.0f notifications/s (node=%s, publishes=%d, delivered=%d/%d, lost=%d, window=%d, %.2fs; everyone reached p50=%s p99=%s; setup took %.2fs)",
		r.Value, r.Subscribers, r.PerSecond, r.Node, r.Publishes, r.Delivered, r.Expected, r.Lost, r.Window, r.Seconds,
		fmtDur(r.latency.P50), fmtDur(r.latency.P99), r.SetupSecs)
}

// A pubsub run (XEP-0060): the first account creates a new node on
// --service (pubsub.DOMAIN by default; no last item on subscription),
// the next --subscribers accounts subscribe to it, then the first
// publishes items, at most --window in flight. An item counts once every
// subscriber has its notification. The node is deleted at the end.
type pubsubRun struct {
	*spread
	prefix  string
	service []byte
	node    string
	errs    *firstErr
}

type subscriber struct {
	c      *Conn
	answer chan string // the answer to its last IQ: "" or an error condition
	seen   bitset
	got    atomic.Int64
}

func runPubsub(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	run := runID()
	maxItems := orDefault(o.count, 1<<20)
	service := orDefault(o.service, "pubsub."+o.domain)
	node := orDefault(o.node, "bench-"+run)
	var errs firstErr
	f := &pubsubRun{spread: newSpread(o.subscribers, maxItems, o.window), prefix: "p" + run + "-", service: []byte(service), node: node, errs: &errs}
	r := &pubsubResult{result: o.newResult("publishes/s"), Node: node, Subscribers: o.subscribers, Window: o.window}

	setupStart := time.Now()
	var cr crowd
	var failed int
	var first string
	cr.conns, failed, first = loginMany(ctx, d, o.subscribers+1, o.conc, func(i int) (int, string) {
		return o.first + i, o.resource + "-p" + run
	})
	defer cr.close()
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d logins failed: %s", failed, o.subscribers+1, first)
	}
	all := make([]*subscriber, len(cr.conns))
	cr.serveEach(&errs, func(i int, c *Conn) func([]byte) {
		s := &subscriber{c: c, answer: make(chan string, 4)}
		all[i] = s
		return func(el []byte) { f.received(s, el) }
	})
	owner, subs := all[0], all[1:]
	ask := func(s *subscriber, what, iq string) error {
		if err := s.c.send([]byte(iq)); err != nil {
			return err
		}
		t := time.NewTimer(max(60*time.Second, o.timeout))
		defer t.Stop()
		select {
		case cond := <-s.answer:
			if cond != "" {
				return fmt.Errorf("%s: the service answered %s", what, cond)
			}
			return nil
		case <-t.C:
			return fmt.Errorf("%s: no answer from %s", what, service)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	create := "<iq type='set' id='" + f.prefix + "q' to='" + service + "'><pubsub xmlns='" + nsPubsub + "'><create node='" + node + "'/>" +
		"<configure><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>" +
		"<field var='pubsub#send_last_published_item'><value>never</value></field>" +
		"</x></configure></pubsub></iq>"
	if err := ask(owner, "creating node "+node, create); err != nil {
		return nil, err
	}
	defer ask(owner, "deleting node "+node, "<iq type='set' id='"+f.prefix+"q' to='"+service+"'><pubsub xmlns='"+nsPubsub+"#owner'><delete node='"+node+"'/></pubsub></iq>")
	// Subscriptions go out together, then their answers are awaited.
	// Each subscribes its full JID: the load client sends no presence, and
	// a headline to a bare JID goes only to available sessions.
	for _, s := range subs {
		if err := s.c.send([]byte("<iq type='set' id='" + f.prefix + "q' to='" + service + "'><pubsub xmlns='" + nsPubsub + "'><subscribe node='" + node + "' jid='" + s.c.JID + "'/></pubsub></iq>")); err != nil {
			return nil, err
		}
	}
	for _, s := range subs {
		select {
		case cond := <-s.answer:
			if cond != "" {
				return nil, fmt.Errorf("%s could not subscribe to %s: %s", s.c.JID, node, cond)
			}
		case <-time.After(max(60*time.Second, o.timeout)):
			return nil, fmt.Errorf("%s: no answer to its subscription", s.c.JID)
		}
	}
	r.SetupSecs = round3(time.Since(setupStart).Seconds())

	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	start := time.Since(f.epoch)
	f.publish(runCtx, owner, maxItems, &errs)
	f.wait(ctx, o.drain)

	for _, s := range subs {
		r.Delivered += s.got.Load()
	}
	t := f.totals(start, r.Delivered)
	r.Publishes, r.Expected, r.Lost, r.Value, r.PerSecond, r.Seconds = t.Sent, t.Expected, t.Lost, t.Value, t.PerSecond, t.Seconds
	r.latency, r.P50, r.P99 = t.latency, t.P50, t.P99
	r.Error = errs.String()
	if r.Lost > 0 {
		return r, fmt.Errorf("%d of %d notifications %w", r.Lost, r.Expected, errLost)
	}
	return r, nil
}

// publish sends items while the window and the run allow.
func (f *pubsubRun) publish(ctx context.Context, owner *subscriber, maxItems int, errs *firstErr) {
	defer f.ended()
	var buf []byte
	seq := 0
	for seq < maxItems {
		if !f.enter(ctx) {
			return
		}
		buf = buf[:0]
		for {
			id := f.prefix + strconv.Itoa(seq)
			buf = append(buf, "<iq type='set' id='"+id+"' to='"...)
			buf = append(buf, f.service...)
			buf = append(buf, "'><pubsub xmlns='"+nsPubsub+"'><publish node='"+f.node+"'><item id='"+id+
				"'><entry xmlns='http://www.w3.org/2005/Atom'><title>"+id+"</title></entry></item></publish></pubsub></iq>"...)
			f.sentAt[seq].Store(f.now())
			seq++
			if seq >= maxItems || !f.tryEnter() {
				break
			}
		}
		if err := owner.c.send(buf); err != nil {
			errs.add(fmt.Errorf("send: %w", err))
			return
		}
		f.sent.Store(int64(seq))
	}
}

// received handles a stanza at a subscriber (or the publisher): answers
// to its requests go to answer, notifications are counted.
func (f *pubsubRun) received(s *subscriber, el []byte) {
	if !bytes.EqualFold([]byte(bareOf(attrString(el, "from"))), f.service) {
		return
	}
	switch string(tagName(el)) {
	case "iq":
		id := attrString(el, "id")
		if id != f.prefix+"q" {
			if attrString(el, "type") == "error" {
				f.errs.add(errors.New("a publish was refused: " + errorCondition(el)))
			}
			return
		}
		cond := ""
		if attrString(el, "type") != "result" {
			cond = errorCondition(el)
		}
		select {
		case s.answer <- cond:
		default:
		}
	case "message":
		var id string
		eachTag(el, func(tag, _ []byte) bool {
			if string(localName(tagName(tag))) == "item" {
				id = attrString(tag, "id")
				return false
			}
			return true
		})
		seq, _, ok := parseSeq([]byte(id), f.prefix)
		if !ok || seq >= int64(len(f.counts)) || !s.seen.add(seq) {
			return
		}
		s.got.Add(1)
		f.spread.received(seq)
	}
}
