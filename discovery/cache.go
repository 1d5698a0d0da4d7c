package discovery

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// record is the lifetime of one cached resource record.
type record struct {
	received time.Time
	ttl      time.Duration
	expires  time.Time
	// refreshed counts the queries sent for it as it ages (RFC 6762 5.2:
	// at 80, 85, 90 and 95 % of its life).
	refreshed int
}

// goodbyeDelay is how long a record said goodbye to is kept (RFC 6762
// 10.1: one second).
const goodbyeDelay = time.Second

func (r *record) set(now time.Time, ttl uint32) {
	if ttl == 0 {
		r.received, r.ttl, r.expires, r.refreshed = now, 0, now.Add(goodbyeDelay), 4
		return
	}
	r.received, r.ttl, r.refreshed = now, time.Duration(ttl)*time.Second, 0
	r.expires = now.Add(r.ttl)
}

func (r *record) alive(now time.Time) bool { return !r.expires.IsZero() && now.Before(r.expires) }

// refreshDue says whether a refresh query is due and counts it.
func (r *record) refreshDue(now time.Time) bool {
	if r.ttl == 0 || r.refreshed >= 4 {
		return false
	}
	if now.Sub(r.received) < r.ttl*time.Duration(80+5*r.refreshed)/100 {
		return false
	}
	r.refreshed++
	return true
}

// centry is one cached instance.
type centry struct {
	instance string // as text
	name     string // full name in presentation format
	ptr      record
	srv      record
	host     string // SRV target in presentation format
	port     int
	txt      record
	txtStrs  []string
	reported *Entry // the last one reported; nil before Added
	asked    time.Time
	asks     int
}

// chost is one cached host name and its addresses.
type chost struct {
	name  string
	addrs map[string]*caddr
	asked time.Time
	asks  int
}

type caddr struct {
	ip  net.IPAddr
	rec record
}

// cache holds what a Browser has learnt; only the browser's loop uses it.
type cache struct {
	cfg      BrowserConfig
	log      *slog.Logger
	ifName   func(int) string
	typeName string
	typeKey  string
	entries  map[string]*centry // by nameKey of the full name
	hosts    map[string]*chost  // by nameKey

	tokens   float64
	filled   time.Time
	dropped  int
	droppedL time.Time

	nextQuery time.Time
	interval  time.Duration
}

func newCache(cfg BrowserConfig, log *slog.Logger, ifName func(int) string) *cache {
	tn := cfg.Service + ".local."
	return &cache{cfg: cfg, log: log, ifName: ifName, typeName: tn, typeKey: nameKey(tn),
		entries: make(map[string]*centry), hosts: make(map[string]*chost),
		tokens: float64(cfg.Burst), interval: time.Second}
}

// handle takes in the records of a response heard on ifIndex; report
// tells the changes.
func (c *cache) handle(m *dns.Msg, ifIndex int, now time.Time) {
	zone := c.ifName(ifIndex)
	if zone == "" {
		return // an interface we do not browse on
	}
	rrs := append(slices.Clip(m.Answer), m.Extra...)
	for _, rr := range rrs {
		if ptr, ok := rr.(*dns.PTR); ok && nameKey(ptr.Hdr.Name) == c.typeKey {
			c.takePTR(ptr, now)
		}
	}
	for _, rr := range rrs {
		h := rr.Header()
		switch rr := rr.(type) {
		case *dns.SRV:
			if e := c.entries[nameKey(h.Name)]; e != nil {
				e.srv.set(now, h.Ttl)
				if h.Ttl > 0 {
					e.host, e.port = rr.Target, int(rr.Port)
					if k := nameKey(rr.Target); c.hosts[k] == nil {
						c.hosts[k] = &chost{name: rr.Target, addrs: make(map[string]*caddr)}
					}
				}
			}
		case *dns.TXT:
			if e := c.entries[nameKey(h.Name)]; e != nil {
				e.txt.set(now, h.Ttl)
				if h.Ttl > 0 {
					c.takeTXT(e, unescapeTXT(rr.Txt))
				}
			}
		}
	}
	for _, rr := range rrs {
		h := rr.Header()
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A.To4()
		case *dns.AAAA:
			ip = rr.AAAA
		default:
			continue
		}
		host := c.hosts[nameKey(h.Name)]
		if host == nil || ip == nil {
			continue
		}
		a := net.IPAddr{IP: ip}
		if ip.IsLinkLocalUnicast() && ip.To4() == nil {
			a.Zone = zone
		}
		// RFC 6762 10.2: a unique record with the cache-flush bit replaces
		// those of its name and type received more than a second ago.
		if h.Class&classTopBit != 0 && h.Ttl > 0 {
			for _, o := range host.addrs {
				if (o.ip.IP.To4() != nil) == (ip.To4() != nil) && now.Sub(o.rec.received) > time.Second && o.rec.ttl > 0 {
					o.rec.set(now, 0)
				}
			}
		}
		k := a.String()
		if host.addrs[k] == nil {
			if h.Ttl == 0 {
				continue
			}
			if len(host.addrs) >= 32 {
				continue // no host needs more; a flood does not get them
			}
			host.addrs[k] = &caddr{ip: a}
		}
		host.addrs[k].rec.set(now, h.Ttl)
	}
}

