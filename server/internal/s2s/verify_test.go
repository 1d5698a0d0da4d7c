package s2s

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// certNow is inside the validity period of every test certificate unless
// a test says otherwise.
var certNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testCA is a certificate with its key, so that it can sign others.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// leafSpec says what a test leaf certificate holds.
type leafSpec struct {
	cn       string
	dns      []string
	srv      []string // SRV-ID values, e.g. "_xmpp-server.example.org"
	xmpp     []string // XmppAddr values
	eku      []x509.ExtKeyUsage
	notAfter time.Time // zero: 2026-11-30
	critical bool      // mark subjectAltName critical, with an empty subject
}

func newCertKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var certSerial int64

func signCert(t testing.TB, tmpl *x509.Certificate, parent *testCA, key *ecdsa.PrivateKey) *testCA {
	t.Helper()
	certSerial++
	tmpl.SerialNumber = big.NewInt(certSerial)
	p, pkey := tmpl, key
	if parent != nil {
		p, pkey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p, &key.PublicKey, pkey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

// newTestCA makes a root (parent nil) or an intermediate certificate authority.
func newTestCA(t testing.TB, name string, parent *testCA, eku ...x509.ExtKeyUsage) *testCA {
	t.Helper()
	return signCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		ExtKeyUsage:           eku,
	}, parent, newCertKey(t))
}

func newTestLeaf(t testing.TB, issuer *testCA, s leafSpec) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: s.cn},
		NotBefore:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:    s.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: s.eku,
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	}
	if s.critical {
		tmpl.Subject = pkix.Name{}
	}
	if len(s.dns)+len(s.srv)+len(s.xmpp) > 0 {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, sanExtension(t, s.dns, s.srv, s.xmpp, s.critical))
	}
	return signCert(t, tmpl, issuer, newCertKey(t)).cert
}

// sanExtension builds a subjectAltName extension by hand, since
// crypto/x509 cannot write otherName entries. dNSName entries go in the
// same extension, as a certificate has only one.
func sanExtension(t testing.TB, dns, srv, xmpp []string, critical bool) pkix.Extension {
	t.Helper()
	var names []asn1.RawValue
	for _, d := range dns {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, s := range srv {
		names = append(names, otherNameDER(t, oidDNSSRV, mustDER(t, s, "ia5")))
	}
	for _, x := range xmpp {
		names = append(names, otherNameDER(t, oidXmppAddr, mustDER(t, x, "utf8")))
	}
	return pkix.Extension{Id: oidSubjectAltName, Critical: critical, Value: mustDER(t, names, "")}
}

func otherNameDER(t testing.TB, oid asn1.ObjectIdentifier, valueDER []byte) asn1.RawValue {
	t.Helper()
	body := mustDER(t, oid, "")
	body = append(body, mustDER(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: valueDER}, "")...)
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: body}
}

func mustDER(t testing.TB, v any, params string) []byte {
	t.Helper()
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func certPool(certs ...*testCA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.cert)
	}
	return p
}

