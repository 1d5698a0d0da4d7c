package xmpptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority of the test's own, for servers'
// certificates that peers are told to trust (PeerConfig.TrustCAFiles)
// or not.
type CA struct {
	CertFile string         // the CA's certificate, PEM
	Pool     *x509.CertPool // the CA's certificate, for Go clients
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	dir      string
}

// Usage is what a server certificate says it may be used for (its
// extended key usage).
type Usage int

const (
	// ServerAndClient is serverAuth and clientAuth, what server
	// certificates have long had: servers present them on the streams
	// they open too.
	ServerAndClient Usage = iota
	// ServerOnly is serverAuth alone, as Let's Encrypt issues them
	// since 2026.
	ServerOnly
)

// NewCA makes a CA (ECDSA P-256) named name, valid for a day; its
// files are removed when the test ends.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CA %s: %v", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{cert: cert, key: key, dir: t.TempDir(), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	ca.CertFile = filepath.Join(ca.dir, "ca.pem")
	writePEM(t, ca.CertFile, "CERTIFICATE", der)
	return ca
}

// Issue makes a certificate for domain (and *.domain) signed by the CA,
// valid for a day, and returns its files: the certificate (PEM, the
// server's alone) and its key (PEM, PKCS #8).
func (ca *CA) Issue(t testing.TB, domain string, usage Usage) (certFile, keyFile string) {
	t.Helper()
	return issue(t, ca.dir, domain, usage, ca.cert, ca.key)
}

// SelfSigned makes a self-signed certificate for domain (and *.domain),
// with serverAuth and clientAuth, and returns its files: a certificate
// no peer trusts unless told to.
func SelfSigned(t testing.TB, domain string) (certFile, keyFile string) {
	t.Helper()
	return issue(t, t.TempDir(), domain, ServerAndClient, nil, nil)
}

func issue(t testing.TB, dir, domain string, usage Usage, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (certFile, keyFile string) {
	key := newKey(t)
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if usage == ServerOnly {
		eku = eku[:1]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain, "*." + domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("certificate for %s: %v", domain, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, domain)
	if usage == ServerOnly {
		base += "-serverauth"
	}
	certFile, keyFile = base+".pem", base+".key"
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
