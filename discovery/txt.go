package discovery

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ServicePresence is the service type of link-local messaging
// (XEP-0174 3).
const ServicePresence = "_presence._tcp"

// TXTPair is one string of a TXT record (RFC 6763 6.3): key=value, or a
// key alone (HasValue false).
type TXTPair struct {
	Key, Value string
	HasValue   bool
}

// maxTXTString is the most one TXT string can hold (RFC 6763 6.1).
const maxTXTString = 255

// ParseTXT reads the strings of a TXT record as RFC 6763 6.4 says: a
// string starting with "=" or with a key that is not printable ASCII is
// skipped, and so is a later string repeating an earlier key (keys are
// case-insensitive); an empty record, or one holding only an empty
// string, has no pairs. Each string skipped is described in problems.
func ParseTXT(strs []string) (pairs []TXTPair, problems []string) {
	seen := make(map[string]bool)
	for i, s := range strs {
		if s == "" {
			continue
		}
		if len(s) > maxTXTString {
			problems = append(problems, fmt.Sprintf("string %d is longer than 255 bytes", i+1))
			continue
		}
		key, value, has := strings.Cut(s, "=")
		if key == "" {
			problems = append(problems, fmt.Sprintf("string %d has no key", i+1))
			continue
		}
		if bad := strings.IndexFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }); bad >= 0 {
			problems = append(problems, fmt.Sprintf("string %d has a key that is not printable ASCII", i+1))
			continue
		}
		k := asciiLower(key)
		if seen[k] {
			problems = append(problems, fmt.Sprintf("string %d repeats the key %q", i+1, key))
			continue
		}
		seen[k] = true
		pairs = append(pairs, TXTPair{Key: key, Value: value, HasValue: has})
	}
	return pairs, problems
}

// LookupTXT returns the value of key among pairs (keys compare without
// case) and whether it is there.
func LookupTXT(pairs []TXTPair, key string) (string, bool) {
	for _, p := range pairs {
		if strings.EqualFold(p.Key, key) {
			return p.Value, true
		}
	}
	return "", false
}

// The presence states of XEP-0174 6.
const (
	StatusAvail = "avail"
	StatusAway  = "away"
	StatusDND   = "dnd"
)

// Presence is what a _presence._tcp instance says of its user in its TXT
// record (XEP-0174 4, 6). Empty fields are left out of the record.
type Presence struct {
	First, Last, Nick string
	// JID is the user's usual address, if any (not the link-local one).
	JID string
	// Status is StatusAvail, StatusAway or StatusDND; "" means avail.
	Status string
	// Msg is the free-text status message.
	Msg string
	// Port is the port of the user's XEP-0174 streams (port.p2pj).
	Port int
}

// TXT is the record for p: txtvers=1 first (XEP-0174 4), then the fields
// that are set. A value longer than a TXT string allows is cut at a UTF-8
// boundary.
func (p Presence) TXT() []string {
	t := []string{"txtvers=1"}
	add := func(key, value string) {
		if value == "" {
			return
		}
		s := key + "=" + value
		for len(s) > maxTXTString {
			_, n := utf8.DecodeLastRuneInString(s)
			s = s[:len(s)-n]
		}
		t = append(t, s)
	}
	add("1st", p.First)
	add("last", p.Last)
	add("nick", p.Nick)
	add("jid", p.JID)
	status := p.Status
	if status == "" {
		status = StatusAvail
	}
	add("status", status)
	add("msg", p.Msg)
	if p.Port > 0 {
		add("port.p2pj", strconv.Itoa(p.Port))
	}
	return t
}

// ParsePresence reads a _presence._tcp TXT record. What does not fit
// XEP-0174 (another txtvers, an unknown status, a bad port, invalid
// UTF-8) is left at its zero value and described in problems; the record
// is never refused as a whole.
func ParsePresence(strs []string) (Presence, []string) {
	pairs, problems := ParseTXT(strs)
	var p Presence
	if v, ok := LookupTXT(pairs, "txtvers"); ok && v != "1" {
		problems = append(problems, fmt.Sprintf("txtvers is %q, not 1", v))
	}
	text := func(key string) string {
		v, _ := LookupTXT(pairs, key)
		if !utf8.ValidString(v) {
			problems = append(problems, fmt.Sprintf("%s is not UTF-8", key))
			return strings.ToValidUTF8(v, "\uFFFD")
		}
		return v
	}
	p.First, p.Last, p.Nick, p.JID, p.Msg = text("1st"), text("last"), text("nick"), text("jid"), text("msg")
	switch s := text("status"); s {
	case StatusAvail, StatusAway, StatusDND:
		p.Status = s
	case "":
		p.Status = StatusAvail
	default:
		problems = append(problems, fmt.Sprintf("status %q is not avail, away or dnd", s))
		p.Status = StatusAvail
	}
	if v, ok := LookupTXT(pairs, "port.p2pj"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 65535 {
			problems = append(problems, fmt.Sprintf("port.p2pj %q is not a port number", v))
		} else {
			p.Port = n
		}
	}
	return p, problems
}
