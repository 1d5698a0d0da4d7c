package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func start(t *testing.T, c Config) *Manager {
	t.Helper()
	m, err := Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// trusts returns a pool with the home CA as a device that fetched it from
// the CA page has it.
func trusts(t *testing.T, pemBytes []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the PEM")
	}
	return p
}

// verify makes a TLS handshake as a client that trusts roots and asks for
// name, against m's configuration, and returns the leaf.
func verify(t *testing.T, m *Manager, roots *x509.CertPool, name string) *x509.Certificate {
	t.Helper()
	c, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: name, Conn: lookupConn{}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, _ := x509.ParseCertificate(der)
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("%s does not verify: %v", name, err)
	}
	return leaf
}

func TestModeFor(t *testing.T) {
	for d, want := range map[string]string{
		"example.org": ModeACME, "chat.example.co.uk": ModeACME, "xn--mnchen-3ya.de": ModeACME,
		"home.local": ModeLocal, "pc.home.arpa": ModeLocal, "box.lan": ModeLocal, "hearth": ModeLocal,
		"192.168.1.20": ModeLocal, "fd00::1": ModeLocal, "hearth.test": ModeLocal, "Kitchen.LOCAL.": ModeLocal,
		"nas.intranet": ModeLocal, "host.localdomain": ModeLocal, "router.gateway": ModeLocal, "pi.fritz.box": ModeLocal,
		"family.duckdns.org": ModeACME, "chat.example.box": ModeACME, "x.home": ModeLocal, "y.corp": ModeLocal,
	} {
		if got := ModeFor(d); got != want {
			t.Errorf("ModeFor(%q) = %s, want %s", d, got, want)
		}
	}
}

// TestHomeCA: a fresh data directory gets a home CA and certificates for
// the domain and its service subdomains; a restart keeps both; a device
// that trusts only the CA verifies every name; the CA vouches for nothing
// else.
func TestHomeCA(t *testing.T) {
	dir := t.TempDir()
	m := start(t, Config{DataDir: dir, Domain: "kitchen.local"})
	if m.Mode() != ModeLocal {
		t.Fatalf("mode %s for a .local domain", m.Mode())
	}
	roots := trusts(t, m.CAPEM())
	names := []string{"kitchen.local", "conference.kitchen.local", "upload.kitchen.local", "pubsub.kitchen.local"}
	leaves := map[string]string{}
	for _, n := range names {
		leaf := verify(t, m, roots, n)
		if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 31*24*time.Hour {
			t.Errorf("%s lives %s: the home CA's certificates are short-lived", n, life)
		}
		leaves[n] = info(leaf).SHA256
	}
	st := m.Status()
	if st.CA.SHA256 == "" || st.CA.SHA1 == "" || len(st.Names) != 4 || st.Names[0].SHA256 != leaves["kitchen.local"] || st.Names[0].SHA1 == "" {
		t.Errorf("status %+v", st)
	}
	ca := m.CA()
	if fi, err := os.Stat(filepath.Join(dir, "tls", caKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key file: %v %v", fi, err)
	}
	m.Close()

	m2 := start(t, Config{DataDir: dir, Domain: "kitchen.local"})
	if !m2.CA().Equal(ca) {
		t.Fatal("a restart made a new CA: every device would have to trust it again")
	}
	for _, n := range names {
		if got := info(verify(t, m2, roots, n)).SHA256; got != leaves[n] {
			t.Errorf("%s: a restart made a new certificate", n)
		}
	}

	// The CA cannot vouch for other names, even if asked.
	iss := issuer{m2.ca}
	for _, other := range []string{"bank.example", "kitchen.local.evil.example"} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: other}, DNSNames: []string{other}}, key)
		csr, _ := x509.ParseCertificateRequest(der)
		ic, err := iss.Issue(context.Background(), csr)
		if err != nil {
			continue // refusing is fine too
		}
		b, _ := pem.Decode(ic.Certificate)
		leaf, _ := x509.ParseCertificate(b.Bytes)
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: other, Roots: roots}); err == nil {
			t.Errorf("the home CA vouches for %s", other)
		}
	}

	// Nor for mail, code or any address, even in a certificate signed
	// with its key by hand.
	for _, tc := range []struct {
		what string
		tmpl *x509.Certificate
		eku  x509.ExtKeyUsage
	}{
		{"a mail address", &x509.Certificate{EmailAddresses: []string{"ceo@bank.example"}}, x509.ExtKeyUsageEmailProtection},
		{"code", &x509.Certificate{DNSNames: []string{"kitchen.local"}}, x509.ExtKeyUsageCodeSigning},
		{"an address", &x509.Certificate{IPAddresses: []net.IP{net.IPv4(192, 168, 1, 2)}}, x509.ExtKeyUsageServerAuth},
	} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tc.tmpl.SerialNumber, tc.tmpl.NotBefore, tc.tmpl.NotAfter = serial(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		tc.tmpl.ExtKeyUsage = []x509.ExtKeyUsage{tc.eku}
		der, err := x509.CreateCertificate(rand.Reader, tc.tmpl, m2.ca.cert, &key.PublicKey, m2.ca.key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tc.eku}}); err == nil {
			t.Errorf("a certificate for %s made with the home CA's key verifies", tc.what)
		}
	}

	// Another domain: a CA of its own (the old one is set aside).
	m2.Close()
	m3 := start(t, Config{DataDir: dir, Domain: "hall.local"})
	if m3.CA().Equal(ca) {
		t.Error("the CA of kitchen.local was kept for hall.local")
	}
	verify(t, m3, trusts(t, m3.CAPEM()), "hall.local")
	m3.Close()

	// Back to the first domain, and a CA made anew for the same name
	// (its files moved away): the certificates of the CA before are
	// never served again.
	for _, step := range []string{"back to kitchen.local", "CA moved away"} {
		if step == "CA moved away" {
			for _, f := range []string{caCertFile, caKeyFile} {
				if err := os.Rename(filepath.Join(dir, "tls", f), filepath.Join(dir, "tls", "moved-"+f)); err != nil {
					t.Fatal(err)
				}
			}
		}
		m := start(t, Config{DataDir: dir, Domain: "kitchen.local"})
		for _, n := range names {
			verify(t, m, trusts(t, m.CAPEM()), n)
		}
		m.Close()
	}

	// Every key certmagic keeps is for this user only.
	filepath.WalkDir(filepath.Join(dir, "tls"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".key") {
			if fi, err := d.Info(); err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: mode %v", path, fi.Mode())
			}
		}
		return nil
	})
}