// TestVerifyPeerNames checks which identifiers name which domain (RFC
// 6120 13.7.1.2, RFC 6125 6.4).
func TestVerifyPeerNames(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	tests := []struct {
		name   string
		spec   leafSpec
		domain string
		want   error
	}{
		{"DNS-ID", leafSpec{dns: []string{"example.org"}}, "example.org", nil},
		{"DNS-ID among others", leafSpec{dns: []string{"a.example.net", "example.org"}}, "example.org", nil},
		{"DNS-ID case-insensitive", leafSpec{dns: []string{"Example.ORG"}}, "example.org", nil},
		{"DNS-ID domain with capitals", leafSpec{dns: []string{"example.org"}}, "EXAMPLE.org", nil},
		{"DNS-ID other domain", leafSpec{dns: []string{"example.net"}}, "example.org", ErrNotForDomain},
		{"DNS-ID not a suffix match", leafSpec{dns: []string{"example.org"}}, "chat.example.org", ErrNotForDomain},
		{"wildcard one label", leafSpec{dns: []string{"*.example.org"}}, "chat.example.org", nil},
		{"wildcard not the bare domain", leafSpec{dns: []string{"*.example.org"}}, "example.org", ErrNotForDomain},
		{"wildcard not two labels", leafSpec{dns: []string{"*.example.org"}}, "a.b.example.org", ErrNotForDomain},
		{"wildcard only as a whole label", leafSpec{dns: []string{"c*.example.org"}}, "chat.example.org", ErrNotForDomain},
		{"wildcard only left-most", leafSpec{dns: []string{"chat.*.org"}}, "chat.example.org", ErrNotForDomain},
		{"wildcard over a top-level domain", leafSpec{dns: []string{"*.org"}}, "example.org", ErrNotForDomain},
		{"SRV-ID", leafSpec{srv: []string{"_xmpp-server.example.org"}}, "example.org", nil},
		{"SRV-ID case-insensitive", leafSpec{srv: []string{"_XMPP-Server.Example.org"}}, "example.org", nil},
		{"SRV-ID for clients", leafSpec{srv: []string{"_xmpp-client.example.org"}}, "example.org", ErrNotForDomain},
		{"SRV-ID other domain", leafSpec{srv: []string{"_xmpp-server.example.net"}}, "example.org", ErrNotForDomain},
		{"XmppAddr", leafSpec{xmpp: []string{"example.org"}}, "example.org", nil},
		{"XmppAddr with localpart", leafSpec{xmpp: []string{"admin@example.org"}}, "example.org", ErrNotForDomain},
		{"XmppAddr with resource", leafSpec{xmpp: []string{"example.org/server"}}, "example.org", ErrNotForDomain},
		{"IDN domain, A-label DNS-ID", leafSpec{dns: []string{"xn--mnchen-3ya.example"}}, "münchen.example", nil},
		{"IDN domain, A-label SRV-ID", leafSpec{srv: []string{"_xmpp-server.xn--mnchen-3ya.example"}}, "münchen.example", nil},
		{"A-label domain, U-label XmppAddr", leafSpec{xmpp: []string{"münchen.example"}}, "xn--mnchen-3ya.example", nil},
		{"IDN wildcard", leafSpec{dns: []string{"*.xn--mnchen-3ya.example"}}, "chat.münchen.example", nil},
		// RFC 6125 6.4.4 allows the common name only without other
		// identifiers; we never use it (see VerifyPeer).
		{"common name ignored without SAN", leafSpec{cn: "example.org"}, "example.org", ErrNotForDomain},
		{"common name ignored with SAN", leafSpec{cn: "example.org", dns: []string{"example.net"}}, "example.org", ErrNotForDomain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := newTestLeaf(t, root, tt.spec)
			err := VerifyPeer([]*x509.Certificate{leaf}, tt.domain, certPool(root), certNow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyPeer(%q) = %v, want %v", tt.domain, err, tt.want)
			}
		})
	}
}

// TestVerifyPeerNotForDomainMessage: the error lists what the certificate
// names, so an admin can see the mistake.
func TestVerifyPeerNotForDomainMessage(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	tests := []struct {
		spec leafSpec
		want string
	}{
		{leafSpec{dns: []string{"chat.example.net", "*.example.com"}},
			"the certificate of example.org is not for example.org: it names chat.example.net, *.example.com"},
		{leafSpec{dns: []string{"a.example.net"}, srv: []string{"_xmpp-server.b.example.net"}, xmpp: []string{"c.example.net"}},
			"the certificate of example.org is not for example.org: it names a.example.net, _xmpp-server.b.example.net, c.example.net"},
		{leafSpec{cn: "example.org"},
			"the certificate of example.org is not for example.org: it names no domain (its subject common name is not used)"},
	}
	for _, tt := range tests {
		leaf := newTestLeaf(t, root, tt.spec)
		err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), certNow)
		if !errors.Is(err, ErrNotForDomain) || err.Error() != tt.want {
			t.Errorf("VerifyPeer = %v\nwant %s", err, tt.want)
		}
	}
}

