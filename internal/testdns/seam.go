package testdns

import (
	"context"
	"net"
	"strconv"
	"strings"
)

// Seam is a resolver for Hearth's DNS seam (s2s.Resolver) without a DNS
// server: the SRV record of a domain's XMPP server is where Addr says it
// listens now (host:port, "" for no such domain), and only IP literals
// have addresses. Tests with servers in one process use it; programs
// that need a real DNS server get Server.
type Seam struct {
	Addr func(domain string) string
	// Direct: the records are _xmpps-server's (TLS from the first byte,
	// XEP-0368) instead of _xmpp-server's.
	Direct bool
}

func (s Seam) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	want := "xmpp-server"
	if s.Direct {
		want = "xmpps-server"
	}
	a := ""
	if service == want && proto == "tcp" {
		a = s.Addr(strings.TrimSuffix(name, "."))
	}
	host, port, err := net.SplitHostPort(a)
	p, perr := strconv.Atoi(port)
	if a == "" || err != nil || perr != nil {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return "", []*net.SRV{{Target: host, Port: uint16(p)}}, nil
}

func (s Seam) LookupHost(_ context.Context, host string) ([]string, error) {
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
