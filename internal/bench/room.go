package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
)

type roomResult struct {
	result
	Room        string  `json:"room"`
	Occupants   int     `json:"occupants"`
	Senders     int     `json:"senders"`
	Messages    int64   `json:"messages"`
	Delivered   int64   `json:"delivered"`
	Expected    int64   `json:"expected"`
	Lost        int64   `json:"lost"`
	PerSecond   float64 `json:"deliveries_per_s"`
	Window      int     `json:"window"`
	JoinSeconds float64 `json:"join_s"`
	P50         float64 `json:"all_reached_p50_ms"`
	P99         float64 `json:"all_reached_p99_ms"`
	latency     summary
}

func (r *roomResult) line() string {
	return fmt.Sprintf("room: %.1f msgs/s to %d occupants = %.0f deliveries/s (room=%s, senders=%d, messages=%d, delivered=%d/%d, lost=%d, window=%d, %.2fs; everyone reached p50=%s p99=%s; joins took %.2fs)",
		r.Value, r.Occupants, r.PerSecond, r.Room, r.Senders, r.Messages, r.Delivered, r.Expected, r.Lost, r.Window, r.Seconds,
		fmtDur(r.latency.P50), fmtDur(r.latency.P99), r.JoinSeconds)
}

// A room run (XEP-0045): --occupants accounts join one new room on
// --service (the first creates it as an instant room, with its archive
// on when the service offers one), then --senders of them send groupchat
// messages, at most --window in flight in all. A message counts once
// every occupant, its sender included (XEP-0045 7.4: the room reflects
// it), received it.
type room struct {
	*spread // the messages, each to every occupant
	prefix  string
	jid     []byte // the room's bare JID
}

type occupant struct {
	c       *Conn
	nick    string
	joined  chan struct{}
	created atomic.Bool // the room answered with status 201
	config  chan string // the owner form's answer: "" or an error condition
	once    sync.Once
	seen    bitset
	got     atomic.Int64
	refused atomic.Value // string: why the join was refused
}

