// Package s2s is federation: links between this server and others
// (RFC 6120 server-to-server streams). This much is here so far: where a
// domain's server is found (resolve.go) and connected to (dial.go),
// dialback keys (dialback.go) and checking a peer's certificate
// (verify.go); the links themselves come with the federation work.
package s2s

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
)

// Resolver is the one seam for DNS: the outbound side looks names up only
// through it, so that tests map test domains to loopback addresses.
// *net.Resolver is one.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
	LookupHost(ctx context.Context, host string) (addrs []string, err error)
}

// DefaultPort is where a server is tried when its domain has no SRV
// records (RFC 6120 3.2.2).
const DefaultPort = 5269

// Candidate is one place a domain's server may listen.
type Candidate struct {
	Host      string
	Port      uint16
	DirectTLS bool // TLS from the first byte (XEP-0368); else STARTTLS
}

func (c Candidate) String() string {
	how := "STARTTLS"
	if c.DirectTLS {
		how = "direct TLS"
	}
	return fmt.Sprintf("%s port %d (%s)", c.Host, c.Port, how)
}

// ErrNoService: the domain says, with a "." SRV target, that it runs no
// XMPP server (RFC 2782).
var ErrNoService = errors.New("the domain says it has no XMPP server")

// Candidates returns where domain's server listens, in the order to try:
// the records of _xmpps-server._tcp (direct TLS, XEP-0368) and
// _xmpp-server._tcp (STARTTLS) together, by priority and, within one
// priority, in a random order weighted as RFC 2782 says; with no records
// at all, the domain itself on port 5269 with STARTTLS. A service whose
// only record has the target "." is not offered; if neither is, the
// error is ErrNoService. rnd picks among weights (nil: a random source).
func Candidates(ctx context.Context, r Resolver, domain string, rnd *rand.Rand) ([]Candidate, error) {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	type record struct {
		Candidate
		priority, weight uint16
	}
	var records []record
	refused := 0 // services that said "."
	var lookupErr error
	for _, s := range []struct {
		service   string
		directTLS bool
	}{{"xmpps-server", true}, {"xmpp-server", false}} {
		_, srvs, err := r.LookupSRV(ctx, s.service, "tcp", domain)
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			continue
		case err != nil && len(srvs) == 0:
			lookupErr = errors.Join(lookupErr, err)
			continue
		}
		if len(srvs) == 1 && (srvs[0].Target == "." || srvs[0].Target == "") {
			refused++
			continue
		}
		for _, srv := range srvs {
			host := strings.TrimSuffix(srv.Target, ".")
			if host == "" {
				continue
			}
			records = append(records, record{Candidate{host, srv.Port, s.directTLS}, srv.Priority, srv.Weight})
		}
	}
	switch {
	case len(records) > 0:
	case refused > 0 && lookupErr == nil:
		return nil, fmt.Errorf("%s: %w", domain, ErrNoService)
	case lookupErr != nil:
		return nil, fmt.Errorf("looking up the XMPP server of %s: %w", domain, lookupErr)
	default:
		return []Candidate{{Host: domain, Port: DefaultPort}}, nil
	}

	// By priority; within one, weighted at random (RFC 2782): the
	// records of weight 0 first, then each next one drawn with a chance
	// in proportion to its weight among those left.
	slices.SortStableFunc(records, func(a, b record) int { return int(a.priority) - int(b.priority) })
	out := make([]Candidate, 0, len(records))
	for start := 0; start < len(records); {
		end := start
		for end < len(records) && records[end].priority == records[start].priority {
			end++
		}
		group := records[start:end]
		slices.SortStableFunc(group, func(a, b record) int {
			return min(int(a.weight), 1) - min(int(b.weight), 1) // weight 0 first
		})
		for len(group) > 0 {
			total := 0
			for _, g := range group {
				total += int(g.weight)
			}
			pick := 0
			if total > 0 {
				n := rnd.IntN(total + 1)
				for sum := 0; pick < len(group); pick++ {
					if sum += int(group[pick].weight); sum >= n {
						break
					}
				}
				pick = min(pick, len(group)-1)
			}
			out = append(out, group[pick].Candidate)
			group = slices.Delete(group, pick, pick+1)
		}
		start = end
	}
	return out, nil
}
