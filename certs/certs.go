// Package certs is the one place that gives Hearth's listeners their
// certificates, on certmagic:
//
//   - acme: certificates from an ACME CA (Let's Encrypt by default) for a
//     public domain, by HTTP-01, TLS-ALPN-01 or DNS-01 (DuckDNS,
//     Cloudflare), renewed by certmagic;
//   - local: the home CA (homeca.go), kept in the data directory, issues
//     short-lived certificates for the domain and its service subdomains,
//     which certmagic renews the same way; family devices trust the CA
//     once, from the CA page (page.go);
//   - files: the administrator's own PEM files, read again when they
//     change.
//
// Every connection looks its certificate up at the handshake, so a renewed
// or replaced certificate is served to new connections at once and
// connected clients are never dropped. An ACME failure never stops the
// server: it serves with the last good certificate or the home CA's,
// reports why (Status) and certmagic tries again with backoff.
package certs

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"
	"golang.org/x/net/publicsuffix"
)

// Modes, the values of the setting tls.mode.
const (
	ModeAuto  = "auto"
	ModeACME  = "acme"
	ModeLocal = "local"
	ModeFiles = "files"
)

// Subdomains are the service hosts every local certificate covers besides
// the domain (XEP-0045 rooms, XEP-0363 uploads, XEP-0060 pubsub).
var Subdomains = []string{"conference", "upload", "pubsub"}

// ModeFor is the mode auto chooses: acme for a name under a public suffix
// (example.org, x.duckdns.org), local for IP addresses, names reserved for
// private use (.local, .home.arpa, .internal, .test, ...), home routers'
// names (fritz.box) and names without a public suffix (box.lan,
// nas.intranet, hearth).
func ModeFor(domain string) string {
	if _, err := netip.ParseAddr(domain); err == nil {
		return ModeLocal
	}
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	if !strings.Contains(d, ".") {
		return ModeLocal
	}
	for _, s := range []string{".local", ".home.arpa", ".internal", ".localhost", ".test", ".example", ".invalid", ".fritz.box", ".localdomain"} {
		if strings.HasSuffix(d, s) {
			return ModeLocal
		}
	}
	// A suffix not in the public list is a one-label guess: no public
	// CA issues under it.
	if suffix, icann := publicsuffix.PublicSuffix(d); !icann && !strings.Contains(suffix, ".") {
		return ModeLocal
	}
	return ModeACME
}

// Config says where the certificates come from.
type Config struct {
	DataDir string // certificates live in DataDir/tls
	Domain  string
	// Mode is acme, local, files, or auto ("" too): ModeFor(Domain).
	Mode string
	// ACME configures acme mode.
	ACME ACME
	// CertFile and KeyFile are files mode's PEM files.
	CertFile, KeyFile string
	Log               *slog.Logger
}

// ACME configures acme mode.
type ACME struct {
	// CA is the directory URL (default Let's Encrypt's); Roots are
	// trusted for its own HTTPS besides the system's (a private ACME
	// server, tests).
	CA    string
	Roots []*x509.Certificate
	Email string
	// HTTPAddr and TLSALPNAddr are where Hearth answers the HTTP-01 and
	// TLS-ALPN-01 challenges (a router forwards 80 and 443 to them);
	// "off" turns a challenge off. Empty: port 80, and port 443 (or the
	// direct-TLS listener when it is there).
	HTTPAddr, TLSALPNAddr string
	// DNSProvider (duckdns or cloudflare) and DNSToken answer DNS-01,
	// for those who cannot open port 80 or 443.
	DNSProvider, DNSToken string
	// DNS answers DNS-01 through a provider given as it is rather than
	// by name (a program that embeds Hearth, tests); DNSResolvers are the
	// DNS servers asked for the zone and whether the record shows
	// (default: the system's, and the zone's own servers).
	DNS          certmagic.DNSProvider
	DNSResolvers []string
	// RenewCheck is how often expiries are looked at (0: certmagic's
	// default, 10 minutes). Tests with certificates that last seconds
	// shorten it; it also stops asking the CA when to renew (ARI),
	// whose windows are counted in hours, and renews at a third of the
	// lifetime left.
	RenewCheck time.Duration
}

