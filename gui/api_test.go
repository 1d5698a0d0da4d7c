package gui

// This file is the GUI tests' only link to a server: a real Hearth server
// on loopback with a temporary database, and a real XMPP client (mellium's,
// independent of Hearth's own code) that signs in as a family device would.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"

	"hearth/certs"
	"hearth/internal/buildinfo"
	"hearth/internal/testdns"
	"hearth/server"
	"hearth/server/admin"
	"hearth/storage"
)

const testDomain = "hearth.test"

// testCAPage is where the test server says devices fetch its home CA; no
// one serves it, the Overview only shows it.
const testCAPage = "http://192.0.2.7:5380/"

type testServer struct {
	addr  string
	roots *x509.CertPool
	srv   *server.Server
	dns   *loopDNS // where it finds other servers

	mu  sync.Mutex
	lan admin.LANStatus // what the server says of the LAN
}

// testLAN is what a test server says of the LAN at first: documentation
// addresses (RFC 5737, RFC 3849), announced.
var testLAN = admin.LANStatus{Addresses: []string{"192.0.2.7", "2001:db8::7"}, Announced: true, Name: "hearth.local"}

// setLAN changes what the server behind api says of the LAN; the window
// sees it at its next Info.
func setLAN(t *testing.T, api admin.API, lan admin.LANStatus) {
	v, ok := servers.Load(api)
	if !ok {
		t.Fatal("setLAN: not a test server")
	}
	ts := v.(*testServer)
	ts.mu.Lock()
	ts.lan = lan
	ts.mu.Unlock()
}

var servers sync.Map // admin.API -> *testServer

// newTestAPI returns the admin API of a fresh, running server for the
// LAN domain of its choice and no accounts; it stops with the test. Its
// federation is off; when it is on, other servers find it, and it finds
// them, through its own loopDNS (addPeer).
func newTestAPI(t *testing.T) admin.API {
	t.Helper()
	return startTestServer(t, testDomain, newLoopDNS())
}

// addPeer starts another server, for domain, that finds the one behind
// api and is found by it through their loopDNS, and returns its API. Its
// federation is off too.
func addPeer(t *testing.T, api admin.API, domain string) admin.API {
	t.Helper()
	v, ok := servers.Load(api)
	if !ok {
		t.Fatal("addPeer: not a test server")
	}
	return startTestServer(t, domain, v.(*testServer).dns)
}

// loopDNS is the test servers' resolver: each test domain's server on
// loopback, at the federation port it has open now (SRV records), and
// fixed addresses for what is no Hearth; other names do not exist.
type loopDNS struct {
	testdns.Seam
	mu      sync.Mutex
	servers map[string]*server.Server
	fixed   map[string]string // domain -> host:port
}

func newLoopDNS() *loopDNS {
	d := &loopDNS{servers: map[string]*server.Server{}, fixed: map[string]string{}}
	d.Seam.Addr = d.addr
	return d
}

// set makes domain's server listen at addr, as DNS says.
func (d *loopDNS) set(domain, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fixed[domain] = addr
}

func (d *loopDNS) addr(name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.fixed[name]; ok {
		return a
	}
	if s := d.servers[name]; s != nil {
		if a := s.S2SAddr(); a != "" {
			return a
		}
		return "127.0.0.1:1" // federation off there: nothing listens
	}
	return ""
}

func startTestServer(t *testing.T, domain string, dns *loopDNS) admin.API {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := certs.Start(ctx, certs.Config{DataDir: dir, Domain: domain, Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	// The log goes to the Log tab only, as serve's does besides stderr.
	ring := admin.NewLogRing(0)
	ts := &testServer{lan: testLAN}
	srv, err := server.New(server.Config{Domain: domain, DataDir: dir, TLS: cm.TLSConfig, Version: buildinfo.Read().String(),
		Certificates: func() admin.Certificates { return admin.CertificatesOf(cm, testCAPage) },
		Log:          slog.New(ring.Handler(slog.LevelInfo)), LogRing: ring,
		LAN: func() admin.LANStatus {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			return ts.lan
		},
		Federation: server.Federation{Resolver: dns, ConnectTimeout: 5 * time.Second}}, db)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	s2s := func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	go func() { done <- srv.Serve(ctx, server.Listeners{C2S: ln, S2S: s2s}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
		db.Close()
		cm.Close()
	})
	pem, err := os.ReadFile(cm.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	api := srv.Admin()
	ts.addr, ts.roots, ts.srv, ts.dns = ln.Addr().String(), roots, srv, dns
	dns.mu.Lock()
	dns.servers[domain] = srv
	dns.mu.Unlock()
	servers.Store(api, ts)
	return api
}

// login signs in to the server behind api as a family device would, with a
// client connection for jid and password, and returns a function that
// signs out. It returns an error if the server refuses the credentials.
// Signing in and out makes the server send session-up and session-down
// events.
func login(t *testing.T, api admin.API, jid, password string) (logout func(), err error) {
	t.Helper()
	v, ok := servers.Load(api)
	if !ok {
		t.Fatal("login: not a test server")
	}
	ts := v.(*testServer)
	origin, err := mjid.Parse(jid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		return nil, err
	}
	sess, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(&tls.Config{ServerName: testDomain, RootCAs: ts.roots}),
		xmpp.SASL("", password, sasl.ScramSha256, sasl.ScramSha1),
		xmpp.BindResource())
	if err != nil {
		conn.Close()
		return nil, err
	}
	// Initial presence, as a device's app sends it (RFC 6121 4.2).
	if err := sess.Encode(ctx, struct {
		XMLName xml.Name `xml:"jabber:client presence"`
	}{}); err != nil {
		conn.Close()
		return nil, err
	}
	var once sync.Once
	logout = func() {
		once.Do(func() {
			sess.Close()
			conn.Close()
		})
	}
	t.Cleanup(logout)
	return logout, nil
}