// TestVerifyPeerCertPurpose: a peer's certificate must allow serverAuth or
// say nothing about purpose; clientAuth is never required, because an
// inbound peer presents its server certificate (Let's Encrypt's carry
// only serverAuth since 2026). We chose to reject a certificate whose
// extended key usage lists neither serverAuth nor anyExtendedKeyUsage
// (a clientAuth-only certificate is not a server's), and so does
// crypto/x509 for an intermediate that restricts its leaves that way.
func TestVerifyPeerCertPurpose(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	names := []string{"example.org"}
	tests := []struct {
		name   string
		issuer *testCA
		eku    []x509.ExtKeyUsage
		want   error
	}{
		{"serverAuth only", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil},
		{"serverAuth and clientAuth", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, nil},
		{"no extended key usage", nil, nil, nil},
		{"any extended key usage", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, nil},
		{"clientAuth only", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ErrWrongPurpose},
		{"email protection only", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, ErrWrongPurpose},
		{"serverAuth-only intermediate", newTestCA(t, "Server CA", root, x509.ExtKeyUsageServerAuth), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil},
		{"clientAuth-only intermediate", newTestCA(t, "Client CA", root, x509.ExtKeyUsageClientAuth), []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ErrWrongPurpose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := []*x509.Certificate{nil}
			issuer := root
			if tt.issuer != nil {
				issuer = tt.issuer
				chain = append(chain, tt.issuer.cert)
			}
			chain[0] = newTestLeaf(t, issuer, leafSpec{dns: names, eku: tt.eku})
			err := VerifyPeer(chain, "example.org", certPool(root), certNow)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("VerifyPeer = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestVerifyPeerIntermediate: the certificates after the leaf are used to
// build the chain to the root, and without them it does not lead there.
func TestVerifyPeerIntermediate(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	mid := newTestCA(t, "Test Intermediate", root)
	leaf := newTestLeaf(t, mid, leafSpec{dns: []string{"example.org"}})
	if err := VerifyPeer([]*x509.Certificate{leaf, mid.cert}, "example.org", certPool(root), certNow); err != nil {
		t.Errorf("with the intermediate: %v", err)
	}
	if err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), certNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("without the intermediate: %v, want ErrUntrusted", err)
	}
}

// TestVerifyPeerUntrusted: a chain to a root this server does not trust.
func TestVerifyPeerUntrusted(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	other := newTestCA(t, "Other Root", nil)
	leaf := newTestLeaf(t, other, leafSpec{dns: []string{"example.org"}})
	err := VerifyPeer([]*x509.Certificate{leaf, other.cert}, "example.org", certPool(root), certNow)
	want := "the certificate of example.org was not issued by a certificate authority this server trusts"
	if !errors.Is(err, ErrUntrusted) || err.Error() != want {
		t.Errorf("VerifyPeer = %v, want %s", err, want)
	}
	// The system roots do not hold the test root either.
	if err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", nil, certNow); !errors.Is(err, ErrUntrusted) {
		t.Errorf("with system roots: %v, want ErrUntrusted", err)
	}
}

// TestVerifyPeerExpired: the error says when the certificate expired, and
// a certificate used before its time fails the same way.
func TestVerifyPeerExpired(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	leaf := newTestLeaf(t, root, leafSpec{dns: []string{"example.org"}})
	err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	want := "the certificate of example.org has expired (on 2026-11-30)"
	if !errors.Is(err, ErrExpired) || err.Error() != want {
		t.Errorf("after NotAfter: %v, want %s", err, want)
	}
	// No time given: now, which is past its end.
	if err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), time.Time{}); err == nil || err.Error() != want {
		t.Errorf("now: %v, want %s", err, want)
	}
	err = VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC))
	want = "the certificate of example.org is not valid yet (until 2026-01-01)"
	if !errors.Is(err, ErrExpired) || err.Error() != want {
		t.Errorf("before NotBefore: %v, want %s", err, want)
	}
}