// Manager gives listeners their certificates.
type Manager struct {
	cfg    Config
	dir    string
	mode   string
	log    *slog.Logger
	zap    *zap.Logger // certmagic's log, into log at debug level
	acmeCA string      // the ACME CA's directory URL, in acme mode
	ca     *homeCA

	local *certmagic.Config // the home CA's certificates: local mode, and everyone's fallback
	acme  *certmagic.Config // acme mode
	files *files            // files mode

	names []string        // what the mode manages
	known map[string]bool // every name a certificate is kept for
	hot   sync.Map        // name -> hotCert: what was picked a moment ago

	mu     sync.Mutex
	status map[string]*NameStatus // by name

	stop      context.CancelFunc
	wg        sync.WaitGroup
	caches    []*certmagic.Cache // stopped by Close
	closeOnce sync.Once
	conf      *tls.Config
}

// NameStatus is how one name's certificate stands.
type NameStatus struct {
	Name        string
	Issuer      string // who issued what is served
	NotAfter    time.Time
	SHA256      string // of what is served, hex pairs with colons
	SHA1        string
	LastAttempt time.Time // when the mode last tried to obtain or renew it
	LastError   string    // why that failed, or ""
}

// Status is how the certificates stand.
type Status struct {
	Mode  string // acme, local or files
	Names []NameStatus
	CA    CertInfo // the home CA
}

// CertInfo describes a certificate for people comparing fingerprints.
type CertInfo struct {
	Subject  string
	NotAfter time.Time
	SHA256   string // hex pairs with colons
	SHA1     string
}

// Start loads or makes the home CA and the certificates of the mode, and
// keeps them renewed until ctx ends or Close. Only what makes serving
// impossible is an error (a damaged home CA, unreadable files in files
// mode); ACME trouble is reported in Status and retried.
func Start(ctx context.Context, c Config) (*Manager, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: c, dir: filepath.Join(c.DataDir, "tls"), log: c.Log, zap: zapLogger(c.Log), status: make(map[string]*NameStatus)}
	m.mode = c.Mode
	if m.mode == "" || m.mode == ModeAuto {
		m.mode = ModeFor(c.Domain)
	}
	switch m.mode {
	case ModeACME, ModeLocal, ModeFiles:
	default:
		return nil, fmt.Errorf("certificates: unknown mode %q: want acme, local, files or auto", m.mode)
	}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	var err error
	if m.ca, err = loadHomeCA(m.dir, c.Domain); err != nil {
		return nil, err
	}
	ctx, m.stop = context.WithCancel(ctx)
	m.local = m.newConfig(filepath.Join(m.dir, "local"), issuer{m.ca}, ModeLocal)
	localNames := m.localNames()
	if m.mode == ModeLocal {
		m.names = localNames
	}
	// The home CA's certificates are there in every mode: they are what
	// is served until ACME or the files deliver, and when they fail.
	if err := m.local.ManageSync(ctx, localNames); err != nil {
		m.Close()
		return nil, fmt.Errorf("certificates from the home CA: %w", err)
	}
	switch m.mode {
	case ModeACME:
		m.names = []string{c.Domain}
		if err := m.startACME(ctx); err != nil {
			m.Close()
			return nil, err
		}
	case ModeFiles:
		m.files = loadFiles(c.CertFile, c.KeyFile, c.Domain)
		if _, err := m.files.state(); err != "" {
			m.log.Warn("the certificate files cannot be used: "+err, "cert", c.CertFile, "key", c.KeyFile)
		}
		m.names = []string{c.Domain}
		m.wg.Go(func() { m.watchFiles(ctx) })
	}
	m.known = make(map[string]bool)
	for _, n := range append(localNames, m.names...) {
		m.known[strings.ToLower(n)] = true
	}
	m.conf = m.newTLSConfig("xmpp-client")
	return m, nil
}

