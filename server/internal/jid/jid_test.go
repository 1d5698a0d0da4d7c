package jid

import (
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want JID
		ok   bool
	}{
		{"example.com", JID{"", "example.com", ""}, true},
		{"alice@example.com", JID{"alice", "example.com", ""}, true},
		{"alice@example.com/phone", JID{"alice", "example.com", "phone"}, true},
		{"Alice@Example.COM/Phone", JID{"alice", "example.com", "Phone"}, true},
		{"alice@example.com/a/b@c", JID{"alice", "example.com", "a/b@c"}, true},
		{"ålice@exämple.com", JID{"ålice", "exämple.com", ""}, true},
		{"alice@hearth.local/Gajim 1.8", JID{"alice", "hearth.local", "Gajim 1.8"}, true},
		{"", JID{}, false},
		{"@example.com", JID{}, false},
		{"alice@", JID{}, false},
		{"alice@example.com/", JID{}, false},
		{"a b@example.com", JID{}, false},
		{"alice@exa mple.com", JID{}, false},
		{"al\"ice@example.com", JID{}, false},
		{"alice@@example.com", JID{}, false},
		{"alice@example..com", JID{}, false},
		{"\x00@example.com", JID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	for _, s := range []string{"example.com", "a@example.com", "a@example.com/r", "example.com/r"} {
		if got := MustParse(s).String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
}

// FuzzParse checks that parsing never panics and that a parsed address
// round-trips: formatting and parsing again gives the same address.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a@b.c/d", "example.com", "Ä@ß.de/☃", "a@b/c/d", "@", "/", "a@b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			return
		}
		j2, err := Parse(j.String())
		if err != nil {
			t.Fatalf("reparse of %q (from %q) failed: %v", j.String(), s, err)
		}
		if j2 != j {
			t.Fatalf("round trip %q: %#v != %#v", s, j, j2)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Parse("alice@hearth.local/phone")
	}
}
