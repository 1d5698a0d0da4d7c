package xmpptest_test

import (
	"crypto/tls"
	"crypto/x509"
	"slices"
	"testing"

	"hearth/server/xmpptest"
)

// TestCertificates: the test CA's certificates verify for their domain
// with the usage asked for; a self-signed one verifies only against
// itself.
func TestCertificates(t *testing.T) {
	ca := xmpptest.NewCA(t, "Test CA")
	tests := []struct {
		name      string
		files     func() (string, string)
		roots     *x509.CertPool
		wantUsage []x509.ExtKeyUsage
	}{
		{"server and client", func() (string, string) { return ca.Issue(t, "a.test", xmpptest.ServerAndClient) }, ca.Pool,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"server only", func() (string, string) { return ca.Issue(t, "a.test", xmpptest.ServerOnly) }, ca.Pool,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"self-signed", func() (string, string) { return xmpptest.SelfSigned(t, "a.test") }, nil,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile := tc.files()
			pair, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			leaf := pair.Leaf
			if !slices.Equal(leaf.ExtKeyUsage, tc.wantUsage) {
				t.Errorf("extended key usage %v, want %v", leaf.ExtKeyUsage, tc.wantUsage)
			}
			roots := tc.roots
			if roots == nil {
				roots = x509.NewCertPool()
				roots.AddCert(leaf)
			}
			for _, name := range []string{"a.test", "conference.a.test"} {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "b.test", Roots: roots}); err == nil {
				t.Error("verifies for b.test")
			}
			if tc.roots != nil {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "a.test", Roots: x509.NewCertPool()}); err == nil {
					t.Error("verifies without the CA")
				}
			}
		})
	}
}