// localNames are the names the home CA's certificates cover: the domain
// and its service subdomains (an IP address has none).
func (m *Manager) localNames() []string {
	d := m.cfg.Domain
	if _, err := netip.ParseAddr(d); err == nil {
		return []string{d}
	}
	names := []string{d}
	for _, s := range Subdomains {
		names = append(names, s+"."+d)
	}
	return names
}

// newConfig makes a certmagic configuration for one issuer, with a cache
// and storage of its own, so that a lookup never mixes the issuers.
func (m *Manager) newConfig(storage string, iss certmagic.Issuer, mode string) *certmagic.Config {
	var cfg *certmagic.Config
	opts := certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           m.zap,
	}
	if mode == ModeACME {
		opts.RenewCheckInterval = m.cfg.ACME.RenewCheck
	}
	cache := certmagic.NewCache(opts)
	m.caches = append(m.caches, cache)
	cfg = certmagic.New(cache, certmagic.Config{
		DisableARI:        mode == ModeACME && m.cfg.ACME.RenewCheck > 0,
		Storage:           &certmagic.FileStorage{Path: storage},
		DefaultServerName: m.cfg.Domain,
		Logger:            m.zap,
		OnEvent: func(_ context.Context, event string, data map[string]any) error {
			m.event(mode, event, data)
			return nil
		},
	})
	if iss != nil {
		cfg.Issuers = []certmagic.Issuer{iss}
	}
	return cfg
}

// event records what certmagic did for a name and logs it.
func (m *Manager) event(mode, event string, data map[string]any) {
	name, _ := data["identifier"].(string)
	if name == "" {
		return
	}
	if mode != m.mode {
		// The home CA's certificates behind another mode: only a
		// failure is worth a word.
		if event == "cert_failed" {
			m.log.Warn("the home CA's fallback certificate was not made", "name", name, "err", data["error"])
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.status[name]
	if st == nil {
		st = &NameStatus{Name: name}
		m.status[name] = st
	}
	renewal, _ := data["renewal"].(bool)
	what := "obtain"
	if renewal {
		what = "renew"
	}
	switch event {
	case "cert_obtaining":
		st.LastAttempt = time.Now()
	case "cert_obtained":
		st.LastError = ""
		m.log.Info("certificate "+what+"ed", "name", name, "mode", mode, "from", m.source(mode))
	case "cert_failed":
		err, _ := data["error"].(error)
		st.LastError = plainACMEError(err, m.acmeCA, m.dnsName())
		m.log.Warn("certificate not "+what+"ed; serving the last good one or the home CA's, and trying again later",
			"name", name, "mode", mode, "err", err)
	}
}

// plainACMEError says why obtaining failed in words a person can act on,
// with certmagic's own words after them; ca is the CA's directory URL,
// dns the DNS-01 provider or "".
func plainACMEError(err error, ca, dns string) string {
	if err == nil {
		return "failed"
	}
	s := err.Error()
	if i := strings.Index(s, "Obtain: "); i >= 0 {
		s = s[i+len("Obtain: "):]
	}
	const useDNS = "or answer through DNS instead (hearth config set acme.dns_provider duckdns, or cloudflare, and acme.dns_token TOKEN)"
	var problem acme.Problem
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.As(err, &problem) && dns != "" && (problem.Type == acme.ProblemTypeUnauthorized || problem.Type == acme.ProblemTypeDNS):
		return "the CA did not find the DNS record Hearth set through " + dns + ": check acme.dns_token and that " + dns +
			" serves this domain. The CA said: " + problem.Detail
	case errors.As(err, &problem) && (problem.Type == acme.ProblemTypeConnection || problem.Type == acme.ProblemTypeUnauthorized ||
		problem.Type == acme.ProblemTypeDNS || problem.Type == acme.ProblemTypeTLS):
		return "the CA could not check that this server answers for the name: port 80 (HTTP-01) or 443 (TLS-ALPN-01) " +
			"must reach Hearth from the internet (forward them on the router, to --acme-http and --acme-tls-alpn), " +
			useDNS + ". The CA said: " + problem.Detail
	case errors.As(err, &problem):
		return "the CA refused: " + problem.Detail
	case errors.As(err, &opErr) && opErr.Op == "listen":
		return "could not open the port to answer the CA's challenge (" + opErr.Err.Error() + "): run Hearth with the right " +
			"to open it, or forward the port on the router to --acme-http or --acme-tls-alpn, " + useDNS + ". " + s
	case errors.As(err, &netErr) || errors.As(err, &opErr):
		return "cannot reach the CA at " + ca + ": check this machine's internet connection and the CA's address " +
			"(--acme-ca, setting acme.ca). " + s
	}
	return s
}

// TLSConfig returns the configuration of the client listeners (ALPN
// xmpp-client for direct TLS, XEP-0368, and acme-tls/1 so that a direct
// TLS listener on port 443 answers TLS-ALPN-01). It is shared: callers
// must not change it.
func (m *Manager) TLSConfig() *tls.Config { return m.conf }

// TLSConfigFor returns a configuration offering the given ALPN protocols
// (xmpp-server for federation, h2 and http/1.1 for HTTPS) with the same
// certificates.
func (m *Manager) TLSConfigFor(protos ...string) *tls.Config { return m.newTLSConfig(protos...) }

func (m *Manager) newTLSConfig(protos ...string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     append(slices.Clone(protos), "acme-tls/1"),
		GetCertificate: m.getCertificate,
	}
}