// TestHomeCACrash: a crash while the CA was made leaves its key without
// the certificate; the next start makes a CA rather than refusing. A
// certificate without its key is refused with what to do.
func TestHomeCACrash(t *testing.T) {
	dir := t.TempDir()
	tls := filepath.Join(dir, "tls")
	os.MkdirAll(tls, 0o700)
	os.WriteFile(filepath.Join(tls, caKeyFile), []byte("half a key"), 0o600)
	m := start(t, Config{DataDir: dir, Domain: "kitchen.local"})
	verify(t, m, trusts(t, m.CAPEM()), "kitchen.local")
	m.Close()

	os.Remove(filepath.Join(tls, caKeyFile))
	_, err := Start(t.Context(), Config{DataDir: dir, Domain: "kitchen.local"})
	if err == nil || !strings.Contains(err.Error(), "ca-key.pem is missing; restore it from a backup, or move "+filepath.Join(tls, caCertFile)+" away") {
		t.Errorf("certificate without key: %v", err)
	}
}

// TestHandshakes: clients that send no SNI get the domain's certificate,
// many at once and also while ACME has none (the home CA's stands in);
// an unknown name gets the domain's too; an IP-address domain works
// without SNI; federation's configuration offers xmpp-server.
func TestHandshakes(t *testing.T) {
	m := start(t, Config{DataDir: t.TempDir(), Domain: "public.example.org", Mode: ModeACME,
		ACME: ACME{CA: "https://127.0.0.1:1/dir", HTTPAddr: "off", TLSALPNAddr: "off"}})
	roots := trusts(t, m.CAPEM())
	addr := serveTLS(t, m.TLSConfig())
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "", InsecureSkipVerify: true,
				VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
					leaf, err := x509.ParseCertificate(raw[0])
					if err != nil {
						return err
					}
					_, err = leaf.Verify(x509.VerifyOptions{DNSName: "public.example.org", Roots: roots})
					return err
				}})
			if err != nil {
				errs <- err
				return
			}
			conn.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a handshake without SNI: %v", err)
		break
	}
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "other.example", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "public.example.org" {
		t.Errorf("unknown name served %v", got)
	}
	conn.Close()

	s2s := m.TLSConfigFor("xmpp-server")
	if !slices.Equal(s2s.NextProtos, []string{"xmpp-server", "acme-tls/1"}) || s2s.GetCertificate == nil {
		t.Errorf("federation's configuration: %v", s2s.NextProtos)
	}

	ipm := start(t, Config{DataDir: t.TempDir(), Domain: "192.168.1.20"})
	iproots := trusts(t, ipm.CAPEM())
	conn, err = tls.Dial("tcp", serveTLS(t, ipm.TLSConfig()), &tls.Config{ServerName: "192.168.1.20", RootCAs: iproots})
	if err != nil {
		t.Fatalf("an IP-address domain: %v", err)
	}
	conn.Close()
	if n := ipm.Status().Names; len(n) != 1 || n[0].Name != "192.168.1.20" {
		t.Errorf("an IP-address domain has names %+v", n)
	}
}

