package acmetest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"hearth/internal/testdns"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// resolver is the DNS server of a CA: every name is 127.0.0.1 (A), TXT
// records are what the CA's DNS provider (DNS) has set, and each name's
// zone is its last two labels (SOA), for an ACME client that looks the
// zone up before setting a DNS-01 record.
type resolver struct {
	addr string // TCP and UDP, the same port

	mu  sync.Mutex
	txt map[string][]string // lower-case FQDN with the final dot -> values
}

// startResolver runs the DNS server on 127.0.0.1 over TCP (the only way
// Pebble's validation authority asks) and UDP (how ACME clients ask) on
// one port, until the test ends.
func startResolver(t testing.TB) *resolver {
	t.Helper()
	r := &resolver{txt: make(map[string][]string)}
	r.addr = testdns.Serve(t, dns.HandlerFunc(r.answer))
	return r
}

// answer answers A with 127.0.0.1 (never AAAA: the client under test
// does not listen on ::1), TXT from the records set, and SOA with the
// name's last two labels as its zone.
func (r *resolver) answer(w dns.ResponseWriter, query *dns.Msg) {
	reply := new(dns.Msg)
	reply.SetReply(query)
	for _, q := range query.Question {
		if q.Qclass != dns.ClassINET {
			continue
		}
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET}
		switch q.Qtype {
		case dns.TypeA:
			reply.Answer = append(reply.Answer, &dns.A{Hdr: hdr, A: net.IPv4(127, 0, 0, 1)})
		case dns.TypeTXT:
			r.mu.Lock()
			for _, v := range r.txt[strings.ToLower(q.Name)] {
				reply.Answer = append(reply.Answer, &dns.TXT{Hdr: hdr, Txt: []string{v}})
			}
			r.mu.Unlock()
		case dns.TypeSOA:
			labels := dns.SplitDomainName(q.Name)
			if len(labels) < 2 {
				continue
			}
			zone := dns.Fqdn(strings.Join(labels[len(labels)-2:], "."))
			reply.Answer = append(reply.Answer, &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET},
				Ns: "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: 60})
		}
	}
	w.WriteMsg(reply)
}

// DNSProvider sets TXT records on the CA's DNS server, as a DNS host's
// API does, for DNS-01 (a libdns provider: AppendRecords, DeleteRecords).
type DNSProvider struct{ r *resolver }

// AppendRecords adds TXT records; other types are refused.
func (p DNSProvider) AppendRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	for _, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return nil, &net.DNSError{Err: "acmetest sets TXT records only", Name: rr.Name}
		}
		name := strings.ToLower(dns.Fqdn(libdns.AbsoluteName(rr.Name, zone)))
		p.r.txt[name] = append(p.r.txt[name], rr.Data)
	}
	return recs, nil
}

// DeleteRecords removes TXT records set before.
func (p DNSProvider) DeleteRecords(_ context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	for _, rec := range recs {
		rr := rec.RR()
		name := strings.ToLower(dns.Fqdn(libdns.AbsoluteName(rr.Name, zone)))
		vals := p.r.txt[name]
		for i, v := range vals {
			if v == rr.Data {
				p.r.txt[name] = append(vals[:i], vals[i+1:]...)
				break
			}
		}
	}
	return recs, nil
}

// TXT returns the TXT records set for name (tests of the provider).
func (p DNSProvider) TXT(name string) []string {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	return append([]string(nil), p.r.txt[strings.ToLower(dns.Fqdn(name))]...)
}
