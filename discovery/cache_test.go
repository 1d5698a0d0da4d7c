package discovery

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testCache is a browser's cache fed by hand, on one interface "veth0"
// (index 1), with the events it reports.
type testCache struct {
	*cache
	events []BrowseEvent
	now    time.Time
}

func newTestCache(max, burst int, rate float64) *testCache {
	tc := &testCache{now: time.Unix(1_000_000, 0)}
	cfg := BrowserConfig{Service: ServicePresence, MaxEntries: max, Burst: burst, Rate: rate,
		OnEvent: func(ev BrowseEvent) { tc.events = append(tc.events, ev) }}
	tc.cache = newCache(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(i int) string {
		if i == 1 {
			return "veth0"
		}
		return ""
	})
	return tc
}

// feed hands the cache a response at now+after and reports.
func (tc *testCache) feed(after time.Duration, rrs ...dns.RR) {
	tc.now = tc.now.Add(after)
	tc.handle(&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs}, 1, tc.now)
	tc.report(tc.now)
}

func (tc *testCache) tick(after time.Duration) {
	tc.now = tc.now.Add(after)
	tc.expire(tc.now)
}

// take returns the events so far as "kind instance addrs TXT" lines.
func (tc *testCache) take() string {
	var lines []string
	for _, ev := range tc.events {
		var addrs []string
		for _, a := range ev.Entry.Addrs {
			addrs = append(addrs, a.String())
		}
		lines = append(lines, fmt.Sprintf("%s %s %v %q", ev.Kind, ev.Entry.Instance, addrs, ev.Entry.TXT))
	}
	tc.events = nil
	return strings.Join(lines, "\n")
}

// announcement is what a peer announces for instance on host.
func announcement(instance, host string, ttl uint32, txt []string, addrs ...string) []dns.RR {
	full := instanceName(instance, ServicePresence)
	flush := uint16(dns.ClassINET | classTopBit)
	rrs := []dns.RR{
		&dns.PTR{Hdr: dns.RR_Header{Name: ServicePresence + ".local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: full},
		&dns.SRV{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeSRV, Class: flush, Ttl: min(ttl, 120)}, Port: 5298, Target: host + ".local."},
		&dns.TXT{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeTXT, Class: flush, Ttl: ttl}, Txt: escapeTXT(txt)},
	}
	return append(rrs, addrRRs(host, ttl, addrs...)...)
}

func addrRRs(host string, ttl uint32, addrs ...string) []dns.RR {
	var rrs []dns.RR
	for _, s := range addrs {
		ip := net.ParseIP(s)
		h := dns.RR_Header{Name: host + ".local.", Class: dns.ClassINET | classTopBit, Ttl: min(ttl, 120)}
		if ip.To4() != nil {
			h.Rrtype = dns.TypeA
			rrs = append(rrs, &dns.A{Hdr: h, A: ip})
		} else {
			h.Rrtype = dns.TypeAAAA
			rrs = append(rrs, &dns.AAAA{Hdr: h, AAAA: ip})
		}
	}
	return rrs
}

func TestCacheLifecycle(t *testing.T) {
	tc := newTestCache(0, 0, 0)
	tc.cfg.MaxEntries, tc.cfg.Burst, tc.cfg.Rate = 10, 10, 10
	tc.tokens = 10
	tc.feed(0, announcement("bob@laptop", "laptop", 4500, []string{"txtvers=1", "status=avail"}, "10.0.0.2", "fe80::2")...)
	expect(t, tc, `add bob@laptop [10.0.0.2 fe80::2%veth0] ["txtvers=1" "status=avail"]`)

	// The same announcement again: nothing to report.
	tc.feed(time.Second, announcement("bob@laptop", "laptop", 4500, []string{"txtvers=1", "status=avail"}, "10.0.0.2", "fe80::2")...)
	expect(t, tc, ``)

	// A new TXT record.
	tc.feed(time.Second, announcement("bob@laptop", "laptop", 4500, []string{"txtvers=1", "status=away"})[2])
	expect(t, tc, `update bob@laptop [10.0.0.2 fe80::2%veth0] ["txtvers=1" "status=away"]`)

	// A new IPv4 address with the cache-flush bit replaces the old one
	// (RFC 6762 10.2: the cache keeps it a second, it is not reported).
	tc.feed(2*time.Second, addrRRs("laptop", 120, "10.0.0.9")...)
	expect(t, tc, `update bob@laptop [10.0.0.9 fe80::2%veth0] ["txtvers=1" "status=away"]`)
	tc.tick(1100 * time.Millisecond)
	expect(t, tc, ``)

	// Goodbye: removed a second later.
	bye := announcement("bob@laptop", "laptop", 0, nil)
	tc.feed(time.Second, bye[0], bye[1], bye[2])
	expect(t, tc, ``)
	tc.tick(1100 * time.Millisecond)
	expect(t, tc, `remove bob@laptop [10.0.0.9 fe80::2%veth0] ["txtvers=1" "status=away"]`)
	if len(tc.entries) != 0 || len(tc.hosts) != 0 {
		t.Errorf("left in the cache: %d entries, %d hosts", len(tc.entries), len(tc.hosts))
	}

	// Expiry without a goodbye, after refresh queries at 80 to 95 %.
	tc.feed(time.Second, announcement("carol@pc", "pc", 100, []string{"txtvers=1"}, "10.0.0.3")...)
	expect(t, tc, `add carol@pc [10.0.0.3] ["txtvers=1"]`)
	var refreshes int
	for range 100 {
		tc.tick(time.Second)
		qs, _ := tc.due(tc.now)
		for _, q := range qs {
			if q.Qtype == dns.TypePTR {
				refreshes++
			}
		}
	}
	expect(t, tc, `remove carol@pc [10.0.0.3] ["txtvers=1"]`)
	if refreshes < 4 {
		t.Errorf("%d PTR queries while the record aged, want at least 4", refreshes)
	}
}

