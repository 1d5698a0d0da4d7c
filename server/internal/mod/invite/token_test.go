package invite

import (
	"strings"
	"testing"

	"hearth/storage"
)

func TestToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) != 24 {
		t.Fatalf("tokens %q %q", a, b)
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{a, true},
		{"short", false},
		{strings.Repeat("a", 65), false},
		{"aaaaaaaaaaaaaaaa aaaaaaa", false},
		{"aaaaaaaaaaaaaaaa/aaaaaaa", false},
		{"abcdefghijklmnop-_012345", true},
	} {
		if _, err := ParseToken(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseToken(%q) = %v", tc.in, err)
		}
	}
}

func TestURI(t *testing.T) {
	for _, tc := range []struct {
		inv  storage.Invite
		want string
	}{
		{storage.Invite{Token: "tok0123456789abcdefABCD", Kind: storage.InviteAccount}, "xmpp:home.test?register;preauth=tok0123456789abcdefABCD"},
		{storage.Invite{Token: "tok0123456789abcdefABCD", Kind: storage.InviteAccount, User: "grandma"}, "xmpp:grandma@home.test?register;preauth=tok0123456789abcdefABCD"},
		{storage.Invite{Token: "tok0123456789abcdefABCD", Kind: storage.InviteContact, Inviter: "alice"}, "xmpp:alice@home.test?roster;preauth=tok0123456789abcdefABCD"},
		{storage.Invite{Token: "tok0123456789abcdefABCD", Kind: storage.InviteAccountContact, Inviter: "alice"}, "xmpp:alice@home.test?roster;preauth=tok0123456789abcdefABCD;ibr=y"},
		{storage.Invite{Token: "tok0123456789abcdefABCD", Kind: storage.InviteReset, User: "bob"}, "xmpp:bob@home.test?register;preauth=tok0123456789abcdefABCD"},
	} {
		u := URIFor(tc.inv, "home.test")
		if got := u.String(); got != tc.want {
			t.Errorf("URI of %+v = %s, want %s", tc.inv, got, tc.want)
		}
		back, err := ParseURI(u.String())
		if err != nil || back != u {
			t.Errorf("ParseURI(%s) = %+v, %v", u, back, err)
		}
	}
	u := URI{JID: "o'brien@home.test", Action: ActionRoster, Preauth: "tok0123456789abcdefABCD", Name: "Ann O'Brien & co"}
	if back, err := ParseURI(u.String()); err != nil || back != u {
		t.Errorf("round trip of %s: %+v, %v", u, back, err)
	}
	for _, bad := range []string{"", "xmpp:", "xmpp:home.test", "xmpp:home.test?message;body=hi", "xmpp:home.test?register",
		"xmpp:home.test?register;preauth=short", "http://home.test?register;preauth=tok0123456789abcdefABCD", "xmpp://a@b?roster;preauth=tok0123456789abcdefABCD"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) accepted", bad)
		}
	}
}

func TestTokenFrom(t *testing.T) {
	const tok = "tok0123456789abcdefABCD"
	for _, in := range []string{tok, " " + tok + "\n", "https://home.test:5443/invite/" + tok, "http://192.168.1.5:5380/invite/" + tok + "/",
		"xmpp:home.test?register;preauth=" + tok} {
		if got, err := TokenFrom(in); err != nil || got != tok {
			t.Errorf("TokenFrom(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "https://home.test/upload/" + tok, "xmpp:home.test?register", "not a token at all"} {
		if got, err := TokenFrom(bad); err == nil {
			t.Errorf("TokenFrom(%q) = %q", bad, got)
		}
	}
}

// FuzzParseToken: any string is refused or is a token made of the
// alphabet, never a panic.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{NewToken(), "", "a", "abcdefghijklmnop-_012345", "äöüäöüäöüäöüäöüäöü", strings.Repeat("z", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if tok != s || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Fatalf("ParseToken(%q) accepted", s)
		}
	})
}

// FuzzParseURI: a URI read back is written and read again to the same
// value, and its token is valid.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"xmpp:romeo@montague.net?roster;preauth=1tMFqYDdKhfe2pwp;name=Romeo+Montague",
		"xmpp:example.com?register;preauth=tok0123456789abcdefABCD",
		"xmpp:juliet@example.com?register;preauth=tok0123456789abcdefABCD",
		"xmpp:romeo@example.com?roster;preauth=tok0123456789abcdefABCD;ibr=y",
		"xmpp:a%40b@c?roster;preauth=tok0123456789abcdefABCD#frag",
		"xmpp:%zz?roster;preauth=x", "xmpp:?", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if _, err := ParseToken(u.Preauth); err != nil {
			t.Fatalf("ParseURI(%q) gave a bad token %q", s, u.Preauth)
		}
		again, err := ParseURI(u.String())
		if err != nil || again != u {
			t.Fatalf("ParseURI(%q) = %+v; written %q, read again %+v, %v", s, u, u.String(), again, err)
		}
	})
}

// FuzzTokenFrom: whatever was pasted gives a valid token or an error.
func FuzzTokenFrom(f *testing.F) {
	for _, s := range []string{"tok0123456789abcdefABCD", "https://home.test:5443/invite/tok0123456789abcdefABCD",
		"xmpp:home.test?register;preauth=tok0123456789abcdefABCD", "http://[::1", "https://x/invite/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := TokenFrom(s)
		if err != nil {
			return
		}
		if _, err := ParseToken(tok); err != nil {
			t.Fatalf("TokenFrom(%q) = %q, not a token", s, tok)
		}
	})
}
