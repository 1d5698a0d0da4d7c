package discovery

import (
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

// ResponderConfig says where a Responder works and under which host name.
type ResponderConfig struct {
	// Host is the single-label host name, announced as Host.local.
	Host string
	// Ifaces are the interfaces to work on, matched by name when they are
	// up; nil means every interface that is up, multicast-capable and not
	// the loopback, looked for again at each poll.
	Ifaces []net.Interface
	// Addrs, if set, are the addresses announced for Host on every
	// interface; nil means each interface's own, followed as they change.
	Addrs []string
	// Poll is how often interfaces and addresses are read again; 0 means
	// every 3 s.
	Poll time.Duration
}

// Record lifetimes (RFC 6762 10): 120 s for records naming a host, 75
// minutes for the others.
const (
	otherTTL    = 4500
	defaultPoll = 3 * time.Second
	// RFC 6762 8.1: three probes 250 ms apart.
	probeWait  = 250 * time.Millisecond
	maxRenames = 20
)

// Responder is a Multicast DNS responder (RFC 6762) for one host name and
// the DNS-SD service instances (RFC 6763) published on it: it probes each
// new name and renames it on a conflict, announces, answers queries,
// re-announces when the interfaces or their addresses change, and sends
// goodbyes for what is withdrawn. One responder serves any number of
// service types.
type Responder struct {
	host  string // "myhost.local."
	cfg   ResponderConfig
	fixed []net.IP
	log   *slog.Logger
	conns []groupConn

	mu        sync.Mutex
	links     map[int]*link
	instances map[string]*Instance // by nameKey of the full name
	probing   map[string]*probe
	sent      map[string]time.Time // multicast answers by link and records: when
	closed    bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// NewResponder opens the mDNS sockets, joins the groups on the chosen
// interfaces and starts answering for the host name. Close stops it.
func NewResponder(cfg ResponderConfig, log *slog.Logger) (*Responder, error) {
	host := strings.TrimSuffix(strings.TrimSuffix(cfg.Host, "."), ".local")
	if host == "" || strings.Contains(host, ".") || len(host) > 63 {
		return nil, fmt.Errorf("mdns: host %q is not a single DNS label", cfg.Host)
	}
	r := &Responder{
		host: host + ".local.", cfg: cfg, log: log,
		instances: make(map[string]*Instance), probing: make(map[string]*probe), sent: make(map[string]time.Time),
		stop: make(chan struct{}),
	}
	if r.cfg.Poll <= 0 {
		r.cfg.Poll = defaultPoll
	}
	for _, s := range cfg.Addrs {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("mdns: address %q is not an IP address", s)
		}
		r.fixed = append(r.fixed, ip)
	}
	links, err := scanLinks(cfg.Ifaces, r.fixed)
	if err != nil {
		return nil, fmt.Errorf("mdns: reading the network interfaces: %w", err)
	}
	conns, err := listenGroups()
	if err != nil {
		return nil, fmt.Errorf("mdns: %w", err)
	}
	r.conns = conns
	r.links = links
	r.joinAll()
	for _, c := range r.conns {
		r.wg.Go(func() { r.serve(c) })
	}
	r.wg.Go(r.watch)
	return r, nil
}

// Host is the host name answered for, "myhost.local.".
func (r *Responder) Host() string { return r.host }

// Links lists the interfaces worked on now and the addresses announced on
// each, as "veth0 10.0.0.1 fe80::1".
func (r *Responder) Links() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var list []string
	for _, l := range r.links {
		parts := []string{l.name}
		for _, ip := range append(slices.Clip(l.v4), l.v6...) {
			parts = append(parts, ip.String())
		}
		list = append(list, strings.Join(parts, " "))
	}
	slices.Sort(list)
	return list
}

// Close withdraws every instance still published (goodbye packets, RFC
// 6762 10.1), then stops answering.
func (r *Responder) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	insts := make([]*Instance, 0, len(r.instances))
	for _, in := range r.instances {
		insts = append(insts, in)
	}
	r.mu.Unlock()
	close(r.stop)
	for _, in := range insts {
		in.Withdraw()
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

// joinAll joins the groups on every current link (again: joining twice
// fails harmlessly).
func (r *Responder) joinAll() {
	r.mu.Lock()
	idx := make([]int, 0, len(r.links))
	for i := range r.links {
		idx = append(idx, i)
	}
	r.mu.Unlock()
	for _, i := range idx {
		ifi, err := net.InterfaceByIndex(i)
		if err != nil {
			continue
		}
		for _, c := range r.conns {
			c.JoinGroup(ifi, c.group())
		}
	}
}

// watch reads the interfaces every poll and, when they changed, says
// goodbye to the addresses that went and announces everything again.
func (r *Responder) watch() {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		links, err := scanLinks(r.cfg.Ifaces, r.fixed)
		if err != nil {
			r.log.Warn("cannot read the network interfaces; will try again", "err", err)
			continue
		}
		r.mu.Lock()
		old := r.links
		if linksEqual(old, links) {
			r.mu.Unlock()
			continue
		}
		r.links = links
		r.mu.Unlock()
		r.joinAll()
		for i, l := range links {
			if o := old[i]; o != nil {
				v4, v6 := gone(o, l)
				if len(v4)+len(v6) > 0 {
					r.send(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true},
						Answer: r.addrRecords(&link{v4: v4, v6: v6}, 0, false)}, i)
				}
			}
		}
		r.log.Info("network changed: announcing again on the LAN", "links", r.Links())
		r.announce(nil, true)
	}
}

