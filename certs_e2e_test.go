package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/internal/acmetest"
	"hearth/internal/netns"
)

// TestACMEServe: hearth serve in acme mode obtains its certificate from
// an ACME CA (Pebble, in this process) that really validates the
// challenge, HTTP-01 on its own port or TLS-ALPN-01 answered by the
// direct-TLS client listener itself; clients then verify the chain
// against the CA's root and the domain, over STARTTLS and direct TLS.
func TestACMEServe(t *testing.T) {
	ca := acmetest.Start(t)
	root := filepath.Join(t.TempDir(), "pebble-server.pem")
	if err := os.WriteFile(root, ca.ServerRootPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		challenge string
		flags     []string
	}{
		{"http-01", []string{"--c2s-tls", "127.0.0.1:0",
			"--acme-http", "127.0.0.1:" + strconv.Itoa(ca.HTTPPort), "--acme-tls-alpn", "off"}},
		{"tls-alpn-01", []string{"--c2s-tls", "127.0.0.1:" + strconv.Itoa(ca.TLSALPNPort),
			"--acme-http", "off", "--acme-tls-alpn", "127.0.0.1:" + strconv.Itoa(ca.TLSALPNPort)}},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			domain := tc.challenge + ".acme.test"
			data := t.TempDir()
			e := env(t)
			d := "--data=" + data
			check(t, e, "", 0, "", "config", "set", "tls.mode", "acme", d)
			check(t, e, "", 0, "", "user", "add", "alice@"+domain, "--password", "rabbit-hole-42", d)
			args := append([]string{"--headless", "--no-mdns", d, "--domain", domain, "--c2s", "127.0.0.1:0",
				"--acme-ca", ca.Directory, "--acme-ca-root", root, "--acme-email", "admin@" + domain}, tc.flags...)
			s, _ := start(t, e, args...)
			defer s.stop(t)
			if s.caPage != "off" {
				t.Errorf("CA page %s in acme mode, want off", s.caPage)
			}
			conf := &tls.Config{ServerName: domain, RootCAs: ca.IssuerRoots()}
			began := time.Now()
			leaf := waitLeaf(t, s.c2sTLS, conf, 20*time.Second)
			t.Logf("certificate from Pebble by %s served %v after the server was ready", tc.challenge, time.Since(began).Round(time.Millisecond))
			if got := starttlsLeaf(t, s.c2s, conf); !got.Equal(leaf) {
				t.Errorf("STARTTLS serves %x, direct TLS %x", got.SerialNumber, leaf.SerialNumber)
			}
			loginTLS(t, s.c2sTLS, conf, "alice", "rabbit-hole-42").Close()
			check(t, e, "", 0, `(?s)certificates: +acme .*`+regexp.QuoteMeta(domain)+`\s+issued by Pebble.*SHA-256 `+fingerprint(sha256.New(), leaf.Raw)+
				`.*SHA-1 `+fingerprint(sha1.New(), leaf.Raw)+`.*last attempt [0-9-]+ [0-9:]+ succeeded`, "status", d)
		})
	}
}

// TestACMEUnreachable: with the ACME CA out of reach the server still
// starts and serves the home CA's certificate, and status says why.
func TestACMEUnreachable(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "config", "set", "tls.mode", "acme", d)
	check(t, e, "", 0, "", "user", "add", "alice@public.example.org", "--password", "rabbit-hole-42", d)
	nowhere := "https://127.0.0.1:" + strconv.Itoa(acmetest.FreePort(t)) + "/dir"
	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "public.example.org", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0",
		"--acme-ca", nowhere, "--acme-http", "off", "--acme-tls-alpn", "off")
	defer s.stop(t)
	conf := &tls.Config{ServerName: "public.example.org", RootCAs: poolOf(t, readFile(t, filepath.Join(data, "tls", "ca.pem")))}
	loginTLS(t, s.c2sTLS, conf, "alice", "rabbit-hole-42").Close()
	starttlsLeaf(t, s.c2s, conf)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := hearth(t, e, "", "status", d)
		if regexp.MustCompile(`(?s)public\.example\.org\s+issued by Hearth home CA.*last attempt [0-9-]+ [0-9:]+ failed: cannot reach the CA at https://127.0.0.1:[0-9]+/dir: .*connection refused`).MatchString(r.stdout) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status does not tell why there is no certificate from the CA after 10s:\n%s\n%s", r.stdout, s.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s.log(), "certificate not obtained") {
		t.Errorf("the log does not say the certificate was not obtained:\n%s", s.log())
	}
}

