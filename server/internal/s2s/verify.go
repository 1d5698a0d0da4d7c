package s2s

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// The ways a peer's certificate can fail. Callers tell them apart with
// errors.Is: a certificate that does not verify is not the end of a link,
// since dialback (XEP-0220) can still prove the peer's domain. The errors
// VerifyPeer returns carry the details in their text and wrap one of these.
var (
	ErrNoCertificate = errors.New("the peer sent no certificate")
	ErrUntrusted     = errors.New("the certificate was not issued by a certificate authority this server trusts")
	// ErrExpired also covers a certificate that is not valid yet: both
	// mean the time now is outside the certificate's validity period.
	ErrExpired      = errors.New("the certificate has expired")
	ErrWrongPurpose = errors.New("the certificate is not for use by a server")
	ErrNotForDomain = errors.New("the certificate is not for the domain")
)

// certError is an error whose text names the peer and the problem, and
// which still matches one of the sentinels above with errors.Is.
type certError struct {
	msg  string
	kind error
}

func (e *certError) Error() string { return e.msg }
func (e *certError) Unwrap() error { return e.kind }

func failf(kind error, format string, args ...any) error {
	return &certError{msg: fmt.Sprintf(format, args...), kind: kind}
}

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidDNSSRV         = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 7} // id-on-dnsSRV, RFC 4985
	oidXmppAddr       = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5} // id-on-xmppAddr, RFC 6120 13.7.1.4
)

// srvPrefix is the service label of an SRV-ID for server-to-server links
// (RFC 6120 13.7.1.2.1). SRV-IDs for other services do not name a peer.
const srvPrefix = "_xmpp-server."

// VerifyPeer checks the certificate chain a peer server presented
// (state.PeerCertificates from tls.ConnectionState) for domain: the chain
// must lead to a root in roots (nil: the system's, which on Unix honours
// SSL_CERT_FILE and SSL_CERT_DIR) at time now (zero: the current time),
// with the serverAuth purpose or none, and the leaf must name the domain.
//
// We verify ourselves instead of letting crypto/tls do it because
// crypto/tls requires the clientAuth purpose of a client certificate, and
// an inbound peer presents its server certificate as one: Let's Encrypt
// certificates issued since 2026 carry only serverAuth.
//
// The leaf names the domain by one of the identifiers of RFC 6120
// 13.7.1.2 and RFC 6125: an SRV-ID (_xmpp-server.domain), an XmppAddr
// holding the bare domain, or a DNS-ID (with a wildcard only as the whole
// left-most label, matching one label). The subject common name is never
// used: RFC 6125 6.4.4 allows it only when no other identifier is
// present, and a certificate that relies on it today is a certificate no
// other XMPP server accepts either.
func VerifyPeer(chain []*x509.Certificate, domain string, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 || chain[0] == nil {
		return ErrNoCertificate
	}
	if now.IsZero() {
		now = time.Now() // also what tells "expired" from "not yet valid"
	}
	want, err := toASCII(domain)
	if err != nil {
		return fmt.Errorf("check the certificate of %s: %q is not a domain name: %w", domain, domain, err)
	}
	leaf := chain[0]
	ids, err := parseSANs(leaf)
	if err != nil {
		return failf(ErrNotForDomain, "the certificate of %s is not for %s: its subject alternative names cannot be read: %v", domain, domain, err)
	}
	chains, err := verifyChain(leaf, chain[1:], domain, roots, now)
	if err != nil {
		return err
	}
	if !ids.match(want) {
		return failf(ErrNotForDomain, "the certificate of %s is not for %s: %s", domain, domain, ids.describe())
	}
	// crypto/x509 applies name constraints to DNS names only: a domain
	// named by SRV-ID or XmppAddr alone must also be within the DNS
	// constraints of every CA above the leaf, on some chain.
	if !(identities{dns: ids.dns}).match(want) && !slices.ContainsFunc(chains, func(c []*x509.Certificate) bool { return constraintsPermit(c[1:], want) }) {
		return failf(ErrNotForDomain, "the certificate of %s names %s, but a certificate authority in its chain may not vouch for that name", domain, domain)
	}
	return nil
}

