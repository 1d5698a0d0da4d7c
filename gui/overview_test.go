package gui

import (
	"strings"
	"testing"
	"time"

	"hearth/server/admin"
)

func TestOverview(t *testing.T) {
	h := newHarness(t) // waits for the domain to show
	info, err := h.api.Info(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("no one online", func() bool { return h.ui.overview.online.Subtitle == "No one is online." })
	for _, l := range info.Listeners {
		if !h.showsText(l.Addr) {
			t.Errorf("listener %s %s is not shown", l.Name, l.Addr)
		}
	}
	if !h.showsText("name@" + info.Domain) {
		t.Error("the account format name@domain is not shown")
	}
	if info.CertFingerprint != "" {
		shown := strings.ReplaceAll(h.ui.overview.fingerprint.Text, "\n", ":")
		if shown != info.CertFingerprint {
			t.Errorf("fingerprint shown as %q, want %q", shown, info.CertFingerprint)
		}
	}

	alice := h.addUser("alice", "wonderland-tea-1")
	logout, err := login(t, h.api, alice, "wonderland-tea-1")
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("alice's session", func() bool {
		return h.ui.overview.online.Subtitle == "1 session" && h.showsText(alice+"/")
	})
	logout()
	h.waitFor("alice gone", func() bool {
		return h.ui.overview.online.Subtitle == "No one is online." && !h.showsText(alice+"/")
	})
}

func TestConnectAddress(t *testing.T) {
	tests := []struct {
		name      string
		listeners []admin.Listener
		host      string
		ports     string
	}{
		{"all interfaces", []admin.Listener{{Name: "c2s", Addr: ":5222"}, {Name: "c2s-tls", Addr: "[::]:5223"}, {Name: "http", Addr: ":5443"}},
			"home.local", "5222 (STARTTLS) or 5223 (direct TLS)"},
		{"one address", []admin.Listener{{Name: "c2s", Addr: "192.168.1.10:5222"}},
			"192.168.1.10", "5222 (STARTTLS)"},
		{"loopback only", []admin.Listener{{Name: "c2s", Addr: "127.0.0.1:5222"}},
			"home.local", "5222 (STARTTLS)"},
		{"none", nil, "home.local", "the server is not listening for clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, ports := connectAddress(admin.Info{Domain: "home.local", Listeners: tt.listeners})
			if host != tt.host || ports != tt.ports {
				t.Errorf("got %q, %q; want %q, %q", host, ports, tt.host, tt.ports)
			}
		})
	}
}

func TestGroupFingerprint(t *testing.T) {
	fp := "3A:1F:9C:07:5B:E2:44:D0:8E:61:C3:2A:F5:90:17:BB:6D:48:0C:A9:E7:35:52:1D:C8:7F:03:96:BE:24:5A:E0"
	want := "3A:1F:9C:07:5B:E2:44:D0\n8E:61:C3:2A:F5:90:17:BB\n6D:48:0C:A9:E7:35:52:1D\nC8:7F:03:96:BE:24:5A:E0"
	if got := groupFingerprint(fp); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, odd := range []string{"", "abcdef", "AA:BB"} {
		if got := groupFingerprint(odd); got != odd {
			t.Errorf("groupFingerprint(%q) = %q, want it unchanged", odd, got)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{20 * time.Second, "0 min"},
		{5 * time.Minute, "5 min"},
		{3*time.Hour + 12*time.Minute, "3 h 12 min"},
		{50 * time.Hour, "2 d 2 h"},
	}
	for _, tt := range tests {
		if got := duration(tt.d); got != tt.want {
			t.Errorf("duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