// serveTLS accepts TLS connections with conf until the test ends and
// completes each handshake.
func serveTLS(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCAPage: the page serves the CA as PEM and DER, a well-formed iOS
// profile carrying it, the fingerprints, and nothing else.
func TestCAPage(t *testing.T) {
	m := start(t, Config{DataDir: t.TempDir(), Domain: "kitchen.local"})
	srv := httptest.NewServer(m.Page())
	defer srv.Close()
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	st := m.Status()
	res, page := get("/")
	if res.StatusCode != 200 || !strings.Contains(string(page), st.CA.SHA256) || !strings.Contains(string(page), st.CA.SHA1) ||
		!strings.Contains(string(page), PageMobileConfig) {
		t.Errorf("page: %d %s", res.StatusCode, page)
	}
	if _, b := get(PagePEM); !trusts(t, b).Equal(trusts(t, m.CAPEM())) {
		t.Error("the PEM is not the CA")
	}
	res, der := get(PageDER)
	if c, err := x509.ParseCertificate(der); err != nil || !c.Equal(m.CA()) || res.Header.Get("Content-Type") != "application/x-x509-ca-cert" {
		t.Errorf("DER: %v %s", err, res.Header.Get("Content-Type"))
	}
	res, profile := get(PageMobileConfig)
	if res.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
		t.Errorf("profile served as %s", res.Header.Get("Content-Type"))
	}
	var plist struct {
		Dict struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(profile, &plist); err != nil {
		t.Fatalf("the profile is not well-formed XML: %v", err)
	}
	var data []string
	dec := xml.NewDecoder(strings.NewReader(string(profile)))
	dec.Strict = true
	inData := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			inData = tk.Name.Local == "data"
		case xml.CharData:
			if inData {
				data = append(data, string(tk))
			}
		case xml.EndElement:
			inData = false
		}
	}
	if len(data) != 1 {
		t.Fatalf("profile has %d data elements", len(data))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data[0]))
	if err != nil || !strings.Contains(string(profile), "com.apple.security.root") {
		t.Fatalf("profile payload: %v", err)
	}
	if c, err := x509.ParseCertificate(raw); err != nil || !c.Equal(m.CA()) {
		t.Errorf("the profile does not carry the CA: %v", err)
	}
	for _, p := range []string{"/tls/ca-key.pem", "/ca-key.pem", "/../ca-key.pem", "/favicon.ico"} {
		if res, _ := get(p); res.StatusCode != 404 {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/", PagePEM, PageDER, PageMobileConfig} {
		if res, err := http.Post(srv.URL+p, "text/plain", nil); err != nil || res.StatusCode != 405 {
			t.Errorf("POST %s: %v %v", p, res.StatusCode, err)
		}
		if res, err := http.Head(srv.URL + p); err != nil || res.StatusCode != 200 {
			t.Errorf("HEAD %s: %v %v", p, res.StatusCode, err)
		}
	}
}

// TestFilesMode: the administrator's files are served, and replacing them
// switches the certificate without a restart; a broken replacement keeps
// the old one and says why.
func TestFilesMode(t *testing.T) {
	// Put back after the managers' watchers have stopped (cleanups run
	// last first).
	t.Cleanup(func(d time.Duration) func() { return func() { filesPoll = d } }(filesPoll))
	filesPoll = 20 * time.Millisecond
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	write := func() *x509.Certificate {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: "example.org"}, DNSNames: []string{"example.org"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		kb, _ := x509.MarshalECPrivateKey(k)
		os.WriteFile(key+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
		os.WriteFile(cert+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		os.Rename(key+".tmp", key)
		os.Rename(cert+".tmp", cert)
		c, _ := x509.ParseCertificate(der)
		return c
	}
	first := write()
	m := start(t, Config{DataDir: t.TempDir(), Domain: "example.org", Mode: ModeFiles, CertFile: cert, KeyFile: key})
	served := func() string { return m.Status().Names[0].SHA256 }
	if served() != info(first).SHA256 {
		t.Fatal("not serving the file's certificate")
	}
	time.Sleep(30 * time.Millisecond) // a new modification time
	second := write()
	deadline := time.Now().Add(5 * time.Second)
	for served() != info(second).SHA256 {
		if time.Now().After(deadline) {
			t.Fatal("the replaced files were not served")
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.WriteFile(cert, []byte("garbage"), 0o644)
	time.Sleep(200 * time.Millisecond)
	if served() != info(second).SHA256 {
		t.Error("a broken file replaced the certificate")
	}
	if e := m.Status().Names[0].LastError; !strings.Contains(e, "still serving") {
		t.Errorf("status error %q", e)
	}
	// Without files, or with files that cannot be used, the server
	// starts on the home CA's certificate and says why.
	for _, c := range []struct{ cert, key, want string }{
		{"", "", "files mode needs both files: hearth config set tls.cert_file"},
		{filepath.Join(dir, "none.pem"), key, "none.pem: no such file or directory; serving the home CA's certificate until the files are fixed"},
	} {
		m := start(t, Config{DataDir: t.TempDir(), Domain: "example.org", Mode: ModeFiles, CertFile: c.cert, KeyFile: c.key})
		n := m.Status().Names[0]
		if !strings.Contains(n.LastError, c.want) || !strings.HasPrefix(n.Issuer, "Hearth home CA") {
			t.Errorf("files %q %q: serving from %q, error %q; want the home CA's and %q", c.cert, c.key, n.Issuer, n.LastError, c.want)
		}
	}
}
