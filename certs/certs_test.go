package certs

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
)

func TestLoadCreatesAndKeeps(t *testing.T) {
	dir := t.TempDir()
	m, err := Load(dir, "hearth.test")
	if err != nil {
		t.Fatal(err)
	}
	fp := m.Fingerprint()
	m2, err := Load(dir, "hearth.test")
	if err != nil {
		t.Fatal(err)
	}
	if m2.Fingerprint() != fp {
		t.Fatal("certificate was regenerated on second load")
	}
	m3, err := Load(dir, "other.test")
	if err != nil {
		t.Fatal(err)
	}
	if m3.Fingerprint() == fp {
		t.Fatal("certificate kept for another domain")
	}
	pem, err := os.ReadFile(m3.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := m3.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: pool}); err != nil {
		t.Fatal(err)
	}
}
