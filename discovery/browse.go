package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// BrowserConfig says what a Browser looks for and how much it accepts.
type BrowserConfig struct {
	// Service is the type browsed for, for example ServicePresence.
	Service string
	// Ifaces are the interfaces to browse on (by name, when up); nil means
	// every interface that is up, multicast-capable and not the loopback.
	Ifaces []net.Interface
	// MaxEntries caps the instances kept; more are ignored (with a log
	// line) until some go. 0 means 512.
	MaxEntries int
	// Rate and Burst cap how many new instances are accepted per second,
	// against floods of announcements. 0 means 20 a second, bursts of 100.
	Rate  float64
	Burst int
	// OnEvent is called, from one goroutine at a time, for each change;
	// it must not block for long.
	OnEvent func(BrowseEvent)
	// Poll is how often the interfaces are read again; 0 means every 3 s.
	Poll time.Duration
}

// EventKind says what happened to an instance.
type EventKind int

const (
	// Added: the instance is complete (host, port and an address known).
	Added EventKind = iota + 1
	// Updated: its TXT, host, port or addresses changed.
	Updated
	// Removed: it said goodbye or its records expired.
	Removed
)

func (k EventKind) String() string {
	switch k {
	case Added:
		return "add"
	case Updated:
		return "update"
	case Removed:
		return "remove"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// BrowseEvent is one change a Browser reports.
type BrowseEvent struct {
	Kind  EventKind
	Entry Entry
}

// Entry is an instance as last seen.
type Entry struct {
	// Instance is the instance name as text ("bob@laptop").
	Instance string
	// Service is its type.
	Service string
	// Host is the target host name ("laptop.local.") and Port its port.
	Host string
	Port int
	// TXT is the TXT record's strings as received, Pairs the ones that
	// parse (ParseTXT).
	TXT   []string
	Pairs []TXTPair
	// Addrs are the host's addresses; IPv6 link-local ones carry the zone
	// of the interface they were heard on.
	Addrs []net.IPAddr
}

// Browser finds the instances of one service type on the LAN and keeps
// its own cache of their records (RFC 6762 5.2 continuous querying, TTLs,
// goodbyes, cache-flush), reporting changes to OnEvent.
type Browser struct {
	cfg   BrowserConfig
	log   *slog.Logger
	conns []groupConn
	ifs   map[int]string // joined interfaces by index: names
	in    chan packet
	cache *cache

	mu   sync.Mutex
	seen map[string]Entry // by instance name: what OnEvent was told
}

// coalesce is how long after a packet its changes are reported.
const coalesce = 30 * time.Millisecond

type packet struct {
	msg     *dns.Msg
	ifIndex int
}

// Browse runs a browser until ctx is done (NewBrowser and Run in one). It
// returns an error only when it cannot browse at all.
func Browse(ctx context.Context, cfg BrowserConfig, log *slog.Logger) error {
	b, err := NewBrowser(cfg, log)
	if err != nil {
		return err
	}
	return b.Run(ctx)
}

// NewBrowser opens the mDNS sockets for a browser; Run browses.
func NewBrowser(cfg BrowserConfig, log *slog.Logger) (*Browser, error) {
	if labels := splitName(cfg.Service); len(labels) != 2 {
		return nil, fmt.Errorf("mdns browse: service type %q is not like _name._tcp", cfg.Service)
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 512
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 100
	}
	if cfg.Poll <= 0 {
		cfg.Poll = defaultPoll
	}
	b := &Browser{cfg: cfg, log: log, ifs: make(map[int]string), in: make(chan packet, 256), seen: make(map[string]Entry)}
	onEvent := cfg.OnEvent
	cfg.OnEvent = func(ev BrowseEvent) {
		b.mu.Lock()
		if ev.Kind == Removed {
			delete(b.seen, ev.Entry.Instance)
		} else {
			b.seen[ev.Entry.Instance] = ev.Entry
		}
		b.mu.Unlock()
		if onEvent != nil {
			onEvent(ev)
		}
	}
	b.cache = newCache(cfg, log, b.ifName)
	conns, err := listenGroups()
	if err != nil {
		return nil, fmt.Errorf("mdns browse: %w", err)
	}
	b.conns = conns
	return b, nil
}

// Entries are the instances reported and not removed so far, by name.
func (b *Browser) Entries() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := make([]Entry, 0, len(b.seen))
	for _, e := range b.seen {
		list = append(list, e)
	}
	slices.SortFunc(list, func(x, y Entry) int { return strings.Compare(x.Instance, y.Instance) })
	return list
}

// Run browses until ctx is done, then closes the sockets; a Browser runs
// once.
func (b *Browser) Run(ctx context.Context) error {
	defer func() {
		for _, c := range b.conns {
			c.Close()
		}
	}()
	cfg := b.cfg
	b.rescan()
	for _, c := range b.conns {
		go b.read(c)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastScan := time.Now()
	b.query(b.cache.due(time.Now()))
	// Changes are reported a moment after the packet that made them, so
	// that the IPv4 and IPv6 copies of one announcement make one event.
	var report <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case p := <-b.in:
			b.cache.handle(p.msg, p.ifIndex, time.Now())
			if report == nil {
				report = time.After(coalesce)
			}
		case now := <-report:
			b.cache.report(now)
			report = nil
		case now := <-tick.C:
			if now.Sub(lastScan) >= cfg.Poll {
				b.rescan()
				lastScan = now
			}
			b.cache.expire(now)
			b.query(b.cache.due(now))
		}
	}
}

// ifName is the name of a joined interface, the zone of its link-local
// addresses.
func (b *Browser) ifName(i int) string { return b.ifs[i] }

// rescan joins the groups on the chosen interfaces that are up now.
func (b *Browser) rescan() {
	links, err := scanLinks(b.cfg.Ifaces, []net.IP{})
	if err != nil {
		b.log.Warn("cannot read the network interfaces; will try again", "err", err)
		return
	}
	for i, l := range links {
		if _, ok := b.ifs[i]; ok {
			continue
		}
		ifi, err := net.InterfaceByIndex(i)
		if err != nil {
			continue
		}
		for _, c := range b.conns {
			c.JoinGroup(ifi, c.group())
		}
		b.ifs[i] = l.name
	}
	for i := range b.ifs {
		if links[i] == nil {
			delete(b.ifs, i)
		}
	}
}

// read passes what c receives on a joined interface to the loop; when
// the loop is behind, packets are dropped rather than queued without end.
func (b *Browser) read(c groupConn) {
	buf := make([]byte, 9000)
	for {
		n, ifIndex, _, err := c.read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		m := new(dns.Msg)
		if m.Unpack(buf[:n]) != nil || !m.Response {
			continue
		}
		select {
		case b.in <- packet{m, ifIndex}:
		default:
		}
	}
}

// query multicasts the questions, with the known answers (RFC 6762 7.1),
// on every joined interface.
func (b *Browser) query(qs []dns.Question, known []dns.RR) {
	if len(qs) == 0 {
		return
	}
	m := &dns.Msg{Question: qs, Answer: known}
	buf, err := m.Pack()
	if err != nil {
		// Too many known answers for one message: ask without them.
		m.Answer = nil
		if buf, err = m.Pack(); err != nil {
			return
		}
	}
	for i := range b.ifs {
		for _, c := range b.conns {
			c.write(buf, i, c.group())
		}
	}
}