// serve answers what c receives until it is closed.
func (r *Responder) serve(c groupConn) {
	buf := make([]byte, 9000) // RFC 6762 17: up to the interface MTU
	for {
		n, ifIndex, src, err := c.read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil || src == nil {
			continue
		}
		r.mu.Lock()
		l := r.links[ifIndex]
		r.mu.Unlock()
		// The socket hears every interface a group is joined on, by anyone
		// on this machine: answer only on ours.
		if l == nil {
			continue
		}
		var m dns.Msg
		if m.Unpack(buf[:n]) != nil {
			continue
		}
		if m.Response {
			r.checkConflicts(&m)
			continue
		}
		r.checkProbes(&m)
		r.answer(c, &m, ifIndex, l, src)
	}
}

// answer replies to a query: the host's addresses (hostResponder), then
// the service records asked for.
func (r *Responder) answer(c groupConn, q *dns.Msg, ifIndex int, l *link, src *net.UDPAddr) {
	if q.Opcode != dns.OpcodeQuery {
		return
	}
	h := hostResponder{name: r.host, v4: l.v4, v6: l.v6}
	probe := len(q.Ns) > 0
	if resp, unicast := h.answer(q, src.Port); resp != nil {
		r.reply(c, resp, ifIndex, src, unicast, probe)
	}
	if resp, unicast := r.serviceAnswer(q, l, src.Port); resp != nil {
		r.reply(c, resp, ifIndex, src, unicast, probe)
	}
}

// serviceAnswer is the response to the service questions of a query from
// srcPort heard on l, nil when it asks nothing of ours, and whether it
// goes to the sender alone.
func (r *Responder) serviceAnswer(q *dns.Msg, l *link, srcPort int) (*dns.Msg, bool) {
	legacy := srcPort != mdnsPort
	resp := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
	unicast := legacy
	r.mu.Lock()
	insts := make([]*Instance, 0, len(r.instances))
	for _, in := range r.instances {
		insts = append(insts, in)
	}
	slices.SortFunc(insts, func(a, b *Instance) int { return strings.Compare(a.key, b.key) })
	var answers, extras []dns.RR
	seen := make(map[string]bool)
	add := func(list *[]dns.RR, rrs ...dns.RR) {
		for _, rr := range rrs {
			if s := rr.String(); !seen[s] {
				seen[s] = true
				*list = append(*list, rr)
			}
		}
	}
	enumKey := nameKey("_services._dns-sd._udp.local.")
	for _, qq := range q.Question {
		if c := qq.Qclass &^ classTopBit; c != dns.ClassINET && c != dns.ClassANY {
			continue
		}
		k := nameKey(qq.Name)
		var matched bool
		for _, in := range insts {
			ptr, srv, txt := in.records(r.host, otherTTL, !legacy)
			switch {
			case k == enumKey && (qq.Qtype == dns.TypePTR || qq.Qtype == dns.TypeANY):
				add(&answers, &dns.PTR{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: otherTTL},
					Ptr: in.service + ".local."})
				matched = true
			case k == in.typeKey && (qq.Qtype == dns.TypePTR || qq.Qtype == dns.TypeANY):
				matched = true
				if knownAnswer(q, ptr) {
					continue
				}
				add(&answers, ptr)
				add(&extras, srv, txt)
				add(&extras, r.addrRecords(l, hostTTL, !legacy)...)
			case k == in.key:
				if qq.Qtype == dns.TypeSRV || qq.Qtype == dns.TypeANY {
					add(&answers, srv)
					matched = true
				}
				if qq.Qtype == dns.TypeTXT || qq.Qtype == dns.TypeANY {
					add(&answers, txt)
					matched = true
				}
				add(&extras, r.addrRecords(l, hostTTL, !legacy)...)
			}
		}
		if matched {
			if qq.Qclass&classTopBit != 0 {
				unicast = true
			}
			if legacy {
				resp.Question = append(resp.Question, qq)
			}
		}
	}
	r.mu.Unlock()
	if len(answers) == 0 {
		return nil, false
	}
	resp.Answer = answers
	for _, rr := range extras {
		if !slices.ContainsFunc(answers, func(a dns.RR) bool { return a.String() == rr.String() }) {
			resp.Extra = append(resp.Extra, rr)
		}
	}
	if legacy {
		resp.Id = q.Id
		for _, rr := range append(resp.Answer, resp.Extra...) {
			rr.Header().Ttl = min(rr.Header().Ttl, legacyTTL)
			rr.Header().Class &^= classTopBit
		}
	}
	return resp, unicast
}