// getCertificate picks the certificate for a handshake: an ACME challenge
// is ACME's to answer; otherwise the mode's certificate, or the home CA's
// while the mode has none.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == "acme-tls/1" {
		if m.acme == nil {
			return nil, errors.New("no ACME challenge is under way here")
		}
		return m.acme.GetCertificate(hello)
	}
	name := strings.ToLower(hello.ServerName)
	if !m.known[name] {
		// No SNI (an IP-address domain, some clients) or a name not
		// ours: the domain's certificate. Asked for by its name,
		// certmagic finds it at once, without falling back to a
		// default, which waits on the other configuration's lookup.
		name = m.cfg.Domain
		h := *hello
		h.ServerName = name
		hello = &h
	}
	// The certificate picked for a name is kept for a moment: a burst
	// of logins asks certmagic once (its lookup costs a handshake about
	// 4 % of the server's time), and a renewed or replaced certificate
	// still reaches new connections within hotFor.
	now := time.Now()
	if h, ok := m.hot.Load(name); ok && now.Before(h.(hotCert).until) {
		return h.(hotCert).cert, nil
	}
	c, err := m.pick(hello)
	if err == nil && c != nil && len(c.Certificate) > 0 {
		m.hot.Store(name, hotCert{cert: c, until: now.Add(hotFor)})
	}
	return c, err
}

// hotFor is how long a picked certificate is served without asking
// certmagic again.
const hotFor = time.Second

// hotCert is a certificate picked for a name, until when it is kept.
type hotCert struct {
	cert  *tls.Certificate
	until time.Time
}

// pick asks the mode's source for the certificate of hello's name, and
// the home CA's while the mode has none.
func (m *Manager) pick(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	switch m.mode {
	case ModeACME:
		// An expired certificate is no better than the home CA's, which
		// devices that trust it accept.
		if c, err := m.acme.GetCertificate(hello); err == nil && c != nil && len(c.Certificate) > 0 && !expired(c) {
			return c, nil
		}
	case ModeFiles:
		if c := m.files.get(); c != nil {
			return c, nil
		}
	}
	return m.local.GetCertificate(hello)
}

