package discovery

import (
	"net"
	"slices"
	"strings"
	"testing"

	"hearth/internal/netns"

	"github.com/miekg/dns"
)

func TestComplete(t *testing.T) {
	veth := net.Interface{Index: 7, Name: "veth0", Flags: net.FlagUp | net.FlagMulticast}
	ok := Announcement{Instance: "Hearth on h.local", Host: "h", Port: 5222, Ifaces: []net.Interface{veth}, Addrs: []string{"10.0.0.1"}}
	with := func(f func(*Announcement)) Announcement {
		a := ok
		f(&a)
		return a
	}
	for _, tt := range []struct {
		name string
		a    Announcement
		err  string // substring; "" for none
		host string
		inst string
	}{
		{name: "plain", a: ok, host: "h", inst: "Hearth on h.local"},
		{name: "host given as a .local name", a: with(func(a *Announcement) { a.Host = "h.local." }), host: "h"},
		{name: "host of two labels", a: with(func(a *Announcement) { a.Host = "h.example" }), err: `host "h.example" is not a single DNS label`},
		{name: "no host", a: with(func(a *Announcement) { a.Host = "" }), err: "not a single DNS label"},
		{name: "no instance", a: with(func(a *Announcement) { a.Instance = ".." }), err: "no instance name"},
		{name: "long instance cut at a rune", a: with(func(a *Announcement) { a.Instance = strings.Repeat("é", 40) }), inst: strings.Repeat("é", 31)},
		{name: "no port", a: with(func(a *Announcement) { a.Port = 0 }), err: "no port to announce"},
		{name: "TLS port only", a: with(func(a *Announcement) { a.Port, a.TLSPort = 0, 5223 })},
		{name: "port out of range", a: with(func(a *Announcement) { a.TLSPort = 70000 }), err: "port 70000 out of range"},
		{name: "bad address", a: with(func(a *Announcement) { a.Addrs = []string{"10.0.0.1", "h.local"} }), err: `address "h.local" is not an IP address`},
		{name: "every problem at once", a: Announcement{Addrs: []string{"x"}}, err: "not a single DNS label\nno instance name\nno port to announce\naddress \"x\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			err := a.complete()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" && a.Host != tt.host {
				t.Errorf("host %q, want %q", a.Host, tt.host)
			}
			if tt.inst != "" && a.Instance != tt.inst {
				t.Errorf("instance %q, want %q", a.Instance, tt.inst)
			}
		})
	}
}

func TestServicesAndTXT(t *testing.T) {
	a := Announcement{Port: 5222, TLSPort: 5223, Domain: "h.local"}
	if got, want := a.services(), []service{{ServiceC2S, 5222}, {ServiceC2STLS, 5223}}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	if got, want := a.txt(), []string{"txtvers=1", "domain=h.local"}; !slices.Equal(got, want) {
		t.Errorf("TXT %q, want %q", got, want)
	}
	a = Announcement{TLSPort: 5223}
	if got, want := a.services(), []service{{ServiceC2STLS, 5223}}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	if got, want := a.txt(), []string{"txtvers=1"}; !slices.Equal(got, want) {
		t.Errorf("TXT %q, want %q", got, want)
	}
}

// An instance name with dots, backslashes and spaces stays one label on
// the wire and comes back as it was.
func TestInstanceLabel(t *testing.T) {
	for _, instance := range []string{"Hearth on h.local", `back\slash`, "Zoë's server (2)"} {
		name := escapeLabel(instance) + "." + ServiceC2S + ".local."
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeSRV)
		b, err := m.Pack()
		if err != nil {
			t.Fatalf("%q: %v", instance, err)
		}
		if err := m.Unpack(b); err != nil {
			t.Fatal(err)
		}
		got, ok := strings.CutSuffix(m.Question[0].Name, "."+ServiceC2S+".local.")
		if !ok || netns.Unescape(got) != instance || dns.CountLabel(m.Question[0].Name) != 4 {
			t.Errorf("%q came back as %q", instance, m.Question[0].Name)
		}
	}
}