// TestVerifyPeerNoCertificate: a peer that sent nothing.
func TestVerifyPeerNoCertificate(t *testing.T) {
	for _, chain := range [][]*x509.Certificate{nil, {}} {
		if err := VerifyPeer(chain, "example.org", nil, certNow); !errors.Is(err, ErrNoCertificate) || err.Error() != "the peer sent no certificate" {
			t.Errorf("VerifyPeer(%v) = %v, want ErrNoCertificate", chain, err)
		}
	}
}

// TestVerifyPeerCriticalSAN: a certificate with an empty subject must
// mark its subjectAltName critical (RFC 5280 4.2.1.6); with only SRV-ID
// and XmppAddr in it, crypto/x509 finds nothing it knows there, and it
// must still verify since we read the extension ourselves.
func TestVerifyPeerCriticalSAN(t *testing.T) {
	root := newTestCA(t, "Test Root", nil)
	leaf := newTestLeaf(t, root, leafSpec{srv: []string{"_xmpp-server.example.org"}, xmpp: []string{"example.org"}, critical: true})
	if len(leaf.UnhandledCriticalExtensions) == 0 {
		t.Fatal("test certificate: crypto/x509 handled the otherName-only SAN; this test no longer tests anything")
	}
	if err := VerifyPeer([]*x509.Certificate{leaf}, "example.org", certPool(root), certNow); err != nil {
		t.Errorf("VerifyPeer = %v", err)
	}
	if err := VerifyPeer([]*x509.Certificate{leaf}, "example.net", certPool(root), certNow); !errors.Is(err, ErrNotForDomain) {
		t.Errorf("other domain: %v, want ErrNotForDomain", err)
	}
}

// TestVerifyOtherNames checks the otherName parser on hand-made input.
func TestVerifyOtherNames(t *testing.T) {
	ext := sanExtension(t, []string{"example.org"}, []string{"_xmpp-server.example.org"}, []string{"example.org", "münchen.example"}, false)
	srv, xmpp, err := parseOtherNames(ext.Value)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(srv, ",") != "_xmpp-server.example.org" || strings.Join(xmpp, ",") != "example.org,münchen.example" {
		t.Errorf("got SRV-IDs %q, XmppAddrs %q", srv, xmpp)
	}

	bad := map[string][]byte{
		"empty":          nil,
		"not a sequence": mustDER(t, "example.org", "utf8"),
		"trailing data":  append(ext.Value[:len(ext.Value):len(ext.Value)], 0),
		"SRV-ID as UTF8String": mustDER(t, []asn1.RawValue{
			otherNameDER(t, oidDNSSRV, mustDER(t, "_xmpp-server.example.org", "utf8")),
		}, ""),
		"XmppAddr as IA5String": mustDER(t, []asn1.RawValue{
			otherNameDER(t, oidXmppAddr, mustDER(t, "example.org", "ia5")),
		}, ""),
		"XmppAddr not UTF-8": mustDER(t, []asn1.RawValue{
			otherNameDER(t, oidXmppAddr, mustDER(t, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte{0xff}}, "")),
		}, ""),
	}
	for name, der := range bad {
		if _, _, err := parseOtherNames(der); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzSANs: the otherName parser reads what a peer sends and must never
// panic; what it returns is well-formed text.
func FuzzSANs(f *testing.F) {
	f.Add(sanExtension(f, []string{"example.org"}, []string{"_xmpp-server.example.org"}, []string{"example.org"}, false).Value)
	f.Add(sanExtension(f, nil, nil, []string{"münchen.example"}, false).Value)
	f.Add(mustDER(f, []asn1.RawValue{otherNameDER(f, asn1.ObjectIdentifier{1, 2, 3}, mustDER(f, 42, ""))}, ""))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x06})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		srv, xmpp, err := parseOtherNames(der)
		if err != nil {
			return
		}
		for _, s := range srv {
			if !isASCII([]byte(s)) {
				t.Errorf("SRV-ID %q is not ASCII", s)
			}
		}
		for _, x := range xmpp {
			if !utf8.ValidString(x) {
				t.Errorf("XmppAddr %q is not UTF-8", x)
			}
		}
	})
}
