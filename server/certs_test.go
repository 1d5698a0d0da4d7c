package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/certs"
	"hearth/internal/acmetest"
	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// TestACMERenewal: with certificates from an ACME CA (Pebble, validating
// HTTP-01 for real) that last seconds, the server renews by itself; a
// client signed in before the renewal stays signed in and is served, and
// new connections are given the new certificate.
func TestACMERenewal(t *testing.T) {
	const lifetime = 9 * time.Second
	ca := acmetest.Start(t, acmetest.ValidFor(lifetime))
	roots, err := certs.ParseRoots(ca.ServerRootPEM())
	if err != nil {
		t.Fatal(err)
	}
	var m *certs.Manager
	srv := xmpptest.Start(t, func(c *server.Config) {
		m, err = certs.Start(context.Background(), certs.Config{DataDir: c.DataDir, Domain: c.Domain, Mode: certs.ModeACME,
			ACME: certs.ACME{CA: ca.Directory, Roots: roots, Email: "admin@" + c.Domain,
				HTTPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ca.HTTPPort)), TLSALPNAddr: "off",
				RenewCheck: 200 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		c.TLS = m.TLSConfig
		c.Certificates = func() admin.Certificates { return admin.CertificatesOf(m, "") }
	})
	t.Cleanup(m.Close)
	srv.Roots = ca.IssuerRoots() // clients trust Pebble's root, not the home CA

	first := waitACME(t, srv, nil)
	srv.AddUser(t, "alice", "rabbit-hole-42")
	alice := srv.Login(t, "alice", "rabbit-hole-42", "phone") // verifies the chain over STARTTLS

	second := waitACME(t, srv, first)
	t.Logf("renewed: serial %x (until %s) replaced %x (until %s)", second.SerialNumber, second.NotAfter.Format(time.TimeOnly),
		first.SerialNumber, first.NotAfter.Format(time.TimeOnly))
	alice.Ping() // still signed in on the connection made before
	srv.Login(t, "alice", "rabbit-hole-42", "laptop")
	alice.Ping()

	info, err := srv.Admin.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Certificates
	if c.Mode != certs.ModeACME || len(c.Names) != 1 || !strings.HasPrefix(c.Names[0].Issuer, "Pebble") ||
		c.Names[0].LastError != "" || c.Names[0].LastAttempt.IsZero() {
		t.Errorf("admin API reports %+v, want acme mode, one name issued by Pebble, a last attempt without error", c)
	}
}

// waitACME waits until a direct-TLS connection is served a certificate
// that chains to the CA's root (and is not old), and returns it.
func waitACME(t *testing.T, srv *xmpptest.Server, old *x509.Certificate) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.Dial("tcp", srv.TLSAddr, &tls.Config{ServerName: srv.Domain, RootCAs: srv.Roots,
			NextProtos: []string{"xmpp-client"}})
		if err == nil {
			leaf := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if old == nil || leaf.SerialNumber.Cmp(old.SerialNumber) != 0 {
				return leaf
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new certificate from the ACME CA within 20s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
