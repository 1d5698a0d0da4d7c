package acmetest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"

	"hearth/internal/acmetest"
)

// acmeTLS1 is the ALPN protocol of TLS-ALPN-01 (RFC 8737).
const acmeTLS1 = "acme-tls/1"

// setup is how a test sets certmagic up against the CA.
type setup struct {
	challenge   string        // "http-01" or "tls-alpn-01": the only one enabled
	renewCheck  time.Duration // certmagic's maintenance interval; 0 for its default (10 min)
	disableARI  bool          // renew at a third of the lifetime left, not at ARI's random time
	httpPort    int           // where certmagic answers HTTP-01; 0 for the CA's port
	tlsALPNPort int           // where certmagic answers TLS-ALPN-01; 0 for the CA's port
}

// manager is certmagic as a server would set it up: a cache, a config with
// file storage, and an ACME issuer that answers challenges on 127.0.0.1.
type manager struct {
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer
	events chan event
}

// event is a certificate certmagic began to obtain or obtained.
type event struct {
	name     string
	renewal  bool
	obtained bool // false: began
	at       time.Time
}

// newManager sets certmagic up against ca as s says, until the test ends.
func newManager(t *testing.T, ca *acmetest.CA, s setup) *manager {
	t.Helper()
	dir := t.TempDir() // before cache.Stop's cleanup, so it is removed after
	logger := testLogger(t)
	m := &manager{events: make(chan event, 64)}
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: s.renewCheck,
		Logger:             logger,
	})
	t.Cleanup(cache.Stop)
	m.cfg = certmagic.New(cache, certmagic.Config{
		Storage:    &certmagic.FileStorage{Path: dir},
		DisableARI: s.disableARI,
		OnEvent:    m.record,
		Logger:     logger,
	})
	httpPort, tlsALPNPort := ca.HTTPPort, ca.TLSALPNPort
	if s.httpPort != 0 {
		httpPort = s.httpPort
	}
	if s.tlsALPNPort != 0 {
		tlsALPNPort = s.tlsALPNPort
	}
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA:                      ca.Directory,
		TestCA:                  ca.Directory,        // else a failed attempt may retry at Let's Encrypt's staging
		Email:                   "tests@hearth.test", // without one, ManageSync asks for it on standard input
		Agreed:                  true,
		TrustedRoots:            ca.ServerRoots,
		ListenHost:              "127.0.0.1",
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          tlsALPNPort,
		DisableHTTPChallenge:    s.challenge != "http-01",
		DisableTLSALPNChallenge: s.challenge != "tls-alpn-01",
		Logger:                  logger,
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	return m
}

// record keeps certmagic's obtaining and obtained events.
func (m *manager) record(_ context.Context, name string, data map[string]any) error {
	if name != "cert_obtaining" && name != "cert_obtained" {
		return nil
	}
	id, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	select {
	case m.events <- event{name: id, renewal: renewal, obtained: name == "cert_obtained", at: time.Now()}:
	default:
	}
	return nil
}

// manage obtains a certificate for name and puts it in certmagic's cache,
// as a server does at start, and says how long that took.
func (m *manager) manage(t *testing.T, name string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.cfg.ManageSync(ctx, []string{name}); err != nil {
		t.Fatalf("manage %s: %v", name, err)
	}
	return time.Since(start)
}

// testLogger is certmagic's logger: silent unless HEARTH_TEST_LOG is set.
func testLogger(t *testing.T) *zap.Logger {
	if os.Getenv("HEARTH_TEST_LOG") == "" {
		return zap.NewNop()
	}
	logger, err := zap.NewDevelopment()
	if err != nil {
		t.Fatal(err)
	}
	return logger
}

// tlsServer stands for a server's own direct-TLS listener: certificates
// come from certmagic's GetCertificate, it offers xmpp-client and
// acme-tls/1, and it closes each connection after the handshake.
type tlsServer struct {
	addr string
	// acme counts the handshakes that negotiated acme-tls/1.
	acme atomic.Int32
}

// serveTLS runs a tlsServer on addr until the test ends.
func serveTLS(t *testing.T, addr string, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String()}
	conf := &tls.Config{GetCertificate: getCert, NextProtos: []string{"xmpp-client", acmeTLS1}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.handshake(tls.Server(conn, conf)) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return s
}

// handshake completes one handshake and closes the connection: after an
// acme-tls/1 handshake nothing more is said (RFC 8737 3).
func (s *tlsServer) handshake(conn *tls.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if conn.Handshake() != nil {
		return
	}
	if conn.ConnectionState().NegotiatedProtocol == acmeTLS1 {
		s.acme.Add(1)
	}
}

// leaf connects to addr as a client that trusts roots and asks for name,
// and returns the certificate served: the handshake checks its chain and
// name.
func leaf(t *testing.T, addr, name string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("TLS to %s for %s: %v", addr, name, err)
	}
	defer conn.Close()
	cert := conn.ConnectionState().PeerCertificates[0]
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != name {
		t.Fatalf("certificate for %v, want %s", cert.DNSNames, name)
	}
	return cert
}

