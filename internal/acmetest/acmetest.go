// Package acmetest is an ACME server for tests: Pebble, run in the test's
// own process on loopback, that validates HTTP-01 and TLS-ALPN-01
// challenges for real. Every name resolves to 127.0.0.1 (through a small DNS
// server of the package's own), so the client under test answers the
// challenges on 127.0.0.1 at the ports the CA says.
//
//	ca := acmetest.Start(t, acmetest.ValidFor(time.Minute))
//	// point the ACME client at ca.Directory, trust ca.ServerRoots for the
//	// ACME server itself, answer HTTP-01 on ca.HTTPPort and TLS-ALPN-01 on
//	// ca.TLSALPNPort, and check issued leaves against ca.IssuerRoots().
//
// Pebble is built from github.com/letsencrypt/pebble/v2 as its own
// cmd/pebble does, at the version go.mod pins: its constructors change
// between versions.
package acmetest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// CA is a running ACME server for one test.
type CA struct {
	// Directory is the URL of the ACME directory.
	Directory string
	// ServerRoots trusts the ACME server's own HTTPS (not what it issues).
	ServerRoots *x509.CertPool
	// HTTPPort is where the validation authority fetches HTTP-01 answers,
	// on 127.0.0.1: the client under test must serve them there.
	HTTPPort int
	// TLSALPNPort is where the validation authority dials for TLS-ALPN-01,
	// on 127.0.0.1: the client under test must answer there.
	TLSALPNPort int
	// ValidFor is how long the certificates it issues are valid.
	ValidFor time.Duration
	// DNS sets the TXT records of DNS-01 on the CA's own DNS server, and
	// DNSServer is that server's address (UDP and TCP), for the client's
	// zone lookups.
	DNS       DNSProvider
	DNSServer string

	ca         *ca.CAImpl
	serverCert *x509.Certificate
}

// DefaultValidFor is how long certificates are valid unless ValidFor says
// otherwise: Pebble's own default, 90 days.
const DefaultValidFor = 90 * 24 * time.Hour

// config is what the options set.
type config struct {
	httpPort    int
	tlsALPNPort int
	validFor    time.Duration
}

// Option changes how Start sets up the CA.
type Option func(*config)

// HTTPPort makes the validation authority fetch HTTP-01 answers from port
// on 127.0.0.1. Without it Start picks a free port.
func HTTPPort(port int) Option {
	return func(c *config) { c.httpPort = port }
}

// TLSALPNPort makes the validation authority dial port on 127.0.0.1 for
// TLS-ALPN-01. Without it Start picks a free port.
func TLSALPNPort(port int) Option {
	return func(c *config) { c.tlsALPNPort = port }
}

// ValidFor makes the CA issue certificates valid for d, in whole seconds
// (rounded up; at least one), for tests that watch a client renew.
func ValidFor(d time.Duration) Option {
	return func(c *config) { c.validFor = d }
}

// Start runs an ACME server until the test ends. It never sets Pebble to
// accept challenges without checking them.
func Start(t testing.TB, opts ...Option) *CA {
	t.Helper()
	c := config{validFor: DefaultValidFor}
	for _, o := range opts {
		o(&c)
	}
	if c.httpPort == 0 {
		c.httpPort = FreePort(t)
	}
	if c.tlsALPNPort == 0 {
		c.tlsALPNPort = FreePort(t)
	}
	seconds := uint64((c.validFor + time.Second - 1) / time.Second)
	if seconds < 1 {
		seconds = 1
	}

	dnsServer := startResolver(t)
	logger := pebbleLogger()
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{
		// One profile: Pebble picks one at random for an order that names none.
		"default": {Description: "certificates for tests", ValidityPeriod: seconds},
	}
	// ECDSA roots and intermediates: RSA keys make every Start slower.
	caImpl := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	var front wfe.WebFrontEndImpl
	withPebbleEnv(func() {
		vaImpl := va.New(logger, c.httpPort, c.tlsALPNPort, false, dnsServer.addr, store)
		front = wfe.New(logger, store, vaImpl, caImpl, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	})

	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)

	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return &CA{
		Directory:   srv.URL + wfe.DirectoryPath,
		ServerRoots: roots,
		HTTPPort:    c.httpPort,
		TLSALPNPort: c.tlsALPNPort,
		ValidFor:    time.Duration(seconds) * time.Second,
		DNS:         DNSProvider{dnsServer},
		DNSServer:   dnsServer.addr,
		ca:          caImpl,
		serverCert:  srv.Certificate(),
	}
}

// IssuerRoots is a new pool of the roots that the CA's certificates chain
// to. They are made anew at every Start.
func (c *CA) IssuerRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	for i := range c.ca.GetNumberOfRootCerts() {
		pool.AddCert(c.ca.GetRootCert(i).Cert)
	}
	return pool
}

// IssuerRootPEM is IssuerRoots in PEM, for a file.
func (c *CA) IssuerRootPEM() []byte {
	var b bytes.Buffer
	for i := range c.ca.GetNumberOfRootCerts() {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.ca.GetRootCert(i).DER})
	}
	return b.Bytes()
}

// ServerRootPEM is the certificate of the ACME server's own HTTPS in PEM,
// for a file: what a client given a CA root for the ACME server (such as
// a --acme-ca-root flag) must trust. Issued leaves do not chain to it.
func (c *CA) ServerRootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.serverCert.Raw})
}

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment
// ago, for the client under test to answer challenges on.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pebbleLogger writes Pebble's log to standard error when HEARTH_TEST_LOG
// is set, and nowhere otherwise.
func pebbleLogger() *log.Logger {
	var w io.Writer = io.Discard
	if os.Getenv("HEARTH_TEST_LOG") != "" {
		w = os.Stderr
	}
	return log.New(w, "pebble: ", log.Lmicroseconds)
}

// pebbleEnv is what Pebble's validation authority and front end read from
// the environment, once, while they are made.
var pebbleEnv = map[string]string{
	"PEBBLE_VA_NOSLEEP":      "1", // no random wait of up to 5 s before each validation
	"PEBBLE_VA_ALWAYS_VALID": "0", // validate every challenge for real
	"PEBBLE_WFE_NONCEREJECT": "0", // no nonces refused at random (default 5 %)
	"PEBBLE_AUTHZREUSE":      "0", // every order validates anew, renewals too
}

// envMu keeps Starts from changing the environment at the same time.
var envMu sync.Mutex

// withPebbleEnv runs build with pebbleEnv set and puts the environment
// back afterwards. Pebble reads it only while it is made, so tests that
// use the CA may run in parallel (t.Setenv would forbid that).
func withPebbleEnv(build func()) {
	envMu.Lock()
	defer envMu.Unlock()
	for key, value := range pebbleEnv {
		old, had := os.LookupEnv(key)
		os.Setenv(key, value)
		if had {
			defer os.Setenv(key, old)
		} else {
			defer os.Unsetenv(key)
		}
	}
	build()
}
