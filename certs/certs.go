// Package certs provides the *tls.Config for Hearth's domain. For now it
// makes a self-signed certificate for the domain on first run and keeps it
// in the data directory; ACME and a local CA come later through the same
// Manager.
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Manager holds the serving certificate.
type Manager struct {
	mu   sync.RWMutex
	cert tls.Certificate
	leaf *x509.Certificate
	dir  string
	conf *tls.Config
}

// Load reads the certificate for domain from dataDir/tls, making a new
// self-signed one when there is none, or it is for another name, or it
// expires within 30 days.
func Load(dataDir, domain string) (*Manager, error) {
	dir := filepath.Join(dataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	m := &Manager{dir: dir}
	m.conf = m.newConfig()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err == nil && c.Leaf != nil && c.Leaf.VerifyHostname(domain) == nil && time.Until(c.Leaf.NotAfter) > 30*24*time.Hour {
		m.set(c)
		return m, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("certs: load %s: %w", certFile, err)
	}
	c, err = selfSigned(domain, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	m.set(c)
	return m, nil
}

func (m *Manager) set(c tls.Certificate) {
	m.mu.Lock()
	m.cert, m.leaf = c, c.Leaf
	m.mu.Unlock()
}

// CertFile is the PEM certificate clients can be told to trust.
func (m *Manager) CertFile() string { return filepath.Join(m.dir, "cert.pem") }

// TLSConfig returns the server configuration, shared by every connection:
// callers must not change it. ALPN offers xmpp-client for direct TLS
// (XEP-0368); the certificate is looked up per handshake, so a renewed one
// is served without a restart.
func (m *Manager) TLSConfig() *tls.Config { return m.conf }

func (m *Manager) newConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"xmpp-client"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			m.mu.RLock()
			defer m.mu.RUnlock()
			return &m.cert, nil
		},
	}
}

// Fingerprint is the SHA-256 of the serving certificate, as hex pairs.
func (m *Manager) Fingerprint() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	sum := sha256.Sum256(m.leaf.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func selfSigned(domain, certFile, keyFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"Hearth"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{domain, "*." + domain},
	}
	if ip := net.ParseIP(domain); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
		tmpl.DNSNames = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: create: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("certs: %w", err)
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}