// TestHomeCAPage: in local mode a fresh data directory gets a home CA and
// certificates for the domain and its service hosts; a device that trusts
// only the CA fetched from the CA page verifies them over STARTTLS and
// direct TLS; status shows the CA's fingerprints as the page does; an
// invitation's page is served beside it; a restart keeps the CA and the
// certificates.
func TestHomeCAPage(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@family.home.arpa", "--password", "rabbit-hole-42", d)
	args := []string{"--headless", "--no-mdns", d, "--domain", "family.home.arpa", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0"}
	s, _ := start(t, e, args...)
	if !strings.HasPrefix(s.caPage, "http://127.0.0.1:") {
		t.Fatalf("CA page %q, want one on 127.0.0.1", s.caPage)
	}
	caPEM := get(t, s.caPage+"hearth-ca.pem", "application/x-pem-file")
	block, _ := pem.Decode(caPEM)
	if block == nil {
		t.Fatalf("the page's PEM has no certificate: %q", caPEM)
	}
	if der := get(t, s.caPage+"hearth-ca.crt", "application/x-x509-ca-cert"); string(der) != string(block.Bytes) {
		t.Errorf("the DER download is not the PEM's certificate")
	}
	sha256FP, sha1FP := fingerprint(sha256.New(), block.Bytes), fingerprint(sha1.New(), block.Bytes)
	page := string(get(t, s.caPage, "text/html; charset=utf-8"))
	for _, want := range []string{sha256FP, sha1FP, "hearth-ca.mobileconfig"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page does not show %s", want)
		}
	}
	get(t, s.caPage+"hearth-ca.mobileconfig", "application/x-apple-aspen-config")
	if r, err := http.Get(s.caPage + "hearth.db"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("the page serves another file: %v %v", r, err)
	} else {
		r.Body.Close()
	}

	// Invitations on the LAN: hearth invite create gives the page on the
	// CA page's address too, where it sends the phone to trust the CA
	// first; the CA page tells the invited where to come back.
	inv := check(t, e, "", 0, `(?m)^on the LAN: +http://127\.0\.0\.1:\d+/invite/`, "invite", "create", "--kind", "account", "--no-qr", d)
	lanLink := regexp.MustCompile(`http://127\.0\.0\.1:\d+/invite/[A-Za-z0-9_-]+`).FindString(inv.stdout)
	invPage := string(get(t, lanLink, "text/html; charset=utf-8"))
	for _, want := range []string{`id="qr" src="data:image/png;base64,`, `<a id="ca-page" href="/">`, "xmpp:family.home.arpa?register;preauth="} {
		if !strings.Contains(invPage, want) {
			t.Errorf("the invitation page on the LAN lacks %s:\n%s", want, invPage)
		}
	}
	if !strings.Contains(page, "/invite/") {
		t.Errorf("the CA page does not tell the invited to come back to their invitation")
	}

	pool := poolOf(t, caPEM)
	names := []string{"family.home.arpa", "conference.family.home.arpa", "upload.family.home.arpa", "pubsub.family.home.arpa"}
	serials := map[string]string{}
	for _, name := range names {
		leaf := waitLeaf(t, s.c2sTLS, &tls.Config{ServerName: name, RootCAs: pool}, 5*time.Second)
		serials[name] = leaf.SerialNumber.String()
	}
	conf := &tls.Config{ServerName: "family.home.arpa", RootCAs: pool}
	starttlsLeaf(t, s.c2s, conf)
	loginTLS(t, s.c2sTLS, conf, "alice", "rabbit-hole-42").Close()
	check(t, e, "", 0, `(?s)certificates: +local .*home CA: .*SHA-256 `+sha256FP+`\s+SHA-1 `+sha1FP+`\s+CA page: +`+regexp.QuoteMeta(s.caPage), "status", d)
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit code %d\n%s", code, s.log())
	}

	s, _ = start(t, e, args...)
	defer s.stop(t)
	if again := get(t, s.caPage+"hearth-ca.pem", ""); string(again) != string(caPEM) {
		t.Errorf("a restart made a new home CA")
	}
	for _, name := range names {
		leaf := waitLeaf(t, s.c2sTLS, &tls.Config{ServerName: name, RootCAs: pool}, 5*time.Second)
		if leaf.SerialNumber.String() != serials[name] {
			t.Errorf("%s: a restart made a new certificate", name)
		}
	}
}