// verifyChain builds a chain from leaf through intermediates to roots and
// turns crypto/x509's errors into ours.
func verifyChain(leaf *x509.Certificate, intermediates []*x509.Certificate, domain string, roots *x509.CertPool, now time.Time) ([][]*x509.Certificate, error) {
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		// crypto/x509 accepts a certificate without extended key usage, or
		// with anyExtendedKeyUsage, for any purpose: so a chain passes when
		// every certificate in it allows serverAuth, and clientAuth is never
		// asked for.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range intermediates {
		if c != nil {
			opts.Intermediates.AddCert(c)
		}
	}
	// An XMPP certificate with an empty subject and only SRV-ID or
	// XmppAddr names has a critical subjectAltName that crypto/x509 finds
	// nothing in and so calls unhandled (RFC 5280 4.2.1.6). We read it
	// ourselves, so we tell Verify it is handled, on a copy.
	if i := slices.IndexFunc(leaf.UnhandledCriticalExtensions, oidSubjectAltName.Equal); i >= 0 {
		c := *leaf
		c.UnhandledCriticalExtensions = slices.Delete(slices.Clone(leaf.UnhandledCriticalExtensions), i, i+1)
		leaf = &c
	}
	chains, err := leaf.Verify(opts)
	if err == nil {
		return chains, nil
	}
	whose := "the certificate of " + domain
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) {
		if invalid.Cert != nil && invalid.Cert != leaf {
			whose = "a certificate in the chain of " + domain
		}
		switch invalid.Reason {
		case x509.Expired:
			if invalid.Cert != nil && now.Before(invalid.Cert.NotBefore) {
				return nil, failf(ErrExpired, "%s is not valid yet (until %s)", whose, day(invalid.Cert.NotBefore))
			}
			if invalid.Cert != nil {
				return nil, failf(ErrExpired, "%s has expired (on %s)", whose, day(invalid.Cert.NotAfter))
			}
			return nil, failf(ErrExpired, "%s has expired", whose)
		case x509.IncompatibleUsage:
			return nil, failf(ErrWrongPurpose, "the certificate of %s is not for use by a server: its extended key usage does not include serverAuth", domain)
		}
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return nil, failf(ErrUntrusted, "the certificate of %s was not issued by a certificate authority this server trusts", domain)
	}
	return nil, failf(ErrUntrusted, "the certificate of %s was not accepted: %v", domain, err)
}

// constraintsPermit says whether every CA in cas allows domain (lowercase
// A-labels) under its DNS name constraints (RFC 5280 4.2.1.10, as
// crypto/x509 reads them: "example.org" covers it and its subdomains,
// ".example.org" its subdomains only).
func constraintsPermit(cas []*x509.Certificate, domain string) bool {
	within := func(c string) bool {
		c = strings.ToLower(c)
		if strings.HasPrefix(c, ".") {
			return strings.HasSuffix(domain, c)
		}
		return domain == c || strings.HasSuffix(domain, "."+c)
	}
	for _, ca := range cas {
		if len(ca.PermittedDNSDomains) > 0 && !slices.ContainsFunc(ca.PermittedDNSDomains, within) {
			return false
		}
		if slices.ContainsFunc(ca.ExcludedDNSDomains, within) {
			return false
		}
	}
	return true
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// identities are the names a leaf certificate gives for its subject.
type identities struct {
	dns  []string // dNSName entries, as written
	srv  []string // id-on-dnsSRV entries, as written
	xmpp []string // id-on-xmppAddr entries, as written
}

// parseSANs collects the leaf's identifiers. crypto/x509 parses dNSName
// but drops otherName entries, so SRV-ID and XmppAddr are read from the
// raw extension.
func parseSANs(leaf *x509.Certificate) (identities, error) {
	ids := identities{dns: leaf.DNSNames}
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		srv, xmpp, err := parseOtherNames(ext.Value)
		if err != nil {
			return ids, err
		}
		ids.srv = append(ids.srv, srv...)
		ids.xmpp = append(ids.xmpp, xmpp...)
	}
	return ids, nil
}

