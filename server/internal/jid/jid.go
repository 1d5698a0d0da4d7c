// Package jid implements XMPP addresses (RFC 7622) as a small comparable value.
//
// Parsing and PRECIS normalisation are done by mellium.im/xmpp/jid; this type
// keeps the three parts as strings so that a JID can be compared with == and
// used as a map key on the router's hot path.
package jid

import (
	"errors"
	"strings"

	mjid "mellium.im/xmpp/jid"
)

// JID is an XMPP address. The zero value is the empty address.
type JID struct {
	Local, Domain, Resource string
}

// ErrMalformed is returned for addresses that RFC 7622 rejects.
var ErrMalformed = errors.New("jid: malformed address")

// Parse parses and normalises an address.
func Parse(s string) (JID, error) {
	if s == "" {
		return JID{}, ErrMalformed
	}
	if j, ok := fastParse(s); ok {
		return j, nil
	}
	m, err := mjid.Parse(s)
	if err != nil {
		return JID{}, ErrMalformed
	}
	return checked(m)
}

// checked rejects what mellium lets through but RFC 7622 3.2 forbids: empty
// DNS labels in the domainpart.
func checked(m mjid.JID) (JID, error) {
	d := m.Domainpart()
	if d == "" || strings.Contains(d, "..") || d[0] == '.' || d[len(d)-1] == '.' {
		return JID{}, ErrMalformed
	}
	return JID{m.Localpart(), d, m.Resourcepart()}, nil
}

// New builds an address from parts, normalising each of them.
func New(local, domain, resource string) (JID, error) {
	if j, ok := fastParts(local, domain, resource); ok {
		return j, nil
	}
	m, err := mjid.New(local, domain, resource)
	if err != nil {
		return JID{}, ErrMalformed
	}
	return checked(m)
}

// MustParse is Parse for constants in tests; it panics on error.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// Bare returns the address without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// IsZero reports whether j is the empty address.
func (j JID) IsZero() bool { return j.Domain == "" }

// IsBare reports whether j has no resource.
func (j JID) IsBare() bool { return j.Resource == "" }

// IsDomain reports whether j is a bare domain.
func (j JID) IsDomain() bool { return j.Local == "" && j.Resource == "" }

// WithResource returns j with its resource replaced (the resource must be valid).
func (j JID) WithResource(r string) JID { j.Resource = r; return j }

// String formats the address.
func (j JID) String() string {
	if j.Local == "" && j.Resource == "" {
		return j.Domain
	}
	n := len(j.Local) + len(j.Domain) + len(j.Resource) + 2
	var b strings.Builder
	b.Grow(n)
	if j.Local != "" {
		b.WriteString(j.Local)
		b.WriteByte('@')
	}
	b.WriteString(j.Domain)
	if j.Resource != "" {
		b.WriteByte('/')
		b.WriteString(j.Resource)
	}
	return b.String()
}

// fastParse handles the common case of a plain ASCII address that PRECIS
// would leave unchanged, without the cost of the full profile.
func fastParse(s string) (JID, bool) {
	var local, domain, res string
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		res = rest[i+1:]
		rest = rest[:i]
		if res == "" {
			return JID{}, false
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		local = rest[:i]
		domain = rest[i+1:]
		if local == "" {
			return JID{}, false
		}
	} else {
		domain = rest
	}
	return fastParts(local, domain, res)
}

func fastParts(local, domain, res string) (JID, bool) {
	if len(local) > 1023 || len(domain) == 0 || len(domain) > 1023 || len(res) > 1023 {
		return JID{}, false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '+') {
			return JID{}, false
		}
	}
	if domain[0] == '.' || domain[len(domain)-1] == '.' || domain[0] == '-' {
		return JID{}, false
	}
	prev := byte(0)
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return JID{}, false
		}
		if c == '.' && prev == '.' {
			return JID{}, false
		}
		prev = c
	}
	for i := 0; i < len(res); i++ {
		c := res[i]
		if c <= ' ' || c >= 0x7f {
			return JID{}, false
		}
	}
	return JID{local, domain, res}, true
}
