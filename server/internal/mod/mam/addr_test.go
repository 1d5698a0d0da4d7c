package mam

import (
	"testing"

	"hearth/server/internal/jid"
)

// The address helpers agree with jid.JID.String for every shape of
// address, and for strings that spell another address.
func TestAddrHelpers(t *testing.T) {
	jids := []string{"alice@home.test/phone", "alice@home.test", "home.test", "home.test/res", "a@b/c/d", "b/c@d"}
	strs := append(jids, "", "alice", "alice@", "alice@home.test/", "alice@home.tes", "alice@home.testx", "home.test@x",
		"alicx@home.test", "alice@home.test/phonx", "alice@home.test/phone2", "alice#home.test", "home.test@home.test/res")
	for _, js := range jids {
		j := jid.MustParse(js)
		for _, s := range strs {
			if got, want := isJID(s, j), s == j.String(); got != want {
				t.Errorf("isJID(%q, %s) = %v", s, j, got)
			}
			if got, want := bareOf(j, s), j.Bare().String(); got != want {
				t.Errorf("bareOf(%s, %q) = %q, want %q", j, s, got, want)
			}
		}
	}
}

func BenchmarkWants(b *testing.B) {
	m := newArchiveModule(b)
	peer := jid.MustParse("alice@home.test/phone")
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if !m.wants(ctx, "bob", peer) {
			b.Fatal("not wanted")
		}
	}
}