// waitLeaf waits up to d for a direct-TLS handshake at addr that conf
// verifies, and returns the server's certificate.
func waitLeaf(t *testing.T, addr string, conf *tls.Config, d time.Duration) *x509.Certificate {
	t.Helper()
	conf = conf.Clone()
	conf.NextProtos = []string{"xmpp-client"}
	deadline := time.Now().Add(d)
	for {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, conf)
		if err == nil {
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s at %s verified within %v: %v", conf.ServerName, addr, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// starttlsLeaf opens a client stream at addr, takes it through STARTTLS
// with conf (which verifies the chain and the name) and returns the
// server's certificate.
func starttlsLeaf(t *testing.T, addr string, conf *tls.Config) *x509.Certificate {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>`, conf.ServerName)
	readUntil(t, conn, "</stream:features>")
	io.WriteString(conn, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	readUntil(t, conn, "<proceed")
	tc := tls.Client(conn, conf)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STARTTLS to %s for %s: %v", addr, conf.ServerName, err)
	}
	return tc.ConnectionState().PeerCertificates[0]
}

// get fetches url and checks its status and content type ("" for any).
func get(t *testing.T, url, ctype string) []byte {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, r.Status, err)
	}
	if ctype != "" && r.Header.Get("Content-Type") != ctype {
		t.Errorf("GET %s: content type %q, want %q", url, r.Header.Get("Content-Type"), ctype)
	}
	return body
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func poolOf(t *testing.T, pemData []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("no certificate in %q", pemData)
	}
	return pool
}

// fingerprint is a certificate's hash as status shows it: AB:CD:...
func fingerprint(h hash.Hash, der []byte) string {
	h.Write(der)
	var parts []string
	for _, b := range h.Sum(nil) {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return strings.Join(parts, ":")
}

// trustFromPage: a device on the LAN (the pair's other namespace) opens
// the CA page at the address the server printed, which must be its LAN
// address, installs the CA from there and then verifies the server's
// certificate over direct TLS with nothing else trusted.
func trustFromPage(t *testing.T, pair *netns.Pair, stderr string) {
	t.Helper()
	var m []string
	for line := range strings.SplitSeq(stderr, "\n") {
		if m = readyLine.FindStringSubmatch(line); m != nil {
			break
		}
	}
	if m == nil {
		t.Fatalf("no ready line in\n%s", stderr)
	}
	page := m[5]
	if want := "http://" + pair.Addr[0] + ":"; !strings.HasPrefix(page, want) {
		t.Fatalf("CA page at %s, want the LAN address %s...", page, want)
	}
	_, port, _ := net.SplitHostPort(m[3])
	device := pair.StartHelper(t, 1, "trust", envTrustPage+"="+page, envTrustTLS+"="+net.JoinHostPort(pair.Addr[0], port))
	ev := device.Next(t, time.Now().Add(10*time.Second))
	if ev.Event != "trusted" {
		t.Fatalf("device: %+v\n%s", ev, device.Stderr())
	}
	t.Logf("a device on the LAN fetched the CA from %s and verified the server's certificate (%s)", page, ev.Host)
	device.Wait(t, 5*time.Second)
}

// The trust role's inputs.
const (
	envTrustPage = "HEARTH_TEST_CA_PAGE"
	envTrustTLS  = "HEARTH_TEST_TLS_ADDR"
)

// trustRole is the device's side of trustFromPage: it prints a "trusted"
// event naming the verified certificate, or fails.
func trustRole(t *testing.T) {
	client := http.Client{Timeout: 5 * time.Second}
	r, err := client.Get(os.Getenv(envTrustPage) + "hearth-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("fetch the CA: %s %v", r.Status, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("no certificate on the page: %q", caPEM)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", os.Getenv(envTrustTLS),
		&tls.Config{ServerName: "family.local", RootCAs: pool, NextProtos: []string{"xmpp-client"}})
	if err != nil {
		t.Fatalf("TLS with the page's CA: %v", err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	json.NewEncoder(os.Stdout).Encode(netns.Event{Event: "trusted", Host: strings.Join(leaf.DNSNames, ",")})
}

// TestFilesServe: in files mode the server serves the administrator's
// own files, and replacing them switches new connections to the new
// certificate without a restart while a signed-in client stays.
func TestFilesServe(t *testing.T) {
	data, files := t.TempDir(), t.TempDir()
	e := env(t)
	d := "--data=" + data
	cert, key := filepath.Join(files, "fullchain.pem"), filepath.Join(files, "privkey.pem")
	first := selfSigned(t, "own.example.org", cert, key)
	check(t, e, "", 0, "", "config", "set", "tls.mode", "files", d)
	check(t, e, "", 0, "", "config", "set", "tls.cert_file", cert, d)
	check(t, e, "", 0, "", "config", "set", "tls.key_file", key, d)
	check(t, e, "", 0, "", "user", "add", "alice@own.example.org", "--password", "rabbit-hole-42", d)
	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "own.example.org", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	defer s.stop(t)
	conf := &tls.Config{ServerName: "own.example.org", RootCAs: poolOf(t, first)}
	alice := loginTLS(t, s.c2sTLS, conf, "alice", "rabbit-hole-42")
	defer alice.Close()

	time.Sleep(10 * time.Millisecond) // a modification time of its own
	second := selfSigned(t, "own.example.org", cert, key)
	replaced := time.Now()
	leaf := waitLeaf(t, s.c2sTLS, &tls.Config{ServerName: "own.example.org", RootCAs: poolOf(t, second)}, 10*time.Second)
	t.Logf("new files served %v after they were written", time.Since(replaced).Round(time.Millisecond))
	starttlsLeaf(t, s.c2s, &tls.Config{ServerName: "own.example.org", RootCAs: poolOf(t, second)})
	io.WriteString(alice, `<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	readUntil(t, alice, `id="p1"`)
	check(t, e, "", 0, `(?s)certificates: +files .*own\.example\.org\s+issued by own\.example\.org.*SHA-256 `+fingerprint(sha256.New(), leaf.Raw), "status", d)
}

// selfSigned writes a new self-signed certificate for name and its key,
// each file replaced at once, and returns the certificate as PEM.
func selfSigned(t *testing.T, name, certFile, keyFile string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []struct {
		path string
		data []byte
	}{{keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})}, {certFile, certPEM}} {
		if err := os.WriteFile(f.path+".new", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".new", f.path); err != nil {
			t.Fatal(err)
		}
	}
	return certPEM
}
