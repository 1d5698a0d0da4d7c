package discovery

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testResponder answers without sockets: alice@hosta published on a link
// with one address of each family.
func testResponder() (*Responder, *link) {
	r := &Responder{host: "hosta.local.", instances: make(map[string]*Instance), probing: make(map[string]*probe)}
	in := &Instance{r: r, name: "alice@hosta", service: ServicePresence, port: 5298, txt: []string{"txtvers=1", `back\slash`}}
	in.full = instanceName(in.name, in.service)
	in.key, in.typeKey = nameKey(in.full), nameKey(in.service+".local.")
	r.instances[in.key] = in
	return r, &link{name: "veth0", v4: []net.IP{net.IPv4(10, 0, 0, 1).To4()}, v6: []net.IP{net.ParseIP("fe80::1")}}
}

func TestServiceAnswer(t *testing.T) {
	r, l := testResponder()
	query := func(name string, qtype uint16, known ...dns.RR) *dns.Msg {
		m := &dns.Msg{Question: []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}, Answer: known}
		m.Id = 9
		return m
	}
	full := `alice\@hosta._presence._tcp.local.`
	for _, tt := range []struct {
		name    string
		q       *dns.Msg
		port    int
		answer  string // types of the answers, then "|" and those of the additional records
		unicast bool
	}{
		{name: "browse", q: query("_presence._tcp.local.", dns.TypePTR), port: 5353, answer: "PTR|SRV TXT A AAAA"},
		{name: "browse in another case", q: query("_Presence._TCP.local.", dns.TypePTR), port: 5353, answer: "PTR|SRV TXT A AAAA"},
		{name: "resolve", q: query(full, dns.TypeSRV), port: 5353, answer: "SRV|A AAAA"},
		{name: "any", q: query(full, dns.TypeANY), port: 5353, answer: "SRV TXT|A AAAA"},
		{name: "enumerate types", q: query("_services._dns-sd._udp.local.", dns.TypePTR), port: 5353, answer: "PTR|"},
		{name: "legacy", q: query(full, dns.TypeTXT), port: 33000, answer: "TXT|A AAAA", unicast: true},
		{name: "known answer", port: 5353, q: query("_presence._tcp.local.", dns.TypePTR,
			&dns.PTR{Hdr: dns.RR_Header{Name: "_presence._tcp.local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 4000}, Ptr: full})},
		{name: "another type", q: query("_http._tcp.local.", dns.TypePTR), port: 5353},
		{name: "another instance", q: query(`bob\@hosta._presence._tcp.local.`, dns.TypeANY), port: 5353},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, unicast := r.serviceAnswer(tt.q, l, tt.port)
			if tt.answer == "" {
				if resp != nil {
					t.Fatalf("answered %v", resp)
				}
				return
			}
			if resp == nil {
				t.Fatal("no answer")
			}
			types := func(rrs []dns.RR) string {
				var s []string
				for _, rr := range rrs {
					s = append(s, dns.TypeToString[rr.Header().Rrtype])
				}
				return strings.Join(s, " ")
			}
			if got := types(resp.Answer) + "|" + types(resp.Extra); got != tt.answer || unicast != tt.unicast {
				t.Errorf("answer %s unicast %v, want %s unicast %v", got, unicast, tt.answer, tt.unicast)
			}
			legacy := tt.port != mdnsPort
			for _, rr := range append(resp.Answer, resp.Extra...) {
				if legacy && (rr.Header().Ttl > legacyTTL || rr.Header().Class != dns.ClassINET) {
					t.Errorf("legacy answer with %v", rr)
				}
			}
			if legacy != (resp.Id == 9) {
				t.Errorf("ID %d", resp.Id)
			}
			b, err := resp.Pack()
			if err != nil {
				t.Fatal(err)
			}
			var back dns.Msg
			if err := back.Unpack(b); err != nil {
				t.Fatal(err)
			}
			for _, rr := range back.Answer {
				if txt, ok := rr.(*dns.TXT); ok && unescapeTXT(txt.Txt)[1] != `back\slash` {
					t.Errorf("TXT on the wire: %q", txt.Txt)
				}
			}
		})
	}
}

func TestCheckConflicts(t *testing.T) {
	r, _ := testResponder()
	in := &Instance{r: r, name: "carol@hosta", service: ServicePresence, port: 5298, txt: []string{"txtvers=1"}}
	in.full = instanceName(in.name, in.service)
	in.key = nameKey(in.full)
	p := &probe{in: in, conflict: make(chan struct{})}
	r.probing[in.key] = p
	same, _, _ := in.records(r.host, 120, true)
	_, srv, txt := in.records(r.host, 120, true)
	r.checkConflicts(&dns.Msg{Answer: []dns.RR{same, srv, txt}})
	select {
	case <-p.conflict:
		t.Fatal("our own records taken for a conflict")
	default:
	}
	srv.(*dns.SRV).Target = "hostb.local."
	r.checkConflicts(&dns.Msg{Answer: []dns.RR{srv}})
	select {
	case <-p.conflict:
	default:
		t.Fatal("another host's SRV for the name is no conflict")
	}
}

// Simultaneous probes (RFC 6762 8.2): the greater SRV data wins.
func TestCheckProbes(t *testing.T) {
	for _, tt := range []struct {
		port uint16
		lose bool
	}{{6000, true}, {1000, false}, {5298, false}} {
		r, _ := testResponder()
		in := &Instance{r: r, name: "carol@hosta", service: ServicePresence, port: 5298}
		in.full = instanceName(in.name, in.service)
		in.key = nameKey(in.full)
		_, srv, _ := in.records(r.host, 120, false)
		p := &probe{in: in, srv: srv, conflict: make(chan struct{})}
		r.probing[in.key] = p
		theirs := dns.Copy(srv).(*dns.SRV)
		theirs.Port = tt.port
		r.checkProbes(&dns.Msg{Question: []dns.Question{{Name: in.full, Qtype: dns.TypeANY, Qclass: dns.ClassINET}}, Ns: []dns.RR{theirs}})
		select {
		case <-p.conflict:
			if !tt.lose {
				t.Errorf("lost to a probe with port %d", tt.port)
			}
		default:
			if tt.lose {
				t.Errorf("won against a probe with port %d", tt.port)
			}
		}
	}
}

func FuzzServiceAnswer(f *testing.F) {
	r, l := testResponder()
	for _, q := range []*dns.Msg{
		new(dns.Msg).SetQuestion("_presence._tcp.local.", dns.TypePTR),
		new(dns.Msg).SetQuestion(`alice\@hosta._presence._tcp.local.`, dns.TypeANY),
	} {
		b, _ := q.Pack()
		f.Add(b, uint16(5353))
	}
	f.Fuzz(func(t *testing.T, b []byte, port uint16) {
		var q dns.Msg
		if q.Unpack(b) != nil {
			return
		}
		h := hostResponder{name: r.host, v4: l.v4, v6: l.v6}
		if resp, _ := h.answer(&q, int(port)); resp != nil {
			if _, err := resp.Pack(); err != nil {
				t.Fatalf("a host answer that does not pack: %v", err)
			}
		}
		if resp, _ := r.serviceAnswer(&q, l, int(port)); resp != nil {
			if _, err := resp.Pack(); err != nil {
				t.Fatalf("an answer that does not pack: %v", err)
			}
		}
		r.checkProbes(&q)
		// A responder only probing: a conflict closes the probe's channel
		// once however many records claim the name.
		probing, _ := testResponder()
		for k, in := range probing.instances {
			delete(probing.instances, k)
			_, srv, _ := in.records(probing.host, 120, false)
			probing.probing[k] = &probe{in: in, srv: srv, conflict: make(chan struct{})}
		}
		q.Response = true
		probing.checkConflicts(&q)
		probing.checkConflicts(&q)
	})
}

// fakeConn counts what is written to it.
type fakeConn struct{ writes []*net.UDPAddr }

func (f *fakeConn) read([]byte) (int, int, *net.UDPAddr, error) { return 0, 0, nil, net.ErrClosed }
func (f *fakeConn) write(_ []byte, _ int, dst *net.UDPAddr) error {
	f.writes = append(f.writes, dst)
	return nil
}
func (f *fakeConn) group() *net.UDPAddr                      { return group4 }
func (f *fakeConn) network() string                          { return "udp4" }
func (f *fakeConn) Close() error                             { return nil }
func (f *fakeConn) JoinGroup(*net.Interface, net.Addr) error { return nil }

// A flood of queries gets one multicast answer a second; unicast
// answers and probes are not held back.
func TestAnswerRate(t *testing.T) {
	r, l := testResponder()
	r.sent = make(map[string]time.Time)
	c := &fakeConn{}
	src := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: mdnsPort}
	browse := new(dns.Msg).SetQuestion("_presence._tcp.local.", dns.TypePTR)
	for range 50 {
		r.answer(c, browse, 1, l, src)
	}
	if len(c.writes) != 1 {
		t.Errorf("%d answers to 50 queries within a second", len(c.writes))
	}
	legacy := &net.UDPAddr{IP: src.IP, Port: 40000}
	for range 3 {
		r.answer(c, browse, 1, l, legacy)
	}
	probe := new(dns.Msg).SetQuestion(`alice\@hosta._presence._tcp.local.`, dns.TypeANY)
	probe.Ns = []dns.RR{&dns.SRV{Hdr: dns.RR_Header{Name: probe.Question[0].Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Target: "other.local."}}
	for range 3 {
		r.answer(c, probe, 1, l, src)
	}
	if len(c.writes) != 1+3+3 {
		t.Errorf("%d answers in all, want 7", len(c.writes))
	}
}