// parseOtherNames reads the SRV-ID and XmppAddr values from a DER
// subjectAltName extension value (RFC 5280 4.2.1.6):
//
//	GeneralNames ::= SEQUENCE OF GeneralName
//	GeneralName  ::= CHOICE { otherName [0] IMPLICIT OtherName, ... }
//	OtherName    ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
//
// SRV-ID values are IA5String (RFC 4985) and XmppAddr values UTF8String
// (RFC 6120 13.7.1.4); other names and other otherName types are skipped.
// It reads untrusted input, so it returns an error and never panics.
func parseOtherNames(der []byte) (srv, xmpp []string, err error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, nil, err
	}
	if len(rest) > 0 {
		return nil, nil, errors.New("trailing data after subjectAltName")
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, nil, errors.New("subjectAltName is not a sequence")
	}
	for names := seq.Bytes; len(names) > 0; {
		var gn asn1.RawValue
		if names, err = asn1.Unmarshal(names, &gn); err != nil {
			return nil, nil, err
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue
		}
		if !gn.IsCompound {
			return nil, nil, errors.New("otherName is not constructed")
		}
		var typeID asn1.ObjectIdentifier
		body, err := asn1.Unmarshal(gn.Bytes, &typeID)
		if err != nil {
			return nil, nil, err
		}
		var explicit asn1.RawValue
		if body, err = asn1.Unmarshal(body, &explicit); err != nil {
			return nil, nil, err
		}
		if len(body) > 0 || explicit.Class != asn1.ClassContextSpecific || explicit.Tag != 0 || !explicit.IsCompound {
			return nil, nil, errors.New("malformed otherName value")
		}
		var value asn1.RawValue
		if body, err = asn1.Unmarshal(explicit.Bytes, &value); err != nil {
			return nil, nil, err
		}
		if len(body) > 0 {
			return nil, nil, errors.New("trailing data in otherName value")
		}
		switch {
		case typeID.Equal(oidDNSSRV):
			if value.Class != asn1.ClassUniversal || value.Tag != asn1.TagIA5String || !isASCII(value.Bytes) {
				return nil, nil, errors.New("SRV-ID is not an IA5String")
			}
			srv = append(srv, string(value.Bytes))
		case typeID.Equal(oidXmppAddr):
			if value.Class != asn1.ClassUniversal || value.Tag != asn1.TagUTF8String || !utf8.Valid(value.Bytes) {
				return nil, nil, errors.New("XmppAddr is not a UTF8String")
			}
			xmpp = append(xmpp, string(value.Bytes))
		}
	}
	return srv, xmpp, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// match reports whether any identifier names domain, which is already in
// lowercase A-label form.
func (ids identities) match(domain string) bool {
	for _, s := range ids.srv {
		// RFC 6125 6.5.1: the service label must be _xmpp-server, the rest
		// is compared as a DNS domain, without wildcards.
		if len(s) > len(srvPrefix) && strings.EqualFold(s[:len(srvPrefix)], srvPrefix) && sameDomain(s[len(srvPrefix):], domain) {
			return true
		}
	}
	for _, s := range ids.xmpp {
		// RFC 6120 13.7.1.4: a server's XmppAddr is its bare domain; an
		// address with a localpart or resource names an account, not a
		// server. The value may hold U-labels, so it goes through IDNA.
		if !strings.ContainsAny(s, "@/") && sameDomain(s, domain) {
			return true
		}
	}
	for _, s := range ids.dns {
		if matchDNS(s, domain) {
			return true
		}
	}
	return false
}

// matchDNS compares a DNS-ID with domain. RFC 6125 6.4.3: a wildcard is
// allowed only as the whole left-most label and stands for exactly one
// label; we also refuse one directly over a single-label suffix
// ("*.org"), which no certificate authority issues.
func matchDNS(pattern, domain string) bool {
	suffix, ok := strings.CutPrefix(pattern, "*.")
	if !ok {
		return sameDomain(pattern, domain)
	}
	if !strings.Contains(suffix, ".") {
		return false
	}
	_, rest, ok := strings.Cut(domain, ".")
	return ok && sameDomain(suffix, rest)
}

// sameDomain compares a name from a certificate with domain (lowercase
// A-labels), case-insensitively after IDNA, so that a U-label domain
// matches its A-label name.
func sameDomain(name, domain string) bool {
	a, err := toASCII(name)
	if err != nil {
		// Not a valid IDNA name (an underscore, say): it can still be
		// compared as it is written.
		a = strings.ToLower(strings.TrimSuffix(name, "."))
	}
	return a != "" && a == domain
}

// toASCII gives the lowercase A-label form of a domain, without a
// trailing dot.
func toASCII(domain string) (string, error) {
	a, err := idna.Lookup.ToASCII(strings.TrimSuffix(domain, "."))
	if err != nil {
		return "", err
	}
	return strings.ToLower(a), nil
}

// describe lists the names of a certificate that names the wrong domain,
// for the error text.
func (ids identities) describe() string {
	names := slices.Concat(ids.dns, ids.srv, ids.xmpp)
	if len(names) == 0 {
		return "it names no domain (its subject common name is not used)"
	}
	return "it names " + strings.Join(names, ", ")
}
