package s2s

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"reflect"
	"testing"
)

// fakeDNS answers SRV lookups from a table, and "not found" for the rest.
type fakeDNS map[string][]*net.SRV

func (f fakeDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if srvs, ok := f[key]; ok {
		if srvs == nil {
			return "", nil, &net.DNSError{Err: "server misbehaving", Name: key, IsTemporary: true}
		}
		return key, srvs, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
}

func (f fakeDNS) LookupHost(context.Context, string) ([]string, error) {
	return []string{"127.0.0.1"}, nil
}

func TestCandidates(t *testing.T) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		dns  fakeDNS
		want []Candidate
		err  error
	}{
		{"no records: the domain on 5269", fakeDNS{}, []Candidate{{"example.org", 5269, false}}, nil},
		{"both services, by priority", fakeDNS{
			"_xmpp-server._tcp.example.org":  {{Target: "xmpp.example.org.", Port: 5269, Priority: 10}},
			"_xmpps-server._tcp.example.org": {{Target: "tls.example.org.", Port: 5270, Priority: 5}},
		}, []Candidate{{"tls.example.org", 5270, true}, {"xmpp.example.org", 5269, false}}, nil},
		{"only STARTTLS", fakeDNS{
			"_xmpp-server._tcp.example.org": {{Target: "b.example.org.", Port: 5269, Priority: 20}, {Target: "a.example.org.", Port: 5269, Priority: 10}},
		}, []Candidate{{"a.example.org", 5269, false}, {"b.example.org", 5269, false}}, nil},
		{"direct TLS refused by '.', STARTTLS offered", fakeDNS{
			"_xmpps-server._tcp.example.org": {{Target: ".", Port: 0}},
			"_xmpp-server._tcp.example.org":  {{Target: "xmpp.example.org.", Port: 5269}},
		}, []Candidate{{"xmpp.example.org", 5269, false}}, nil},
		{"both refused", fakeDNS{
			"_xmpps-server._tcp.example.org": {{Target: "."}},
			"_xmpp-server._tcp.example.org":  {{Target: "."}},
		}, nil, ErrNoService},
		{"lookup failing", fakeDNS{"_xmpp-server._tcp.example.org": nil}, nil, &net.DNSError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Candidates(ctx, tc.dns, "example.org", rnd)
			switch {
			case tc.err == ErrNoService:
				if !errors.Is(err, ErrNoService) {
					t.Fatalf("error %v, want ErrNoService", err)
				}
			case tc.err != nil:
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) {
					t.Fatalf("error %v, want the DNS error", err)
				}
			case err != nil:
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("candidates %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCandidatesWeights: within one priority, records come first about as
// often as their weight says (RFC 2782), weight 0 rarely; every record is
// tried once.
func TestCandidatesWeights(t *testing.T) {
	dns := fakeDNS{"_xmpp-server._tcp.example.org": {
		{Target: "heavy.example.org.", Port: 5269, Priority: 1, Weight: 90},
		{Target: "light.example.org.", Port: 5269, Priority: 1, Weight: 10},
		{Target: "zero.example.org.", Port: 5269, Priority: 1, Weight: 0},
		{Target: "backup.example.org.", Port: 5269, Priority: 2, Weight: 50},
	}}
	rnd := rand.New(rand.NewPCG(3, 4))
	first := map[string]int{}
	const runs = 10000
	for range runs {
		got, err := Candidates(context.Background(), dns, "example.org", rnd)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 || got[3].Host != "backup.example.org" {
			t.Fatalf("order %v: every record once, the lower priority last", got)
		}
		first[got[0].Host]++
	}
	if h := first["heavy.example.org"]; h < runs*80/100 || h > runs*95/100 {
		t.Errorf("weight 90 of 100 came first %d times in %d", h, runs)
	}
	if l := first["light.example.org"]; l < runs*5/100 || l > runs*15/100 {
		t.Errorf("weight 10 of 100 came first %d times in %d", l, runs)
	}
	t.Logf("first: %v", first)
}

// *net.Resolver is a Resolver: the default one is what serving uses.
var _ Resolver = net.DefaultResolver
