package lanchat

import (
	"fmt"
	"strings"

	"hearth/server/internal/jid"
)

// A link-local peer announces itself as "name@machine" (XEP-0174 4); to
// Hearth's users it is name%machine@lan.<domain>, the way gateways write
// an address of another network in a localpart. The characters a
// localpart cannot hold are escaped as XEP-0106 says (space, " & ' / : <
// > @ and the backslash), and a '%' of the name itself as \25, so that
// the one '%' left separates name and machine.
//
// Two instance names mDNS tells apart must never share an address, or one
// peer could speak in another's name. mDNS folds ASCII case only
// (nameKey), while a localpart is folded further (RFC 7622 3.3: width,
// case of every script, Unicode normalization). So the name is taken in
// nameKey's form and, when the localpart would fold it any further, every
// byte outside ASCII is written as \xx too (lower-case hex): "ｂob@x" is
// \ef\bd\82ob%x, never bob%x. The mapping can be undone, so no two
// names meet; a name that folding leaves alone (élodie) keeps its letters.

var escaper = strings.NewReplacer(
	`\`, `\5c`, ` `, `\20`, `"`, `\22`, `&`, `\26`, `'`, `\27`, `/`, `\2f`,
	`:`, `\3a`, `<`, `\3c`, `>`, `\3e`, `@`, `\40`, `%`, `\25`)

// peerLocal is the localpart that stands for the instance name on the
// LAN host, false when none can (a name with characters a localpart
// refuses even escaped, such as control characters).
func peerLocal(instance, host string) (string, bool) {
	instance = nameKey(instance)
	if l, ok := foldedLocal(instance, host, escaper.Replace); ok {
		return l, true
	}
	return foldedLocal(instance, host, escapeAll)
}

// foldedLocal writes the instance with esc and returns it if it is a
// localpart that folding leaves as it is.
func foldedLocal(instance, host string, esc func(string) string) (string, bool) {
	local := esc(instance)
	if i := strings.LastIndexByte(instance, '@'); i >= 0 {
		local = esc(instance[:i]) + "%" + esc(instance[i+1:])
	}
	j, err := jid.New(local, host, "")
	if err != nil || local == "" || j.Local != local {
		return "", false
	}
	return local, true
}

// escapeAll is escaper's escaping plus every byte outside ASCII as \xx.
func escapeAll(s string) string {
	s = escaper.Replace(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, `\%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nameKey is how instance names are compared: DNS names match without
// regard to ASCII case (RFC 6762 16).
func nameKey(name string) string {
	b := []byte(name)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