func TestHostAnswer(t *testing.T) {
	dual := &hostResponder{name: "h.local.", v4: []net.IP{net.IPv4(10, 0, 0, 1).To4()}, v6: []net.IP{net.ParseIP("fe80::1")}}
	v4only := &hostResponder{name: "h.local.", v4: dual.v4}
	query := func(name string, qtype, qclass uint16) *dns.Msg {
		m := new(dns.Msg)
		m.Id = 77
		m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: qclass}}
		return m
	}
	for _, tt := range []struct {
		name    string
		h       *hostResponder
		q       *dns.Msg
		port    int
		none    bool
		unicast bool
		answer  string // the answer and additional records, as miekg prints them
	}{
		{name: "A, multicast", h: dual, q: query("h.local.", dns.TypeA, dns.ClassINET), port: 5353,
			answer: "h.local.\t120\tCLASS32769\tA\t10.0.0.1|h.local.\t120\tCLASS32769\tAAAA\tfe80::1"},
		{name: "name in other case", h: dual, q: query("H.Local.", dns.TypeAAAA, dns.ClassINET), port: 5353,
			answer: "h.local.\t120\tCLASS32769\tAAAA\tfe80::1|h.local.\t120\tCLASS32769\tA\t10.0.0.1"},
		{name: "unicast asked (QU)", h: dual, q: query("h.local.", dns.TypeANY, dns.ClassINET|classTopBit), port: 5353, unicast: true,
			answer: "h.local.\t120\tCLASS32769\tA\t10.0.0.1|h.local.\t120\tCLASS32769\tAAAA\tfe80::1"},
		{name: "legacy unicast", h: dual, q: query("h.local.", dns.TypeA, dns.ClassINET), port: 40000, unicast: true,
			answer: "h.local.\t10\tIN\tA\t10.0.0.1|h.local.\t10\tIN\tAAAA\tfe80::1"},
		{name: "AAAA without IPv6: NSEC", h: v4only, q: query("h.local.", dns.TypeAAAA, dns.ClassINET), port: 5353,
			answer: "h.local.\t120\tCLASS32769\tNSEC\th.local. A|h.local.\t120\tCLASS32769\tA\t10.0.0.1"},
		{name: "A without IPv6: NSEC added", h: v4only, q: query("h.local.", dns.TypeA, dns.ClassINET), port: 5353,
			answer: "h.local.\t120\tCLASS32769\tA\t10.0.0.1|h.local.\t120\tCLASS32769\tNSEC\th.local. A"},
		{name: "another name", h: dual, q: query("other.local.", dns.TypeA, dns.ClassINET), port: 5353, none: true},
		{name: "another type", h: dual, q: query("h.local.", dns.TypeTXT, dns.ClassINET), port: 5353, none: true},
		{name: "another class", h: dual, q: query("h.local.", dns.TypeA, dns.ClassCHAOS), port: 5353, none: true},
		{name: "a response", h: dual, q: func() *dns.Msg { m := query("h.local.", dns.TypeA, dns.ClassINET); m.Response = true; return m }(), port: 5353, none: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, unicast := tt.h.answer(tt.q, tt.port)
			if tt.none {
				if resp != nil {
					t.Fatalf("answered %v", resp)
				}
				return
			}
			if resp == nil {
				t.Fatal("no answer")
			}
			var rrs []string
			for _, rr := range append(resp.Answer, resp.Extra...) {
				rrs = append(rrs, rr.String())
			}
			if got := strings.Join(rrs, "|"); got != tt.answer || unicast != tt.unicast {
				t.Errorf("answer %q, unicast %v\nwant   %q, unicast %v", got, unicast, tt.answer, tt.unicast)
			}
			if !resp.Response || !resp.Authoritative {
				t.Errorf("flags: response %v, authoritative %v", resp.Response, resp.Authoritative)
			}
			// RFC 6762 6.7 and 18.1: a legacy answer repeats the ID and
			// question, a multicast DNS one has neither.
			legacy := tt.port != mdnsPort
			if legacy != (resp.Id == tt.q.Id) || legacy != (len(resp.Question) == 1) {
				t.Errorf("ID %d, %d questions, for a query from port %d", resp.Id, len(resp.Question), tt.port)
			}
			if _, err := resp.Pack(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOnlyUp(t *testing.T) {
	lo := net.Interface{Name: "lo", Flags: net.FlagUp | net.FlagLoopback}
	veth := net.Interface{Name: "hm1a", Flags: net.FlagUp | net.FlagMulticast}
	down := net.Interface{Name: "eth0", Flags: net.FlagMulticast}
	up := net.Interface{Name: "eth0", Flags: net.FlagUp | net.FlagMulticast}
	for _, tt := range []struct {
		name   string
		ifaces []net.Interface
		err    string
	}{
		{"lo and veth", []net.Interface{lo, veth}, ""},
		{"another interface down", []net.Interface{lo, veth, down}, ""},
		{"another interface up", []net.Interface{lo, veth, up}, "interface eth0 is up"},
		{"veth down", []net.Interface{lo}, "interface hm1a is not up"},
		{"a fake lo", []net.Interface{{Name: "lo", Flags: net.FlagUp | net.FlagMulticast}, veth}, "interface lo is up"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := netns.OnlyUp(tt.ifaces, "hm1a")
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}
