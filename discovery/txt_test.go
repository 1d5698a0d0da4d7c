package discovery

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/miekg/dns"
)

func TestPresenceTXT(t *testing.T) {
	p := Presence{First: "Zoë", Last: "Quill", Nick: "zq", JID: "zoe@family.local", Status: StatusDND, Msg: "in a call", Port: 5298}
	want := []string{"txtvers=1", "1st=Zoë", "last=Quill", "nick=zq", "jid=zoe@family.local", "status=dnd", "msg=in a call", "port.p2pj=5298"}
	if got := p.TXT(); !slices.Equal(got, want) {
		t.Errorf("TXT %q\nwant %q", got, want)
	}
	if got := (Presence{}).TXT(); !slices.Equal(got, []string{"txtvers=1", "status=avail"}) {
		t.Errorf("empty presence: %q", got)
	}
	long := Presence{Msg: strings.Repeat("é", 200)}.TXT()
	if m := long[len(long)-1]; len(m) > 255 || !utf8.ValidString(m) {
		t.Errorf("long msg: %d bytes, valid UTF-8 %v", len(m), utf8.ValidString(m))
	}
	back, problems := ParsePresence(p.TXT())
	if back != p || problems != nil {
		t.Errorf("parsed back as %+v, problems %q", back, problems)
	}
}

func TestParseTXT(t *testing.T) {
	pairs, problems := ParseTXT([]string{"txtvers=1", "", "=x", "flag", "Key=a=b", "key=again", "k\x01=1", strings.Repeat("x", 256)})
	want := []TXTPair{{Key: "txtvers", Value: "1", HasValue: true}, {Key: "flag"}, {Key: "Key", Value: "a=b", HasValue: true}}
	if !slices.Equal(pairs, want) {
		t.Errorf("pairs %+v\nwant %+v", pairs, want)
	}
	if len(problems) != 4 {
		t.Errorf("problems %q, want 4", problems)
	}
	if v, ok := LookupTXT(pairs, "KEY"); !ok || v != "a=b" {
		t.Errorf("LookupTXT KEY: %q %v", v, ok)
	}
}

func TestParsePresenceProblems(t *testing.T) {
	p, problems := ParsePresence([]string{"txtvers=2", "status=sleeping", "port.p2pj=99999", "1st=\xff"})
	if p.Status != StatusAvail || p.Port != 0 || p.First != "\uFFFD" || len(problems) != 4 {
		t.Errorf("%+v, problems %q", p, problems)
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{`alice\@host._presence._tcp.local.`, []string{"alice@host", "_presence", "_tcp", "local"}},
		{`a\.b\032c\195\171.x`, []string{"a.b cë", "x"}},
		{`trailing\`, []string{`trailing\`}},
		{`a..b`, []string{"a", "", "b"}},
		{`\999`, []string{"\xff"}},
	} {
		if got := splitName(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("splitName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if nameKey(`Alice\@HOST._presence._tcp.local.`) != nameKey(instanceName("alice@host", "_presence._tcp")) {
		t.Error("names differing in ASCII case compare different")
	}
	if nameKey(instanceName("É", "_p._tcp")) == nameKey(instanceName("é", "_p._tcp")) {
		t.Error("non-ASCII letters were folded")
	}
	if _, ok := splitInstance("x._other._tcp.local.", "_presence._tcp"); ok {
		t.Error("an instance of another type accepted")
	}
}

func FuzzSplitInstance(f *testing.F) {
	for _, s := range []string{"alice@host", "a.b", `back\slash`, `\065`, "Zoë (2)", ".", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, instance string) {
		if instance == "" {
			return
		}
		name := instanceName(instance, ServicePresence)
		got, ok := splitInstance(name, ServicePresence)
		if !ok || got != instance {
			t.Fatalf("%q came back as %q (%v) from %q", instance, got, ok, name)
		}
		// What miekg/dns makes of it on the wire comes back the same too.
		if len(instance) > 63 {
			return
		}
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeSRV)
		b, err := m.Pack()
		if err != nil {
			return // not a name the wire can carry
		}
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		if got, ok := splitInstance(m.Question[0].Name, ServicePresence); !ok || got != instance {
			t.Fatalf("%q came back from the wire as %q (%v) from %q", instance, got, ok, m.Question[0].Name)
		}
	})
}

func FuzzTXTWire(f *testing.F) {
	f.Add("txtvers=1", `a\b"c`, "\x00\xff")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		strs := []string{a, b, c}
		for _, s := range strs {
			if len(s) > 255 {
				return
			}
		}
		m := new(dns.Msg)
		m.Response = true
		m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "x.local.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1}, Txt: escapeTXT(strs)}}
		buf, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Unpack(buf); err != nil {
			t.Fatal(err)
		}
		if got := unescapeTXT(m.Answer[0].(*dns.TXT).Txt); !slices.Equal(got, strs) {
			t.Fatalf("%q came back as %q", strs, got)
		}
	})
}

func FuzzParseTXT(f *testing.F) {
	f.Add("txtvers=1", "status=away", "=bad")
	f.Add("", "k", "k=v=w")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		pairs, _ := ParseTXT([]string{a, b, c})
		seen := map[string]bool{}
		for _, p := range pairs {
			if p.Key == "" || strings.ContainsAny(p.Key, "=") || seen[strings.ToLower(p.Key)] {
				t.Fatalf("bad pair %+v in %+v", p, pairs)
			}
			seen[strings.ToLower(p.Key)] = true
		}
	})
}

func FuzzParsePresence(f *testing.F) {
	f.Add("Alice", "away", "out", 5298)
	f.Add("\xff", "sleeping", "", -1)
	f.Fuzz(func(t *testing.T, first, status, msg string, port int) {
		p := Presence{First: first, Status: status, Msg: msg, Port: port}
		got, problems := ParsePresence(p.TXT())
		valid := utf8.ValidString(first) && utf8.ValidString(msg) && len(first) < 200 && len(msg) < 200 &&
			(status == StatusAvail || status == StatusAway || status == StatusDND) && port > 0 && port <= 65535
		if valid && (got != p || problems != nil) {
			t.Fatalf("%+v came back as %+v, problems %q", p, got, problems)
		}
		if got.Status != StatusAvail && got.Status != StatusAway && got.Status != StatusDND {
			t.Fatalf("status %q", got.Status)
		}
	})
}
