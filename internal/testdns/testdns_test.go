package testdns_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"hearth/internal/testdns"
)

// exchange asks s one question over network ("udp" or "tcp").
func exchange(t *testing.T, s *testdns.Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return r
}

func TestAnswers(t *testing.T) {
	s := testdns.Start(t)
	s.SetHost("Prosody.TEST", "127.0.0.1", "::1")
	s.SetHost("v6only.test", "::1")
	s.SetSRV("xmpp-server", "tcp", "prosody.test",
		testdns.SRV{Target: "localhost", Port: 5269, Priority: 10, Weight: 5},
		testdns.SRV{Target: "backup.prosody.test.", Port: 5270, Priority: 20})
	s.SetSRV("xmpps-server", "tcp", "none.test", testdns.SRV{Target: "."})

	tests := []struct {
		name    string
		qtype   uint16
		rcode   int
		answers []string // the records' data, in order
	}{
		{"prosody.test", dns.TypeA, dns.RcodeSuccess, []string{"127.0.0.1"}},
		{"PROSODY.test", dns.TypeAAAA, dns.RcodeSuccess, []string{"::1"}},
		{"v6only.test", dns.TypeA, dns.RcodeSuccess, nil},
		{"_xmpp-server._tcp.prosody.test", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"10 5 5269 localhost.", "20 0 5270 backup.prosody.test."}},
		{"_XMPP-SERVER._TCP.prosody.test", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"10 5 5269 localhost.", "20 0 5270 backup.prosody.test."}},
		{"_xmpps-server._tcp.none.test", dns.TypeSRV, dns.RcodeSuccess, []string{"0 0 0 ."}},
		{"_xmpps-server._tcp.prosody.test", dns.TypeSRV, dns.RcodeNameError, nil},
		{"_tcp.prosody.test", dns.TypeSRV, dns.RcodeSuccess, nil}, // above a name with records
		{"prosody.test", dns.TypeSRV, dns.RcodeSuccess, nil},
		{"test", dns.TypeSOA, dns.RcodeSuccess, []string{"ns.testdns.invalid. hostmaster.testdns.invalid. 1 1 1 1 1"}},
		{"unknown.test", dns.TypeA, dns.RcodeNameError, nil},
		{"ejabberd.test", dns.TypeAAAA, dns.RcodeNameError, nil},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
				r := exchange(t, s, network, tc.name, tc.qtype)
				if r.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				if !r.Authoritative {
					t.Error("answer not authoritative")
				}
				var got []string
				for _, rr := range r.Answer {
					if rr.Header().Ttl != testdns.TTL {
						t.Errorf("%s: TTL %d, want %d", rr, rr.Header().Ttl, testdns.TTL)
					}
					got = append(got, strings.TrimPrefix(rr.String(), rr.Header().String()))
				}
				if !slices.Equal(got, tc.answers) {
					t.Errorf("answers %q, want %q", got, tc.answers)
				}
				if len(tc.answers) > 0 {
					return
				}
				// A negative answer: the SOA in authority, for short negative caching.
				if len(r.Ns) != 1 {
					t.Fatalf("authority %v, want one SOA", r.Ns)
				}
				soa, ok := r.Ns[0].(*dns.SOA)
				if !ok || soa.Hdr.Name != "test." || soa.Minttl != testdns.TTL || soa.Hdr.Ttl != testdns.TTL {
					t.Errorf("authority %v, want the SOA of test. with TTL and minimum %d", r.Ns[0], testdns.TTL)
				}
			})
		}
	}
	if n := s.Asked("prosody.TEST.", "a"); n != 2 {
		t.Errorf("Asked(prosody.test, A) = %d, want 2 (once over UDP, once over TCP)", n)
	}
}