func expect(t *testing.T, tc *testCache, want string) {
	t.Helper()
	if got := tc.take(); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

func TestCacheCaps(t *testing.T) {
	tc := newTestCache(5, 3, 1)
	var flood []dns.RR
	for i := range 20 {
		flood = append(flood, announcement(fmt.Sprintf("spam%02d@x", i), "x", 4500, []string{"txtvers=1"}, "10.0.0.7")...)
	}
	tc.feed(0, flood...)
	if n := len(tc.entries); n != 3 {
		t.Errorf("%d entries after a flood of 20 with a burst of 3", n)
	}
	tc.feed(10*time.Second, flood...)
	if n := len(tc.entries); n != 5 {
		t.Errorf("%d entries later, want the cap of 5", n)
	}
	// Records of instances not kept, and names of other types, are not
	// taken in.
	other := &dns.PTR{Hdr: dns.RR_Header{Name: ServicePresence + ".local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 10}, Ptr: "x._other._tcp.local."}
	tc.feed(0, other)
	if n := len(tc.entries); n != 5 {
		t.Errorf("%d entries after a PTR to another type", n)
	}
	// Heard on an interface not browsed: ignored.
	tc2 := newTestCache(5, 3, 1)
	tc2.handle(&dns.Msg{Answer: announcement("a@b", "b", 10, nil, "10.0.0.1")}, 2, tc2.now)
	if len(tc2.entries) != 0 {
		t.Error("took records heard on another interface")
	}
}

func TestCacheQueries(t *testing.T) {
	tc := newTestCache(10, 10, 10)
	qs, _ := tc.due(tc.now)
	if len(qs) != 1 || qs[0].Qtype != dns.TypePTR || qs[0].Name != "_presence._tcp.local." {
		t.Fatalf("first questions %v", qs)
	}
	// An instance known by its PTR alone: its SRV and TXT are asked for.
	tc.feed(0, announcement("d@e", "e", 4500, nil)[0])
	qs, _ = tc.due(tc.now)
	var srv, txt bool
	for _, q := range qs {
		srv = srv || q.Qtype == dns.TypeSRV
		txt = txt || q.Qtype == dns.TypeTXT
	}
	if !srv || !txt {
		t.Errorf("questions %v, want SRV and TXT of d@e", qs)
	}
	// The next PTR query lists it as a known answer (RFC 6762 7.1).
	tc.now = tc.now.Add(time.Minute)
	_, known := tc.due(tc.now)
	if len(known) != 1 {
		t.Errorf("known answers %v", known)
	}
}

func FuzzCacheHandle(f *testing.F) {
	for _, rrs := range [][]dns.RR{
		announcement("bob@laptop", "laptop", 4500, []string{"txtvers=1"}, "10.0.0.2", "fe80::1"),
		announcement("x", "y", 0, nil),
	} {
		b, _ := (&dns.Msg{MsgHdr: dns.MsgHdr{Response: true}, Answer: rrs}).Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dns.Msg
		if m.Unpack(b) != nil {
			return
		}
		tc := newTestCache(4, 4, 1)
		for range 3 {
			tc.handle(&m, 1, tc.now)
			tc.report(tc.now)
			tc.due(tc.now)
			tc.tick(700 * time.Millisecond)
		}
		if len(tc.entries) > 4 {
			t.Fatalf("%d entries over the cap", len(tc.entries))
		}
		for _, ev := range tc.events {
			if len(ev.Entry.Addrs) == 0 && ev.Kind == Added {
				t.Fatalf("added without an address: %+v", ev)
			}
		}
	})
}
