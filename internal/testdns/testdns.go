// Package testdns is a small authoritative DNS server for tests: it runs
// on 127.0.0.1 (UDP and TCP on one random free port) until the test ends
// and answers A, AAAA and SRV records that the test sets and changes as
// it goes. Tests point the programs under test at it: Go code through
// Resolver, other servers through Addr (see server/xmpptest for Prosody
// and ejabberd).
//
// It answers for every name as if it held the whole tree: a name with no
// records set (and none below it) is NXDOMAIN, a name that has records,
// or records below it, but none of the type asked is NOERROR with no
// answer. Both negative answers carry an SOA record (the name's last
// label as the zone, "test." for "prosody.test.") whose TTL and minimum
// are TTL, so that resolvers cache them briefly. Answers have the TTL TTL too: tests change records.
package testdns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// TTL is the time to live, in seconds, of every record and of negative
// answers.
const TTL = 1

// SRV is one SRV record (RFC 2782). A Target of "." says the service is
// not offered at that name.
type SRV struct {
	Target           string
	Port             uint16
	Priority, Weight uint16
}

// Server is a running DNS server.
type Server struct {
	addr string
	port int

	mu     sync.Mutex
	hosts  map[string][]net.IP // lower-case FQDN -> A and AAAA addresses
	srv    map[string][]SRV    // lower-case FQDN (_service._proto.name.) -> records
	counts map[question]int    // questions asked, for Asked
}

type question struct {
	name  string
	qtype uint16
}

// Start runs a DNS server on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{hosts: map[string][]net.IP{}, srv: map[string][]SRV{}, counts: map[question]int{}}
	s.addr = Serve(t, dns.HandlerFunc(s.answer))
	_, port, _ := net.SplitHostPort(s.addr)
	s.port, _ = strconv.Atoi(port)
	return s
}

// Serve answers DNS with h on 127.0.0.1, over TCP and UDP on one port,
// until the test ends, and returns the address (host:port). Start's
// server uses it, and so does any test that answers DNS its own way
// (acmetest's).
func Serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	for range 20 { // a port free for both
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("testdns: TCP listener: %v", err)
		}
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err == nil {
			break
		}
		ln.Close()
		ln = nil
	}
	if ln == nil {
		t.Fatal("testdns: no port free for DNS over both TCP and UDP")
	}
	for _, srv := range []*dns.Server{
		{Listener: ln, Handler: h},
		{PacketConn: pc, Handler: h},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-done:
			t.Fatalf("testdns: DNS server: %v", err)
		}
		t.Cleanup(func() {
			srv.Shutdown()
			<-done
		})
	}
	return ln.Addr().String()
}

// Addr is the server's address, host:port, the same for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Port is the server's port, for configurations that take the address
// (127.0.0.1) and the port apart.
func (s *Server) Port() int { return s.port }

// SetHost replaces name's A and AAAA records with ips (IPv4 addresses go
// to A, IPv6 ones to AAAA); with no ips it removes them. A string that is
// not an IP address is a programming error and panics.
func (s *Server) SetHost(name string, ips ...string) {
	var parsed []net.IP
	for _, ip := range ips {
		p := net.ParseIP(ip)
		if p == nil {
			panic(fmt.Sprintf("testdns: SetHost(%q): %q is not an IP address", name, ip))
		}
		parsed = append(parsed, p)
	}
	key := fqdn(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(parsed) == 0 {
		delete(s.hosts, key)
		return
	}
	s.hosts[key] = parsed
}

// SetSRV replaces the SRV records of _service._proto.name (service and
// proto without the underscore, as net.LookupSRV takes them) with recs;
// with no recs it removes them.
func (s *Server) SetSRV(service, proto, name string, recs ...SRV) {
	key := fqdn("_" + service + "._" + proto + "." + name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(recs) == 0 {
		delete(s.srv, key)
		return
	}
	s.srv[key] = slices.Clone(recs)
}

// Remove removes every record of name and of the SRV names below it
// (_xmpp-server._tcp.name and the like).
func (s *Server) Remove(name string) {
	key := fqdn(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.hosts, key)
	for k := range s.srv {
		if k == key || strings.HasSuffix(k, "."+key) {
			delete(s.srv, k)
		}
	}
}

// Asked says how many questions for name of type qtype ("A", "AAAA",
// "SRV", ...) the server was asked: tests check that a program looked a
// name up here.
func (s *Server) Asked(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[question{fqdn(name), dns.StringToType[strings.ToUpper(qtype)]}]
}

// Resolver is a Go resolver that asks only this server (over UDP, and
// TCP for truncated answers). Like every Go resolver it reads /etc/hosts
// before asking, so "localhost" is answered from there.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.addr)
		},
	}
}

