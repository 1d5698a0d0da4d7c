package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"hearth/internal/atomicfile"
)

// The home CA: a certificate authority of this Hearth alone, kept in the
// data directory, that family devices trust once (the CA page) and that
// issues short-lived certificates for the domain and its service
// subdomains. No public CA issues for .local, .home.arpa or private
// addresses; this one does, and nothing else.

// Lifetimes.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	leafLifetime = 30 * 24 * time.Hour // certmagic renews a third before the end
)

// File names in the certificate directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

// homeCA is the CA certificate and its key.
type homeCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// loadHomeCA reads the home CA from dir, making it on first use. A CA
// whose files are damaged is an error, never silently replaced: devices
// trust it, and a new one would make them all distrust the server.
func loadHomeCA(dir, domain string) (*homeCA, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case errors.Is(cerr, os.ErrNotExist):
		// No CA yet, or a crash while one was made or set aside: a key
		// without its certificate was never given to any device.
		return newHomeCA(certPath, keyPath, domain)
	case cerr != nil:
		return nil, fmt.Errorf("the home CA's certificate %s could not be read (%v); make it readable, restore it from a backup, "+
			"or move it away to make a new CA that every device must trust again", certPath, cerr)
	case errors.Is(kerr, os.ErrNotExist):
		return nil, fmt.Errorf("the home CA's key %s is missing; restore it from a backup, "+
			"or move %s away to make a new CA that every device must trust again", keyPath, certPath)
	case kerr != nil:
		return nil, fmt.Errorf("the home CA's key %s could not be read (%v); make it readable, restore it from a backup, "+
			"or move %s and %s away to make a new CA that every device must trust again", keyPath, kerr, certPath, keyPath)
	}
	ca, err := parseHomeCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the home CA in %s is damaged (%v); restore %s and %s from a backup, "+
			"or move them away to make a new CA that every device must trust again", dir, err, caCertFile, caKeyFile)
	}
	if !ca.permits(domain) {
		// The domain changed: the CA may only vouch for its old names.
		// Keep it beside, and make one for the new domain. The
		// certificate goes first: a crash between leaves a key alone,
		// which the next start replaces.
		old := "ca-" + ca.cert.NotBefore.UTC().Format("20060102T150405")
		if err := os.Rename(certPath, filepath.Join(dir, old+".pem")); err != nil {
			return nil, fmt.Errorf("set aside the home CA of the old domain: %w", err)
		}
		if err := os.Rename(keyPath, filepath.Join(dir, old+"-key.pem")); err != nil {
			return nil, fmt.Errorf("set aside the home CA of the old domain: %w", err)
		}
		if err := atomicfile.SyncDir(dir); err != nil {
			return nil, fmt.Errorf("set aside the home CA of the old domain: %w", err)
		}
		return newHomeCA(certPath, keyPath, domain)
	}
	return ca, nil
}

// permits reports whether the CA may vouch for domain (its name
// constraints).
func (ca *homeCA) permits(domain string) bool {
	if ip := net.ParseIP(domain); ip != nil {
		for _, r := range ca.cert.PermittedIPRanges {
			if r.Contains(ip) {
				return true
			}
		}
		return false
	}
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	for _, p := range ca.cert.PermittedDNSDomains {
		if d == p || strings.HasSuffix(d, "."+p) {
			return true
		}
	}
	return false
}

func parseHomeCA(certPEM, keyPEM []byte) (*homeCA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the key does not belong to the certificate")
	}
	if !cert.IsCA {
		return nil, errors.New("the certificate is not a CA")
	}
	// Only the certificate is kept to be served, whatever else the file
	// holds.
	return &homeCA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}, nil
}

// newHomeCA makes a CA and writes it: the key first (mode 0600), then the
// certificate, so that a crash between leaves no certificate without its
// key (and a key without its certificate is replaced at the next start).
func newHomeCA(certPath, keyPath, domain string) (*homeCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Hearth home CA for " + domain, Organization: []string{"Hearth"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// It vouches for this domain and its subdomains, as servers
		// and clients, only: a device that trusts it trusts nothing
		// else because of it, even if its key were stolen (RFC 5280
		// 4.2.1.10 and 4.2.1.12): no other name, no address (unless
		// the domain is one), no mail address, no URI, no code.
		PermittedDNSDomainsCritical: true,
		PermittedEmailAddresses:     []string{"invalid"},
		PermittedURIDomains:         []string{"invalid"},
		ExtKeyUsage:                 []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(domain); ip != nil {
		bits := 8 * len(ip.To16())
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 32
		}
		tmpl.PermittedIPRanges = []*net.IPNet{{IP: ip, Mask: net.CIDRMask(bits, bits)}}
		tmpl.PermittedDNSDomains = []string{"invalid"} // no DNS name (RFC 6761)
	} else {
		tmpl.PermittedDNSDomains = []string{strings.ToLower(strings.TrimSuffix(domain, "."))}
		tmpl.ExcludedIPRanges = []*net.IPNet{ // no address
			{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
			{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)},
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make the home CA: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := atomicfile.Write(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write the home CA's key: %w", err)
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write the home CA's certificate: %w", err)
	}
	return parseHomeCA(certPEM, keyPEM)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails
	}
	return n
}

// issuer is the home CA as a certmagic Issuer: certmagic keeps, renews
// and serves its certificates as it does ACME's.
type issuer struct{ ca *homeCA }

// IssuerKey names the issuer in certmagic's storage: each CA its own, so
// that certificates of a CA that was replaced (a domain changed back, a
// CA made anew) are never loaded and served.
func (i issuer) IssuerKey() string {
	sum := sha256.Sum256(i.ca.cert.Raw)
	return "hearth-home-ca-" + hex.EncodeToString(sum[:6])
}

// Issue signs a leaf for the names of csr, valid for leafLifetime, and
// returns it with the CA certificate after it.
func (i issuer) Issue(_ context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("home CA: the request's signature: %w", err)
	}
	now := time.Now()
	name := ""
	if len(csr.DNSNames) > 0 {
		name = csr.DNSNames[0]
	} else if len(csr.IPAddresses) > 0 {
		name = csr.IPAddresses[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     csr.DNSNames,
		IPAddresses:  csr.IPAddresses,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, i.ca.cert, csr.PublicKey, i.ca.key)
	if err != nil {
		return nil, fmt.Errorf("home CA: sign: %w", err)
	}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), i.ca.certPEM...)
	return &certmagic.IssuedCertificate{Certificate: chain}, nil
}