// knownAnswer says whether the query lists rr already with at least half
// its lifetime left (RFC 6762 7.1): then it is not repeated.
func knownAnswer(q *dns.Msg, rr dns.RR) bool {
	for _, a := range q.Answer {
		if a.Header().Rrtype == rr.Header().Rrtype && a.Header().Ttl >= rr.Header().Ttl/2 &&
			nameKey(a.Header().Name) == nameKey(rr.Header().Name) {
			if p, ok := a.(*dns.PTR); ok && nameKey(p.Ptr) == nameKey(rr.(*dns.PTR).Ptr) {
				return true
			}
		}
	}
	return false
}

// reply sends a response to src alone (unicast) or to the group. The same
// records go to the group on a link at most once a second (RFC 6762 6),
// so that a flood of queries does not make a flood of answers; a probe is
// answered at once, to defend the name.
func (r *Responder) reply(c groupConn, m *dns.Msg, ifIndex int, src *net.UDPAddr, unicast bool, probe bool) {
	b, err := m.Pack()
	if err != nil {
		return
	}
	dst := c.group()
	if unicast {
		dst = src
	} else if !probe {
		var key strings.Builder
		fmt.Fprintf(&key, "%d %s", ifIndex, c.network())
		for _, rr := range m.Answer {
			key.WriteString(" " + rr.String())
		}
		now := time.Now()
		r.mu.Lock()
		last, ok := r.sent[key.String()]
		if !ok || now.Sub(last) >= time.Second {
			if len(r.sent) >= 1024 {
				clear(r.sent)
			}
			r.sent[key.String()] = now
		}
		r.mu.Unlock()
		if ok && now.Sub(last) < time.Second {
			return
		}
	}
	c.write(b, ifIndex, dst) // best effort, as any datagram
}

// send multicasts m on one link (ifIndex) or, with 0, on every link,
// through both families.
func (r *Responder) send(m *dns.Msg, ifIndex int) {
	b, err := m.Pack()
	if err != nil {
		r.log.Warn("mdns: cannot pack a message", "err", err)
		return
	}
	var idx []int
	if ifIndex != 0 {
		idx = []int{ifIndex}
	} else {
		r.mu.Lock()
		for i := range r.links {
			idx = append(idx, i)
		}
		r.mu.Unlock()
	}
	for _, i := range idx {
		for _, c := range r.conns {
			c.write(b, i, c.group())
		}
	}
}

// addrRecords are the host's A and AAAA records on l.
func (r *Responder) addrRecords(l *link, ttl uint32, flush bool) []dns.RR {
	class := uint16(dns.ClassINET)
	if flush {
		class |= classTopBit
	}
	var rrs []dns.RR
	for _, ip := range l.v4 {
		rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: r.host, Rrtype: dns.TypeA, Class: class, Ttl: ttl}, A: ip})
	}
	for _, ip := range l.v6 {
		rrs = append(rrs, &dns.AAAA{Hdr: dns.RR_Header{Name: r.host, Rrtype: dns.TypeAAAA, Class: class, Ttl: ttl}, AAAA: ip})
	}
	return rrs
}

// announce sends unsolicited responses (RFC 6762 8.3) for insts (nil: all
// instances, and the host's addresses with host) on every link, twice,
// one second apart, in the background.
func (r *Responder) announce(insts []*Instance, host bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.wg.Go(func() {
		for i := range 2 {
			if i > 0 {
				select {
				case <-r.stop:
					return
				case <-time.After(time.Second):
				}
			}
			r.mu.Lock()
			list := insts
			if list == nil {
				for _, in := range r.instances {
					list = append(list, in)
				}
			}
			msgs := make(map[int]*dns.Msg)
			for idx, l := range r.links {
				m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
				for _, in := range list {
					if in.withdrawn {
						continue
					}
					ptr, srv, txt := in.records(r.host, otherTTL, true)
					m.Answer = append(m.Answer, ptr, srv, txt)
				}
				if len(m.Answer) > 0 || host {
					m.Answer = append(m.Answer, r.addrRecords(l, hostTTL, true)...)
				}
				if len(m.Answer) > 0 {
					msgs[idx] = m
				}
			}
			r.mu.Unlock()
			for idx, m := range msgs {
				r.send(m, idx)
			}
		}
	})
}
