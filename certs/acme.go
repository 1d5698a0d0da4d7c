package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/caddyserver/certmagic"
	"github.com/libdns/cloudflare"
	"github.com/libdns/duckdns"
	"go.uber.org/zap"
)

// DNS providers for DNS-01, the values of the setting acme.dns_provider.
const (
	DNSDuckDNS    = "duckdns"
	DNSCloudflare = "cloudflare"
)

// startACME sets up acme mode and starts obtaining in the background:
// until a certificate comes, the home CA's is served.
func (m *Manager) startACME(ctx context.Context) error {
	a := m.cfg.ACME
	m.acme = m.newConfig(filepath.Join(m.dir, "acme"), nil, ModeACME)
	tmpl := certmagic.ACMEIssuer{
		CA:                      a.CA,
		TestCA:                  a.CA, // never fall back to another CA's staging
		Email:                   a.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    a.HTTPAddr == "off",
		DisableTLSALPNChallenge: a.TLSALPNAddr == "off",
		Logger:                  m.zap,
	}
	if tmpl.CA == "" {
		tmpl.CA, tmpl.TestCA = certmagic.LetsEncryptProductionCA, certmagic.LetsEncryptStagingCA
	}
	if len(a.Roots) > 0 {
		// The system's roots and the extra ones: certmagic's pool
		// replaces the system's.
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range a.Roots {
			pool.AddCert(c)
		}
		tmpl.TrustedRoots = pool
	}
	for _, p := range []struct {
		flag, addr string
		port       *int
	}{{"--acme-http", a.HTTPAddr, &tmpl.AltHTTPPort}, {"--acme-tls-alpn", a.TLSALPNAddr, &tmpl.AltTLSALPNPort}} {
		if p.addr == "" || p.addr == "off" {
			continue
		}
		host, port, err := hostPort(p.addr)
		if err != nil {
			return fmt.Errorf("%s %q: want an address with a port, such as :8080 or 192.168.1.5:8080, or off", p.flag, p.addr)
		}
		*p.port = port
		if host != "" && tmpl.ListenHost != "" && host != tmpl.ListenHost {
			return fmt.Errorf("--acme-http %s and --acme-tls-alpn %s name different hosts: both challenges are answered on one; give the same host, or only the ports", a.HTTPAddr, a.TLSALPNAddr)
		}
		if host != "" {
			tmpl.ListenHost = host
		}
	}
	switch {
	case a.DNS != nil:
		tmpl.DNS01Solver = &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{DNSProvider: a.DNS, Resolvers: a.DNSResolvers, Logger: m.zap}}
	case a.DNSProvider != "":
		solver, err := dnsSolver(a.DNSProvider, a.DNSToken, m.zap)
		if err != nil {
			return err
		}
		solver.DNSManager.Resolvers = a.DNSResolvers
		tmpl.DNS01Solver = solver
	}
	m.acmeCA = tmpl.CA
	m.acme.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(m.acme, tmpl)}
	if err := m.acme.ManageAsync(ctx, m.names); err != nil {
		return fmt.Errorf("certificates from %s: %w", tmpl.CA, err)
	}
	return nil
}

// ParseRoots reads the PEM certificates in data (the file of the flag
// --acme-ca-root), for ACME.Roots.
func ParseRoots(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate in it")
	}
	return out, nil
}

// dnsSolver returns the DNS-01 solver of a provider.
func dnsSolver(provider, token string, log *zap.Logger) (*certmagic.DNS01Solver, error) {
	if token == "" {
		return nil, fmt.Errorf("certificates: DNS-01 with %s needs its API token: hearth config set acme.dns_token TOKEN", provider)
	}
	var p certmagic.DNSProvider
	switch strings.ToLower(provider) {
	case DNSDuckDNS:
		p = &duckdns.Provider{APIToken: token}
	case DNSCloudflare:
		p = &cloudflare.Provider{APIToken: token}
	default:
		return nil, fmt.Errorf("certificates: DNS provider %q is not one Hearth knows: want duckdns or cloudflare", provider)
	}
	return &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{DNSProvider: p, Logger: log}}, nil
}
