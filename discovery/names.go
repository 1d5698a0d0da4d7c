package discovery

import "strings"

// Domain names travel through github.com/miekg/dns in presentation format
// (RFC 1035 5.1): a dot inside a label is "\.", other bytes may come as
// "\X" or "\DDD". Service instance names are free text (RFC 6763 4.3), so
// every name read from the wire is split and unescaped here before it is
// compared or shown.

// splitName splits a name in presentation format into its labels,
// unescaped. A trailing dot ends the name; empty labels elsewhere are
// kept, so that a malformed name never equals a good one.
func splitName(s string) []string {
	var labels []string
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			labels = append(labels, b.String())
			b.Reset()
		case c != '\\':
			b.WriteByte(c)
		case i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]):
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n > 255 {
				n = 255
			}
			b.WriteByte(byte(n))
			i += 3
		case i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		default: // a dangling backslash is kept as it is
			b.WriteByte(c)
		}
	}
	if b.Len() > 0 {
		labels = append(labels, b.String())
	}
	return labels
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// nameKey is the form in which two names compare: labels unescaped and
// ASCII letters folded (RFC 6762 16: only ASCII is case-insensitive).
func nameKey(s string) string {
	labels := splitName(s)
	for i, l := range labels {
		labels[i] = asciiLower(l)
	}
	return strings.Join(labels, "\x00")
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// instanceName is the full name of an instance of service ("_x._tcp"):
// the instance as one escaped label, then the type and "local.".
func instanceName(instance, service string) string {
	return escapeLabel(instance) + "." + service + ".local."
}

// splitInstance cuts a full instance name read from the wire into the
// instance label, unescaped, and reports whether the rest is service in
// the local domain.
func splitInstance(name, service string) (string, bool) {
	labels := splitName(name)
	want := splitName(service + ".local.")
	if len(labels) != len(want)+1 || labels[0] == "" {
		return "", false
	}
	for i, l := range want {
		if asciiLower(labels[i+1]) != asciiLower(l) {
			return "", false
		}
	}
	return labels[0], true
}

// escapeTXT puts TXT strings into the form github.com/miekg/dns packs
// byte for byte: a backslash doubled.
func escapeTXT(strs []string) []string {
	out := make([]string, len(strs))
	for i, s := range strs {
		out[i] = strings.ReplaceAll(s, `\`, `\\`)
	}
	return out
}

// unescapeTXT turns the TXT strings github.com/miekg/dns unpacked ("\""
// "\\" "\DDD") back into their bytes.
func unescapeTXT(strs []string) []string {
	out := make([]string, len(strs))
	for i, s := range strs {
		out[i] = unescapeBytes(s)
	}
	return out
}

func unescapeBytes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c != '\\':
			b.WriteByte(c)
		case i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]):
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			b.WriteByte(byte(min(n, 255)))
			i += 3
		case i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