// takePTR adds or refreshes an instance, within the caps.
func (c *cache) takePTR(ptr *dns.PTR, now time.Time) {
	k := nameKey(ptr.Ptr)
	e := c.entries[k]
	if e == nil {
		if ptr.Hdr.Ttl == 0 {
			return
		}
		instance, ok := splitInstance(ptr.Ptr, c.cfg.Service)
		if !ok {
			c.log.Info("ignoring a LAN service record that names no instance of the type", "service", c.cfg.Service, "name", ptr.Ptr)
			return
		}
		if len(c.entries) >= c.cfg.MaxEntries || !c.take(now) {
			c.drop(now)
			return
		}
		e = &centry{instance: instance, name: ptr.Ptr}
		c.entries[k] = e
	}
	e.ptr.set(now, ptr.Hdr.Ttl)
}

// take spends a token of the rate at which new instances are accepted.
func (c *cache) take(now time.Time) bool {
	if !c.filled.IsZero() {
		c.tokens = min(float64(c.cfg.Burst), c.tokens+now.Sub(c.filled).Seconds()*c.cfg.Rate)
	}
	c.filled = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// drop counts an instance refused by the caps and says so now and then.
func (c *cache) drop(now time.Time) {
	c.dropped++
	if now.Sub(c.droppedL) < 10*time.Second {
		return
	}
	c.log.Warn("too many services announced on the LAN; ignoring the new ones for now",
		"service", c.cfg.Service, "ignored", c.dropped, "kept", len(c.entries), "max", c.cfg.MaxEntries)
	c.droppedL, c.dropped = now, 0
}

// takeTXT keeps a new TXT record and logs what is wrong in it, once per
// change.
func (c *cache) takeTXT(e *centry, strs []string) {
	if slices.Equal(strs, e.txtStrs) {
		return
	}
	e.txtStrs = strs
	if _, problems := ParseTXT(strs); problems != nil {
		c.log.Info("a LAN peer's TXT record has errors; those strings are ignored",
			"instance", e.instance, "service", c.cfg.Service, "problems", strings.Join(problems, "; "))
	}
}

// expire drops what has lived its time and reports the changes.
func (c *cache) expire(now time.Time) {
	used := make(map[string]bool)
	for _, e := range c.entries {
		if e.srv.alive(now) {
			used[nameKey(e.host)] = true
		}
	}
	for k, h := range c.hosts {
		for ak, a := range h.addrs {
			if !a.rec.alive(now) {
				delete(h.addrs, ak)
			}
		}
		if !used[k] {
			delete(c.hosts, k)
		}
	}
	c.report(now)
}

// report compares each instance with what was last reported.
func (c *cache) report(now time.Time) {
	for k, e := range c.entries {
		if !e.ptr.alive(now) || !e.srv.alive(now) {
			if e.reported != nil {
				c.cfg.OnEvent(BrowseEvent{Kind: Removed, Entry: *e.reported})
				e.reported = nil
			}
			if !e.ptr.alive(now) {
				delete(c.entries, k)
			}
			continue
		}
		cur := c.entry(e, now)
		if len(cur.Addrs) == 0 {
			continue // between addresses: hold what was reported
		}
		switch {
		case e.reported == nil:
			c.cfg.OnEvent(BrowseEvent{Kind: Added, Entry: cur})
		case !sameEntry(*e.reported, cur):
			c.cfg.OnEvent(BrowseEvent{Kind: Updated, Entry: cur})
		default:
			continue
		}
		e.reported = &cur
	}
}

func (c *cache) entry(e *centry, now time.Time) Entry {
	en := Entry{Instance: e.instance, Service: c.cfg.Service, Host: e.host, Port: e.port}
	if e.txt.alive(now) {
		en.TXT = slices.Clone(e.txtStrs)
		en.Pairs, _ = ParseTXT(en.TXT)
	}
	if h := c.hosts[nameKey(e.host)]; h != nil {
		for _, a := range h.addrs {
			if a.rec.alive(now) && a.rec.ttl > 0 {
				en.Addrs = append(en.Addrs, a.ip)
			}
		}
	}
	slices.SortFunc(en.Addrs, func(a, b net.IPAddr) int { return strings.Compare(a.String(), b.String()) })
	return en
}

func sameEntry(a, b Entry) bool {
	return a.Host == b.Host && a.Port == b.Port && slices.Equal(a.TXT, b.TXT) &&
		slices.EqualFunc(a.Addrs, b.Addrs, func(x, y net.IPAddr) bool { return x.String() == y.String() })
}

// maxQuestions keeps one query message small.
const maxQuestions = 24

// due returns the questions to send now and the known answers: the
// type's PTR on a doubling interval up to a minute (RFC 6762 5.2), records
// near the end of their life, and what an instance still lacks.
func (c *cache) due(now time.Time) (qs []dns.Question, known []dns.RR) {
	asked := make(map[dns.Question]bool)
	ask := func(name string, t uint16) {
		q := dns.Question{Name: name, Qtype: t, Qclass: dns.ClassINET}
		if !asked[q] && len(qs) < maxQuestions {
			asked[q] = true
			qs = append(qs, q)
		}
	}
	if !now.Before(c.nextQuery) {
		ask(c.typeName, dns.TypePTR)
		c.nextQuery = now.Add(c.interval)
		c.interval = min(2*c.interval, time.Minute)
	}
	for _, e := range c.entries {
		if e.ptr.refreshDue(now) {
			ask(c.typeName, dns.TypePTR)
		}
		if e.srv.refreshDue(now) {
			ask(e.name, dns.TypeSRV)
		}
		if e.txt.refreshDue(now) {
			ask(e.name, dns.TypeTXT)
		}
		if e.srv.alive(now) && e.txt.alive(now) {
			e.asks = 0 // complete: a later loss is asked about afresh
		} else if e.ptr.ttl > 0 && backoff(&e.asked, &e.asks, now) {
			ask(e.name, dns.TypeSRV)
			ask(e.name, dns.TypeTXT)
		}
	}
	for _, h := range c.hosts {
		var refresh bool
		for _, a := range h.addrs {
			refresh = a.rec.refreshDue(now) || refresh
		}
		if len(h.addrs) > 0 {
			h.asks = 0
		}
		if refresh || len(h.addrs) == 0 && backoff(&h.asked, &h.asks, now) {
			ask(h.name, dns.TypeA)
			ask(h.name, dns.TypeAAAA)
		}
	}
	if asked[dns.Question{Name: c.typeName, Qtype: dns.TypePTR, Qclass: dns.ClassINET}] {
		for _, e := range c.entries {
			if left := e.ptr.expires.Sub(now); e.ptr.ttl > 0 && left > e.ptr.ttl/2 && len(known) < 64 {
				known = append(known, &dns.PTR{Hdr: dns.RR_Header{Name: c.typeName, Rrtype: dns.TypePTR,
					Class: dns.ClassINET, Ttl: uint32(left / time.Second)}, Ptr: e.name})
			}
		}
	}
	return qs, known
}

// backoff allows a question for something missing once a second, then
// less often, giving up after six tries until it is asked for again.
func backoff(last *time.Time, n *int, now time.Time) bool {
	if *n >= 6 || now.Sub(*last) < time.Duration(1<<*n)*time.Second {
		return false
	}
	*last, *n = now, *n+1
	return true
}