// expired says whether a certificate's time is over.
func expired(c *tls.Certificate) bool {
	leaf := c.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return true
		}
	}
	return time.Now().After(leaf.NotAfter)
}

// served returns the certificate a client asking for name gets.
func (m *Manager) served(name string) (*x509.Certificate, error) {
	c, err := m.getCertificate(&tls.ClientHelloInfo{ServerName: name, Conn: lookupConn{}})
	if err != nil {
		return nil, err
	}
	if c == nil || len(c.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// lookupConn stands for the connection of a handshake that is only a
// lookup: certmagic logs the addresses of a hello's connection.
type lookupConn struct{ net.Conn }

func (lookupConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (lookupConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// Status reports every name of the mode and the home CA.
func (m *Manager) Status() Status {
	st := Status{Mode: m.mode, CA: info(m.ca.cert)}
	for _, name := range m.names {
		ns := NameStatus{Name: name}
		m.mu.Lock()
		if s := m.status[name]; s != nil {
			ns.LastAttempt, ns.LastError = s.LastAttempt, s.LastError
		}
		m.mu.Unlock()
		if m.mode == ModeFiles {
			ns.LastAttempt, ns.LastError = m.files.state()
		}
		if leaf, err := m.served(name); err == nil {
			i := info(leaf)
			ns.NotAfter, ns.SHA256, ns.SHA1 = i.NotAfter, i.SHA256, i.SHA1
			ns.Issuer = issuerName(leaf.Issuer)
		}
		st.Names = append(st.Names, ns)
	}
	return st
}

// source names where a mode's certificates come from, for the log.
func (m *Manager) source(mode string) string {
	if mode == ModeACME {
		return m.acmeCA
	}
	return "the home CA"
}

// dnsName names the DNS-01 provider in use, or "".
func (m *Manager) dnsName() string {
	switch {
	case m.cfg.ACME.DNSProvider != "":
		return m.cfg.ACME.DNSProvider
	case m.cfg.ACME.DNS != nil:
		return "the DNS provider"
	}
	return ""
}

// issuerName names an issuer for people: "Let's Encrypt (E7)", "Hearth
// home CA for family.local".
func issuerName(n pkix.Name) string {
	cn, org := n.CommonName, ""
	if len(n.Organization) > 0 {
		org = n.Organization[0]
	}
	switch {
	case org == "" || strings.Contains(cn, org):
		return cn
	case cn == "":
		return org
	}
	return org + " (" + cn + ")"
}

// Mode returns the mode in use (auto resolved).
func (m *Manager) Mode() string { return m.mode }

// CA returns the home CA's certificate.
func (m *Manager) CA() *x509.Certificate { return m.ca.cert }

// CAPEM returns the home CA's certificate as PEM.
func (m *Manager) CAPEM() []byte { return slices.Clone(m.ca.certPEM) }

// CAFile is the home CA's certificate file, for clients told to trust it.
func (m *Manager) CAFile() string { return filepath.Join(m.dir, caCertFile) }

// Fingerprint is the SHA-256 of the certificate served for the domain.
func (m *Manager) Fingerprint() string {
	leaf, err := m.served(m.cfg.Domain)
	if err != nil {
		return ""
	}
	return info(leaf).SHA256
}

// Close stops renewing and watching. It may be called more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.stop()
		m.wg.Wait()
		for _, c := range m.caches {
			c.Stop()
		}
	})
}

// info describes a certificate.
func info(c *x509.Certificate) CertInfo {
	s256 := sha256.Sum256(c.Raw)
	s1 := sha1.Sum(c.Raw)
	return CertInfo{Subject: c.Subject.CommonName, NotAfter: c.NotAfter, SHA256: hexPairs(s256[:]), SHA1: hexPairs(s1[:])}
}

// hexPairs writes b as AB:CD:...
func hexPairs(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// hostPort splits an address for certmagic's alternate ports.
func hostPort(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("%q has no port", addr)
	}
	return h, n, nil
}
