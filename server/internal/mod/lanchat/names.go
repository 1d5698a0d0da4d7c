package lanchat

import (
	"strings"

	"hearth/server/internal/jid"
)

// A link-local peer announces itself as "name@machine" (XEP-0174 4); to
// Hearth's users it is name%machine@lan.<domain>, the way gateways write
// an address of another network in a localpart. The characters a
// localpart cannot hold are escaped as XEP-0106 says (space, " & ' / : <
// > @ and the backslash), and a '%' of the name itself as \25, so that
// the one '%' left separates name and machine. The localpart is then
// case-folded like any (RFC 7622 3.3): peers are found by it, never by
// reading the address back.

var escaper = strings.NewReplacer(
	`\`, `\5c`, ` `, `\20`, `"`, `\22`, `&`, `\26`, `'`, `\27`, `/`, `\2f`,
	`:`, `\3a`, `<`, `\3c`, `>`, `\3e`, `@`, `\40`, `%`, `\25`)

// peerLocal is the localpart that stands for the instance name on the
// LAN host, false when none can (a name with characters a localpart
// refuses even escaped, such as control characters or symbols).
func peerLocal(instance, host string) (string, bool) {
	local := escaper.Replace(instance)
	if i := strings.LastIndexByte(instance, '@'); i >= 0 {
		local = escaper.Replace(instance[:i]) + "%" + escaper.Replace(instance[i+1:])
	}
	j, err := jid.New(local, host, "")
	if err != nil || j.Local == "" {
		return "", false
	}
	return j.Local, true
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
