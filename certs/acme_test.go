package certs

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/libdns/cloudflare"
	"github.com/libdns/duckdns"

	"hearth/internal/acmetest"
)

// TestACMERefused: when the CA cannot validate the challenge (HTTP-01 is
// answered on another port than the one it checks), the home CA's
// certificate is served and the status says, in words a person can act
// on, what must reach the server.
func TestACMERefused(t *testing.T) {
	ca := acmetest.Start(t)
	roots, err := ParseRoots(ca.ServerRootPEM())
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, Config{DataDir: t.TempDir(), Domain: "refused.test", Mode: ModeACME, ACME: ACME{
		CA: ca.Directory, Roots: roots, HTTPAddr: "127.0.0.1:" + strconv.Itoa(acmetest.FreePort(t)), TLSALPNAddr: "off"}})
	deadline := time.Now().Add(20 * time.Second)
	var st Status
	for {
		st = m.Status()
		if len(st.Names) == 1 && st.Names[0].LastError != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error in the status after 20s: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := st.Names[0]
	if !strings.HasPrefix(n.LastError, "the CA could not check that this server answers for the name: port 80") ||
		!strings.Contains(n.LastError, "The CA said: ") {
		t.Errorf("last error %q does not say what must reach the server", n.LastError)
	}
	if !strings.HasPrefix(n.Issuer, "Hearth home CA") || n.LastAttempt.IsZero() {
		t.Errorf("serving %q (last attempt %v), want the home CA's certificate", n.Issuer, n.LastAttempt)
	}
	verify(t, m, trusts(t, m.CAPEM()), "refused.test")
	t.Logf("status: %s", n.LastError)
}

// TestDNSSolver: each DNS provider gets its credentials; a missing token
// or an unknown provider is refused with what to do.
func TestDNSSolver(t *testing.T) {
	for _, tc := range []struct {
		provider string
		check    func(certmagic.DNSProvider) bool
	}{
		{DNSDuckDNS, func(p certmagic.DNSProvider) bool { d, ok := p.(*duckdns.Provider); return ok && d.APIToken == "tok" }},
		{DNSCloudflare, func(p certmagic.DNSProvider) bool {
			c, ok := p.(*cloudflare.Provider)
			return ok && c.APIToken == "tok"
		}},
	} {
		s, err := dnsSolver(tc.provider, "tok", nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.provider, err)
		}
		if !tc.check(s.DNSProvider) {
			t.Errorf("%s: solver %#v", tc.provider, s)
		}
	}
	if _, err := dnsSolver(DNSDuckDNS, "", nil); err == nil || !strings.Contains(err.Error(), "hearth config set acme.dns_token") {
		t.Errorf("no token: %v", err)
	}
	if _, err := dnsSolver("route53", "tok", nil); err == nil || !strings.Contains(err.Error(), "want duckdns or cloudflare") {
		t.Errorf("unknown provider: %v", err)
	}
}

// TestACMEDNS01: with DNS-01, Hearth sets the challenge's TXT record
// through the DNS provider, the CA (Pebble) looks it up on its DNS server
// and issues, and the record is taken away afterwards; no HTTP-01 or
// TLS-ALPN-01 port is open.
func TestACMEDNS01(t *testing.T) {
	ca := acmetest.Start(t)
	roots, err := ParseRoots(ca.ServerRootPEM())
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, Config{DataDir: t.TempDir(), Domain: "dns.acme.test", Mode: ModeACME, ACME: ACME{
		CA: ca.Directory, Roots: roots, HTTPAddr: "off", TLSALPNAddr: "off",
		DNS: ca.DNS, DNSResolvers: []string{ca.DNSServer}}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := m.Status().Names[0]
		if strings.HasPrefix(n.Issuer, "Pebble") {
			t.Logf("issued by %s through DNS-01", n.Issuer)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate by DNS-01 within 30s: %+v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	verify(t, m, ca.IssuerRoots(), "dns.acme.test")
	for wait := time.Now().Add(5 * time.Second); len(ca.DNS.TXT("_acme-challenge.dns.acme.test")) > 0; {
		if time.Now().After(wait) {
			t.Fatalf("the challenge's TXT record was left: %v", ca.DNS.TXT("_acme-challenge.dns.acme.test"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