// TestObtain gets a certificate with each challenge, answered by
// certmagic's own challenge listeners, and checks that it chains to the
// CA's root and names what was asked.
func TestObtain(t *testing.T) {
	start := time.Now()
	ca := acmetest.Start(t)
	t.Logf("CA started in %v", time.Since(start).Round(time.Millisecond))
	for _, tc := range []struct{ challenge, name string }{
		{"http-01", "hearth.test"},
		{"tls-alpn-01", "other.test"},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			m := newManager(t, ca, setup{challenge: tc.challenge})
			took := m.manage(t, tc.name)
			t.Logf("%s by %s in %v (with a new ACME account)", tc.name, tc.challenge, took.Round(time.Millisecond))
			srv := serveTLS(t, "127.0.0.1:0", m.cfg.GetCertificate)
			cert := leaf(t, srv.addr, tc.name, ca.IssuerRoots())
			if life := cert.NotAfter.Sub(cert.NotBefore) + time.Second; life != acmetest.DefaultValidFor {
				t.Errorf("certificate valid for %v, want %v", life, acmetest.DefaultValidFor)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.ServerRoots}); err == nil {
				t.Errorf("the leaf chains to the ACME server's own root; they must differ")
			}
		})
	}
}

// TestOwnListener answers the challenges on the server's own listeners, on
// the ports the CA validates, where certmagic cannot bind its own: its
// GetCertificate answers acme-tls/1 handshakes, its issuer's
// HTTPChallengeHandler the HTTP-01 requests.
func TestOwnListener(t *testing.T) {
	ca := acmetest.Start(t)
	t.Run("tls-alpn-01", func(t *testing.T) {
		m := newManager(t, ca, setup{challenge: "tls-alpn-01"})
		srv := serveTLS(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(ca.TLSALPNPort)), m.cfg.GetCertificate)
		took := m.manage(t, "tls.own.test")
		t.Logf("tls.own.test in %v", took.Round(time.Millisecond))
		if srv.acme.Load() == 0 {
			t.Errorf("no acme-tls/1 handshake reached the server's listener")
		}
		leaf(t, srv.addr, "tls.own.test", ca.IssuerRoots())
	})
	t.Run("http-01", func(t *testing.T) {
		m := newManager(t, ca, setup{challenge: "http-01"})
		var asked atomic.Int32
		handler := m.issuer.HTTPChallengeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}))
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(ca.HTTPPort)))
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if certmagic.LooksLikeHTTPChallenge(r) {
				asked.Add(1)
			}
			handler.ServeHTTP(w, r)
		})}
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		t.Cleanup(func() {
			hs.Close()
			<-served
		})
		took := m.manage(t, "http.own.test")
		t.Logf("http.own.test in %v", took.Round(time.Millisecond))
		if asked.Load() == 0 {
			t.Errorf("no HTTP-01 request reached the server's handler")
		}
		srv := serveTLS(t, "127.0.0.1:0", m.cfg.GetCertificate)
		leaf(t, srv.addr, "http.own.test", ca.IssuerRoots())
	})
}

// TestUnanswered checks that the CA does validate: with certmagic
// answering on other ports than the CA dials, no certificate is issued.
func TestUnanswered(t *testing.T) {
	refusals := []string{acme.ProblemTypeConnection, acme.ProblemTypeUnauthorized}
	ca := acmetest.Start(t)
	for _, tc := range []struct{ challenge, name string }{
		{"http-01", "nohttp.test"},
		{"tls-alpn-01", "notls.test"},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			m := newManager(t, ca, setup{challenge: tc.challenge,
				httpPort: acmetest.FreePort(t), tlsALPNPort: acmetest.FreePort(t)})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := m.cfg.ManageSync(ctx, []string{tc.name})
			if err == nil {
				t.Fatalf("got a certificate for %s with nothing answering the challenge", tc.name)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("no answer from the CA within 30s: %v", err)
			}
			var problem acme.Problem
			if !errors.As(err, &problem) || !slices.Contains(refusals, problem.Type) {
				t.Errorf("want the CA's refusal (%v), got %v", refusals, err)
			}
			t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// TestRenew watches certmagic renew a short-lived certificate by itself,
// at a third of its lifetime left, and serve the new one.
func TestRenew(t *testing.T) {
	const lifetime = 6 * time.Second
	ca := acmetest.Start(t, acmetest.ValidFor(lifetime))
	if ca.ValidFor != lifetime {
		t.Fatalf("CA issues for %v, want %v", ca.ValidFor, lifetime)
	}
	m := newManager(t, ca, setup{challenge: "http-01", renewCheck: 250 * time.Millisecond, disableARI: true})
	m.manage(t, "renew.test")
	srv := serveTLS(t, "127.0.0.1:0", m.cfg.GetCertificate)
	first := leaf(t, srv.addr, "renew.test", ca.IssuerRoots())
	if life := first.NotAfter.Sub(first.NotBefore) + time.Second; life != lifetime {
		t.Fatalf("certificate valid for %v, want %v", life, lifetime)
	}

	var issued, began, obtained time.Time
	deadline := time.After(time.Until(first.NotAfter))
	for obtained.IsZero() {
		select {
		case ev := <-m.events:
			switch {
			case !ev.renewal && ev.obtained:
				issued = ev.at
			case !ev.renewal:
			case !ev.obtained:
				began = ev.at
			default:
				obtained = ev.at
			}
		case <-deadline:
			t.Fatalf("no renewal before the certificate expired at %v", first.NotAfter)
		}
	}
	var second *x509.Certificate
	for wait := time.Now().Add(2 * time.Second); ; {
		second = leaf(t, srv.addr, "renew.test", ca.IssuerRoots())
		if second.SerialNumber.Cmp(first.SerialNumber) != 0 {
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("still serving the old certificate 2s after the renewal")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("lifetime %v: renewal began %v after the first was obtained, took %v; new certificate served %v after",
		lifetime, began.Sub(issued).Round(10*time.Millisecond), obtained.Sub(began).Round(time.Millisecond),
		time.Since(issued).Round(10*time.Millisecond))
	if second.NotBefore.Before(first.NotBefore) {
		t.Errorf("the new certificate is valid from %v, before the first (%v)", second.NotBefore, first.NotBefore)
	}
}