func runRoom(ctx context.Context, d *dialer) (reporter, error) {
	o := d.o
	run := runID()
	maxMsgs := orDefault(o.count, 1<<20)
	service := orDefault(o.service, "conference."+o.domain)
	name := orDefault(o.room, "bench-"+run)
	f := &room{spread: newSpread(o.occupants, maxMsgs, o.window), prefix: "r" + run + "-", jid: []byte(name + "@" + service)}
	r := &roomResult{result: o.newResult("msgs/s"), Room: string(f.jid), Occupants: o.occupants, Senders: o.senders, Window: o.window}

	var errs firstErr
	var cr crowd
	var failed int
	var first string
	cr.conns, failed, first = loginMany(ctx, d, o.occupants, o.conc, func(i int) (int, string) {
		return o.first + i, o.resource + "-r" + run
	})
	defer cr.close()
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d occupant logins failed: %s", failed, o.occupants, first)
	}
	occ := make([]*occupant, o.occupants)
	cr.serveEach(&errs, func(i int, c *Conn) func([]byte) {
		oc := &occupant{c: c, nick: "n" + strconv.Itoa(i), joined: make(chan struct{}), config: make(chan string, 1)}
		occ[i] = oc
		return func(el []byte) { f.received(oc, el) }
	})

	joinStart := time.Now()
	setup := time.NewTimer(max(60*time.Second, o.timeout))
	defer setup.Stop()
	wait := func(oc *occupant) error {
		select {
		case <-oc.joined:
			if why, _ := oc.refused.Load().(string); why != "" {
				return fmt.Errorf("%s could not join %s: %s", oc.c.JID, f.jid, why)
			}
			return nil
		case <-setup.C:
			return fmt.Errorf("%s was not in %s after %s: the room never sent its own presence back (XEP-0045 7.2)", oc.c.JID, f.jid, max(60*time.Second, o.timeout))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The first occupant makes the room; an instant room is locked until
	// its owner accepts the default configuration (XEP-0045 10.1.2).
	if err := f.join(occ[0]); err != nil {
		return nil, err
	}
	if err := wait(occ[0]); err != nil {
		return nil, err
	}
	if occ[0].created.Load() {
		form := "<iq type='set' id='" + f.prefix + "cfg' to='" + string(f.jid) + "'><query xmlns='" + nsMUCOwner + "'>" +
			"<x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" +
			"<field var='muc#roomconfig_maxusers'><value>" + strconv.Itoa(o.occupants) + "</value></field>" +
			"<field var='muc#roomconfig_enablearchiving'><value>1</value></field>" +
			"</x></query></iq>"
		if err := occ[0].c.send([]byte(form)); err != nil {
			return nil, err
		}
		select {
		case cond := <-occ[0].config:
			if cond != "" {
				return nil, fmt.Errorf("the room refused its configuration: %s", cond)
			}
		case <-setup.C:
			return nil, errors.New("the room never answered its owner's configuration")
		}
	}
	for _, oc := range occ[1:] {
		if err := f.join(oc); err != nil {
			return nil, err
		}
	}
	for _, oc := range occ[1:] {
		if err := wait(oc); err != nil {
			return nil, err
		}
	}
	r.JoinSeconds = round3(time.Since(joinStart).Seconds())

	runCtx, cancel := bounded(ctx, o.duration)
	defer cancel()
	start := time.Since(f.epoch)
	f.send(runCtx, occ[:o.senders], maxMsgs, &errs)
	f.wait(ctx, o.drain)

	for _, oc := range occ {
		r.Delivered += oc.got.Load()
	}
	t := f.totals(start, r.Delivered)
	r.Messages, r.Expected, r.Lost, r.Value, r.PerSecond, r.Seconds = t.Sent, t.Expected, t.Lost, t.Value, t.PerSecond, t.Seconds
	r.latency, r.P50, r.P99 = t.latency, t.P50, t.P99
	r.Error = errs.String()
	if r.Lost > 0 {
		return r, fmt.Errorf("%d of %d groupchat messages %w", r.Lost, r.Expected, errLost)
	}
	return r, nil
}

// join sends an occupant's presence to the room, asking for no history.
func (f *room) join(oc *occupant) error {
	b := append([]byte("<presence to='"), f.jid...)
	b = append(b, '/')
	b = append(b, oc.nick...)
	b = append(b, "'><x xmlns='"+nsMUC+"'><history maxstanzas='0'/></x></presence>"...)
	return oc.c.send(b)
}

// send spreads messages over the senders while the window and the run
// allow, as many as the window has room for in one burst.
func (f *room) send(ctx context.Context, senders []*occupant, maxMsgs int, errs *firstErr) {
	defer f.ended()
	bufs := make([][]byte, len(senders))
	seq := 0
	for seq < maxMsgs {
		if !f.enter(ctx) {
			return
		}
		for i := range bufs {
			bufs[i] = bufs[i][:0]
		}
		for {
			id := f.prefix + strconv.Itoa(seq)
			i := seq % len(senders)
			bufs[i] = append(bufs[i], "<message type='groupchat' to='"...)
			bufs[i] = append(bufs[i], f.jid...)
			bufs[i] = append(bufs[i], "' id='"+id+"'><body>"+id+"</body></message>"...)
			f.sentAt[seq].Store(f.now())
			seq++
			if seq >= maxMsgs || !f.tryEnter() {
				break
			}
		}
		for i, b := range bufs {
			if len(b) == 0 {
				continue
			}
			if err := senders[i].c.send(b); err != nil {
				errs.add(fmt.Errorf("send: %w", err))
				return
			}
		}
		f.sent.Store(int64(seq))
	}
}

// received handles a stanza at an occupant: its own presence from the
// room (status 110) marks it joined, the owner form's answer goes to
// config, and groupchat messages are counted.
func (f *room) received(oc *occupant, el []byte) {
	from, _ := attr(el, "from")
	bare := from
	if i := bytes.IndexByte(from, '/'); i >= 0 {
		bare = from[:i]
	}
	if !bytes.EqualFold(bare, f.jid) {
		return
	}
	switch string(tagName(el)) {
	case "presence":
		if attrString(el, "type") == "error" {
			oc.refused.Store("the room answered " + errorCondition(el))
			oc.once.Do(func() { close(oc.joined) })
			return
		}
		self, created := false, false
		eachTag(el, func(tag, _ []byte) bool {
			if string(localName(tagName(tag))) == "status" {
				switch attrString(tag, "code") {
				case "110":
					self = true
				case "201":
					created = true
				}
			}
			return true
		})
		if self {
			if created {
				oc.created.Store(true)
			}
			oc.once.Do(func() { close(oc.joined) })
		}
	case "iq":
		if attrString(el, "id") == f.prefix+"cfg" {
			cond := ""
			if attrString(el, "type") != "result" {
				cond = errorCondition(el)
			}
			oc.config <- cond
		}
	case "message":
		if attrString(el, "type") != "groupchat" {
			return
		}
		body, ok := childText(el, "body")
		if !ok {
			return // the subject, or a notice
		}
		seq, _, ok := parseSeq([]byte(body), f.prefix)
		if !ok || seq >= int64(len(f.counts)) || !oc.seen.add(seq) {
			return
		}
		oc.got.Add(1)
		f.spread.received(seq)
	}
}