// TestTruncated: an answer too big for UDP is truncated there and whole
// over TCP, and Go's resolver gets all of it.
func TestTruncated(t *testing.T) {
	s := testdns.Start(t)
	var recs []testdns.SRV
	for i := range 40 {
		recs = append(recs, testdns.SRV{Target: strings.Repeat("x", 40) + ".big.test", Port: uint16(5000 + i)})
	}
	s.SetSRV("xmpp-server", "tcp", "big.test", recs...)
	r := exchange(t, s, "udp", "_xmpp-server._tcp.big.test", dns.TypeSRV)
	r.Compress = true // as it came
	if !r.Truncated || r.Len() > dns.MinMsgSize || len(r.Answer) == 40 {
		t.Errorf("UDP answer of %d bytes with %d records, truncated %v; want truncated to %d bytes",
			r.Len(), len(r.Answer), r.Truncated, dns.MinMsgSize)
	}
	if r := exchange(t, s, "tcp", "_xmpp-server._tcp.big.test", dns.TypeSRV); r.Truncated || len(r.Answer) != 40 {
		t.Errorf("TCP answer has %d records, truncated %v; want all 40", len(r.Answer), r.Truncated)
	}
	_, srvs, err := s.Resolver().LookupSRV(context.Background(), "xmpp-server", "tcp", "big.test")
	if err != nil || len(srvs) != 40 {
		t.Errorf("LookupSRV: %d records, %v; want 40", len(srvs), err)
	}
}

// TestResolver: Go's resolver asks only this server, sees changes at
// once, and reports unknown names as not found.
func TestResolver(t *testing.T) {
	s := testdns.Start(t)
	r := s.Resolver()
	ctx := context.Background()

	s.SetHost("ejabberd.test", "127.0.0.1")
	s.SetSRV("xmpp-server", "tcp", "ejabberd.test", testdns.SRV{Target: "ejabberd.test", Port: 15269})
	addrs, err := r.LookupHost(ctx, "EJABBERD.test")
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Fatalf("LookupHost: %v, %v; want [127.0.0.1]", addrs, err)
	}
	_, srvs, err := r.LookupSRV(ctx, "xmpp-server", "tcp", "ejabberd.test")
	if err != nil || len(srvs) != 1 || srvs[0].Target != "ejabberd.test." || srvs[0].Port != 15269 {
		t.Fatalf("LookupSRV: %v, %v; want ejabberd.test. port 15269", srvs, err)
	}

	// Replaced: the new records come back at once (Go does not cache).
	s.SetHost("ejabberd.test", "127.0.0.2", "::1")
	addrs, err = r.LookupHost(ctx, "ejabberd.test")
	slices.Sort(addrs)
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.2", "::1"}) {
		t.Errorf("LookupHost after SetHost: %v, %v; want [127.0.0.2 ::1]", addrs, err)
	}
	s.SetSRV("xmpp-server", "tcp", "ejabberd.test")
	_, _, err = r.LookupSRV(ctx, "xmpp-server", "tcp", "ejabberd.test")
	if !notFound(err) {
		t.Errorf("LookupSRV after removing the records: %v; want not found", err)
	}

	s.Remove("ejabberd.test")
	for _, name := range []string{"ejabberd.test", "nowhere.test"} {
		if _, err := r.LookupHost(ctx, name); !notFound(err) {
			t.Errorf("LookupHost(%s) after Remove: %v; want not found", name, err)
		}
	}

	// "localhost" comes from /etc/hosts, as with any Go resolver.
	if addrs, err := r.LookupHost(ctx, "localhost"); err != nil || !slices.Contains(addrs, "127.0.0.1") {
		t.Errorf("LookupHost(localhost): %v, %v; want 127.0.0.1 among them", addrs, err)
	}
	if n := s.Asked("localhost", "A"); n != 0 {
		t.Errorf("the server was asked for localhost %d times, want 0", n)
	}
}

func notFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

func TestSetHostPanicsOnName(t *testing.T) {
	s := testdns.Start(t)
	defer func() {
		if recover() == nil {
			t.Error("SetHost with a name for an address did not panic")
		}
	}()
	s.SetHost("a.test", "b.test")
}