// fqdn is name in lower case with the final dot.
func fqdn(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// answer answers one query from the records set.
func (s *Server) answer(w dns.ResponseWriter, query *dns.Msg) {
	reply := new(dns.Msg)
	if query.Opcode != dns.OpcodeQuery || len(query.Question) != 1 {
		reply.SetRcode(query, dns.RcodeNotImplemented)
		w.WriteMsg(reply)
		return
	}
	reply.SetReply(query)
	reply.Authoritative = true
	q := query.Question[0]
	name := fqdn(q.Name)

	s.mu.Lock()
	s.counts[question{name, q.Qtype}]++
	exists := s.exists(name)
	if exists && q.Qclass == dns.ClassINET {
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
		}
		any := q.Qtype == dns.TypeANY
		for _, ip := range s.hosts[name] {
			switch v4 := ip.To4(); {
			case v4 != nil && (any || q.Qtype == dns.TypeA):
				reply.Answer = append(reply.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: v4})
			case v4 == nil && (any || q.Qtype == dns.TypeAAAA):
				reply.Answer = append(reply.Answer, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
			}
		}
		if any || q.Qtype == dns.TypeSRV {
			for _, r := range s.srv[name] {
				reply.Answer = append(reply.Answer, &dns.SRV{Hdr: hdr(dns.TypeSRV),
					Priority: r.Priority, Weight: r.Weight, Port: r.Port, Target: dns.Fqdn(r.Target)})
			}
		}
		if q.Qtype == dns.TypeSOA && name == zone(name) {
			reply.Answer = append(reply.Answer, soa(name))
		}
	}
	s.mu.Unlock()

	if !exists {
		reply.Rcode = dns.RcodeNameError
	}
	if len(reply.Answer) == 0 {
		reply.Ns = append(reply.Ns, soa(zone(name)))
	}
	size := dns.MinMsgSize
	if opt := query.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
		reply.SetEdns0(uint16(size), false)
	}
	if _, tcp := w.RemoteAddr().(*net.TCPAddr); tcp {
		size = dns.MaxMsgSize
	}
	reply.Truncate(size)
	w.WriteMsg(reply)
}

// exists says whether name has records or is above a name that has
// (an empty non-terminal, such as _tcp.example.test.); the caller holds
// s.mu.
func (s *Server) exists(name string) bool {
	if len(s.hosts[name]) > 0 || len(s.srv[name]) > 0 {
		return true
	}
	below := "." + name
	if name == "." {
		below = "."
	}
	for k := range s.hosts {
		if strings.HasSuffix(k, below) {
			return true
		}
	}
	for k := range s.srv {
		if strings.HasSuffix(k, below) {
			return true
		}
	}
	return false
}

// zone is the zone a name is answered from: its last label ("test." for
// "_xmpp-server._tcp.prosody.test."), or the root.
func zone(name string) string {
	labels := dns.SplitDomainName(name)
	if len(labels) == 0 {
		return "."
	}
	return labels[len(labels)-1] + "."
}

// soa is the SOA record of zone, with the short TTL and negative TTL.
func soa(zone string) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns:      "ns.testdns.invalid.",
		Mbox:    "hostmaster.testdns.invalid.",
		Serial:  1,
		Refresh: TTL, Retry: TTL, Expire: TTL, Minttl: TTL,
	}
}
