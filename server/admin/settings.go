package admin

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hearth/server/internal/jid"
)

// valueKind is the type of a setting's value; SetSetting checks it.
type valueKind int

const (
	kindString   valueKind = iota
	kindBool               // "true" or "false" (also on/off, yes/no, 1/0 when set)
	kindInt                // decimal, at least spec.min
	kindDuration           // time.ParseDuration, above zero
	kindEnum               // one of spec.enum
	kindDomain             // a domain JID (RFC 7622 3.2)
	kindURIs               // space-separated URIs with a scheme (XEP-0157)
)

// spec describes one known setting.
type spec struct {
	key     string
	def     string
	help    string
	restart bool
	kind    valueKind
	enum    []string
	min     int
}

// registry is every setting Hearth knows, in the order `hearth config list`
// shows them. A subsystem that grows a setting adds it here.
var registry = []spec{
	{key: "domain", kind: kindDomain, restart: true,
		help: "the XMPP domain; chosen on first run (<hostname>.local)"},
	// Only what this build can do: acme and files come with the
	// certificates work, federation and registration with theirs.
	{key: "tls.mode", kind: kindEnum, def: "local", enum: []string{"local"}, restart: true,
		help: "where certificates come from: local (made for the domain and kept in the data directory)"},
	{key: "mdns.enabled", kind: kindBool, def: "true",
		help: "advertise the server on the LAN with mDNS / DNS-SD"},
	{key: "limits.stanza_bytes", kind: kindInt, def: "262144", min: 10000, restart: true,
		help: "largest stanza a client may send, in bytes (RFC 6120 13.12: at least 10000)"},
	{key: "limits.offline_messages", kind: kindInt, def: "1000", min: 1, restart: true,
		help: "messages kept for an offline account"},
	{key: "contact.admin", kind: kindURIs,
		help: "admin contact addresses, e.g. mailto:you@example.com xmpp:you@example.com (XEP-0157)"},
	{key: "contact.abuse", kind: kindURIs,
		help: "abuse contact addresses (XEP-0157)"},
	{key: "contact.support", kind: kindURIs,
		help: "support contact addresses (XEP-0157)"},
	{key: "contact.security", kind: kindURIs,
		help: "security contact addresses (XEP-0157)"},
	{key: "contact.feedback", kind: kindURIs,
		help: "feedback contact addresses (XEP-0157)"},
	{key: "contact.sales", kind: kindURIs,
		help: "sales contact addresses (XEP-0157)"},
	{key: "c2s.idle_timeout", kind: kindDuration, def: "5m", restart: true,
		help: "a silent client is pinged after this and disconnected after as long again"},
}

// lookup returns the spec of key.
func lookup(key string) (spec, bool) {
	for _, s := range registry {
		if s.key == key {
			return s, true
		}
	}
	return spec{}, false
}

// SettingDefault returns the default value of a known setting key.
func SettingDefault(key string) (string, bool) {
	s, ok := lookup(key)
	return s.def, ok
}

// CheckSetting returns value as SetSetting would store it. An unknown key
// or a value of the wrong type is ErrInvalid.
func CheckSetting(key, value string) (string, error) {
	s, ok := lookup(key)
	if !ok {
		return "", fmt.Errorf("%s: unknown setting: %w", key, ErrInvalid)
	}
	v, err := s.normalize(value)
	if err != nil {
		return "", fmt.Errorf("%s: %v: %w", key, err, ErrInvalid)
	}
	return v, nil
}

// normalize checks v against the setting's type and returns it in the form
// it is stored in. The error says what is wrong, without wrapping.
func (s spec) normalize(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch s.kind {
	case kindBool:
		b, err := parseBool(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case kindInt:
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a whole number", v)
		}
		if n < s.min {
			return "", fmt.Errorf("%d is below the minimum %d", n, s.min)
		}
		return strconv.Itoa(n), nil
	case kindDuration:
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return "", fmt.Errorf("%q is not a duration above zero (for example 90s, 5m, 1h)", v)
		}
		return v, nil
	case kindEnum:
		for _, e := range s.enum {
			if strings.EqualFold(v, e) {
				return e, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", v, strings.Join(s.enum, ", "))
	case kindDomain:
		j, err := jid.Parse(v)
		if err != nil || !j.IsDomain() {
			return "", fmt.Errorf("%q is not a domain name", v)
		}
		return j.Domain, nil
	case kindURIs:
		fields := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
		for _, f := range fields {
			u, err := url.Parse(f)
			if err != nil || u.Scheme == "" || u.Opaque == "" && u.Host == "" {
				return "", fmt.Errorf("%q is not a URI such as mailto:you@example.com or xmpp:you@example.com", f)
			}
		}
		return strings.Join(fields, " "), nil
	}
	return v, nil
}

// parseBool accepts what strconv.ParseBool does and on/off, yes/no.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}
