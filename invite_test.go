package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestInviteCommand: hearth invite on the database alone: create prints
// the link, the xmpp: URI and a QR code; bad requests say what to give;
// list shows the invitation; revoke takes the link as well as the token.
func TestInviteCommand(t *testing.T) {
	d := "--data=" + t.TempDir()
	e := env(t)
	check(t, e, "", 0, "", "user", "add", "alice@home.test", "--password", "silver-kettle-pw", d)
	r := check(t, e, "", 0, `(?s)^invitation to become alice@home\.test's contact, valid until .*, 2 uses
link: +https://home\.test:5443/invite/[A-Za-z0-9_-]{24}
chat app: +xmpp:alice@home\.test\?roster;preauth=[A-Za-z0-9_-]{24}
.*Scan with the phone's camera.*█`, "invite", "create", "--kind", "contact", "--user", "alice", "--uses", "2", "--expires", "2d", d)
	link := regexp.MustCompile(`https://\S+`).FindString(r.stdout)
	check(t, e, "", 1, "", "invite", "create", "--kind", "reset", "--user", "nobody", d)
	check(t, e, "", 1, "", "invite", "create", "--kind", "contact", d)
	check(t, e, "", 2, "", "invite", "create", "--expires", "soon", d)
	check(t, e, "", 0, `(?m)^[A-Za-z0-9_-]{24} +become alice@home\.test's contact +valid +0 of 2 `, "invite", "list", d)
	check(t, e, "", 0, "revoked", "invite", "revoke", link, d)
	check(t, e, "", 0, "^no invitations", "invite", "list", d)
	check(t, e, "", 1, "", "invite", "revoke", link, d)
}

// FuzzParseDays: --expires gives a positive duration or an error.
func FuzzParseDays(f *testing.F) {
	for _, s := range []string{"7d", "12h", "30m", "0d", "-1d", "d", "1.5d", "99999999999999999999d", "200000d", "soon", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDays(s)
		if err == nil && strings.HasSuffix(s, "d") && d <= 0 {
			t.Fatalf("parseDays(%q) = %v", s, d)
		}
	})
}
