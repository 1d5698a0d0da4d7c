package gui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/skip2/go-qrcode"

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
	if info.CertFingerprint == "" {
		t.Fatal("the test server has no certificate")
	}
	if shown := strings.ReplaceAll(h.ui.overview.fingerprint.Text, "\n", ":"); shown != info.CertFingerprint {
		t.Errorf("fingerprint shown as %q, want %q", shown, info.CertFingerprint)
	}
	test.Tap(h.ui.overview.copyFP)
	if got := h.app.Clipboard().Content(); got != info.CertFingerprint {
		t.Errorf("Copy put %q on the clipboard, want %q", got, info.CertFingerprint)
	}
	checkCertificates(t, h.ui.overview, info)

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
	// The LAN addresses the server knows come before its .local name,
	// which a phone without mDNS cannot resolve.
	lan := admin.LANStatus{Addresses: []string{"192.168.1.20", "fd00::5"}}
	for _, tt := range []struct {
		name      string
		listeners []admin.Listener
		host      string
		ports     string
	}{
		{"LAN addresses", []admin.Listener{{Name: "c2s", Addr: "[::]:5222"}}, "192.168.1.20\nfd00::5", "5222 (STARTTLS)"},
		{"bound to one of them", []admin.Listener{{Name: "c2s", Addr: "192.168.1.20:5222"}}, "192.168.1.20", "5222 (STARTTLS)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			host, ports := connectAddress(admin.Info{Domain: "home.local", Listeners: tt.listeners, LAN: lan})
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

// checkCertificates checks that the overview shows the home CA's page as
// a QR code and as text, and every fingerprint of info, as a device
// shows them.
func checkCertificates(t *testing.T, o *overviewTab, info admin.Info) {
	t.Helper()
	c := info.Certificates
	if c.Mode != "local" || c.CAPage == "" || c.CA.SHA256 == "" || c.CA.SHA1 == "" {
		t.Fatalf("the test server's certificates are %+v, want local mode with a page", c)
	}
	i := slices.IndexFunc(c.Names, func(n admin.CertName) bool { return n.Name == info.Domain })
	if i < 0 {
		t.Fatalf("no certificate for %s in %+v", info.Domain, c.Names)
	}
	leaf := c.Names[i]
	if leaf.SHA256 != info.CertFingerprint {
		t.Errorf("the domain's SHA-256 is %q in Certificates, %q in CertFingerprint", leaf.SHA256, info.CertFingerprint)
	}

	texts := textsOf(o.content)
	for _, fp := range []struct{ name, value string }{
		{"home CA SHA-256", c.CA.SHA256},
		{"home CA SHA-1", c.CA.SHA1},
		{"server SHA-256", leaf.SHA256},
		{"server SHA-1", leaf.SHA1},
	} {
		if fp.value == "" {
			t.Errorf("%s: the server gives none", fp.name)
			continue
		}
		if !slices.Contains(texts, groupFingerprint(fp.value)) {
			t.Errorf("%s %s is not shown; the overview shows:\n%s", fp.name, fp.value, strings.Join(texts, "\n"))
		}
	}
	if !slices.Contains(texts, c.CAPage) {
		t.Errorf("the CA page %s is not shown", c.CAPage)
	}
	if !visible(o.content, o.certs.qr) {
		t.Fatal("the QR code is not shown")
	}
	checkQR(t, o.certs.qr, c.CAPage)
}

// checkQR checks that img shows the QR code of url, module by module.
// There is no QR decoder among the dependencies: the code is compared with
// the one the encoder makes for url.
func checkQR(t *testing.T, img *canvas.Image, url string) {
	t.Helper()
	if img.Image == nil {
		t.Fatal("the QR code has no image")
	}
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	b := img.Image.Bounds()
	if b.Dx() != len(want) || b.Dy() != len(want) {
		t.Fatalf("QR code is %dx%d pixels, want one a module: %dx%d", b.Dx(), b.Dy(), len(want), len(want))
	}
	for y, row := range want {
		for x, dark := range row {
			r, g, bl, _ := img.Image.At(b.Min.X+x, b.Min.Y+y).RGBA()
			if got := r+g+bl < 3*0x8000; got != dark {
				t.Fatalf("QR code module (%d,%d) is dark=%v, want %v: it does not encode %s", x, y, got, dark, url)
			}
		}
	}
	if s := img.MinSize(); s.Width < 100 || s.Width != s.Height {
		t.Errorf("QR code shows at %v, want a square big enough to scan", s)
	}
}

// textsOf lists the visible text of the labels under o.
func textsOf(o fyne.CanvasObject) []string {
	var out []string
	walk(o, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			out = append(out, l.Text)
		}
	})
	return out
}

// visible reports whether target is shown under o: walk goes only into
// what is visible.
func visible(o, target fyne.CanvasObject) bool {
	var found bool
	walk(o, func(o fyne.CanvasObject) { found = found || o == target })
	return found
}

func TestOverviewCertificates(t *testing.T) {
	const domain = "home.test"
	ca := admin.CertSummary{Subject: "Hearth home CA for " + domain, NotAfter: time.Now().AddDate(10, 0, 0),
		SHA256: "3A:1F:9C:07:5B:E2:44:D0:8E:61:C3:2A:F5:90:17:BB:6D:48:0C:A9:E7:35:52:1D:C8:7F:03:96:BE:24:5A:E0",
		SHA1:   "11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44"}
	until := time.Date(2031, time.March, 14, 12, 0, 0, 0, time.UTC)
	leaf := func(issuer, lastError string) admin.CertName {
		return admin.CertName{Name: domain, Issuer: issuer, NotAfter: until,
			SHA256:      "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
			SHA1:        "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
			LastAttempt: time.Now(), LastError: lastError}
	}
	tests := []struct {
		name    string
		certs   admin.Certificates
		mode    string // what the mode line says
		showCA  bool
		page    bool
		issuer  string   // shown, or "" for none
		problem []string // what the warning says, or nil for none
	}{
		{name: "local", mode: "home CA", showCA: true, page: true,
			certs: admin.Certificates{Mode: "local", CA: ca, CAPage: "http://192.0.2.7:5380/",
				Names: []admin.CertName{leaf(ca.Subject, "")}}},
		{name: "local, renewal failed", mode: "home CA", showCA: true, page: true,
			certs: admin.Certificates{Mode: "local", CA: ca, CAPage: "http://192.0.2.7:5380/",
				Names: []admin.CertName{leaf(ca.Subject, "disk full.")}},
			problem: []string{"The certificate for home.test could not be renewed: disk full.", "last good certificate", "tries again by itself"}},
		{name: "acme", mode: "public certificate authority (ACME)", issuer: "R11",
			certs: admin.Certificates{Mode: "acme", CA: ca, Names: []admin.CertName{leaf("R11", "")}}},
		{name: "acme, renewal failed", mode: "public certificate authority (ACME)", issuer: "R11",
			certs:   admin.Certificates{Mode: "acme", CA: ca, Names: []admin.CertName{leaf("R11", "acme: too many certificates already issued")}},
			problem: []string{"could not be renewed: acme: too many certificates already issued.", "last good certificate", "tries again by itself"}},
		{name: "acme, home CA stands in", mode: "devices get one from this server's home CA", showCA: true, issuer: ca.Subject,
			certs:   admin.Certificates{Mode: "acme", CA: ca, Names: []admin.CertName{leaf(ca.Subject, "connection refused")}},
			problem: []string{"could not be obtained: connection refused.", "from this server's home CA", "tries again by itself"}},
		{name: "files", mode: "your own files", issuer: "Some CA",
			certs: admin.Certificates{Mode: "files", CA: ca, Names: []admin.CertName{leaf("Some CA", "")}}},
		{name: "files, unusable", mode: "your own files", issuer: "Some CA",
			certs:   admin.Certificates{Mode: "files", CA: ca, Names: []admin.CertName{leaf("Some CA", "key does not match; still serving the certificate read before")}},
			problem: []string{"files for home.test cannot be used: key does not match", "reads them again when they change"}},
		{name: "another name failed", mode: "public certificate authority (ACME)", issuer: "R11",
			certs: admin.Certificates{Mode: "acme", CA: ca, Names: []admin.CertName{leaf("R11", ""),
				{Name: "upload.home.test", LastError: "no DNS record"}}},
			problem: []string{"The certificate for upload.home.test could not be obtained: no DNS record."}},
	}
	a := test.NewTempApp(t)
	o := newOverviewTab(&UI{app: a})
	w := a.NewWindow("")
	w.SetContent(o.content)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := admin.Info{Domain: domain, Running: true, Certificates: tt.certs}
			for _, n := range tt.certs.Names {
				if n.Name == domain {
					info.CertFingerprint = n.SHA256
				}
			}
			o.setInfo(info, nil)
			texts := strings.Join(textsOf(o.content), "\n")
			has := func(s string) bool { return strings.Contains(texts, s) }

			if !has(tt.mode) {
				t.Errorf("the mode is not said with %q; the overview shows:\n%s", tt.mode, texts)
			}
			if got := has(groupFingerprint(ca.SHA256)) && has(groupFingerprint(ca.SHA1)); got != tt.showCA {
				t.Errorf("home CA fingerprints shown: %v, want %v", got, tt.showCA)
			}
			if !has(groupFingerprint(info.CertFingerprint)) || !has(groupFingerprint(tt.certs.Names[0].SHA1)) {
				t.Errorf("the server's fingerprints are not shown:\n%s", texts)
			}
			if !has(until.Local().Format("2 January 2006")) {
				t.Errorf("the date until which the certificate is valid is not shown:\n%s", texts)
			}
			if got := visible(o.content, o.certs.page); got != tt.page {
				t.Errorf("CA page shown: %v, want %v", got, tt.page)
			}
			if tt.page {
				checkQR(t, o.certs.qr, tt.certs.CAPage)
			}
			if got := visible(o.content, o.certs.issuer); got != (tt.issuer != "") || got && o.certs.issuer.Text != tt.issuer {
				t.Errorf("issuer %q shown: %v, want %q", o.certs.issuer.Text, got, tt.issuer)
			}

			warning := visible(o.content, o.certs.problem)
			switch {
			case tt.problem == nil && warning:
				t.Errorf("a warning shows with no problem: %q", o.certs.problem.Text)
			case tt.problem != nil && !warning:
				t.Errorf("no warning shows; the overview shows:\n%s", texts)
			case tt.problem != nil:
				if o.certs.problem.Importance != widget.WarningImportance {
					t.Errorf("the warning has importance %v", o.certs.problem.Importance)
				}
				for _, want := range tt.problem {
					if !strings.Contains(o.certs.problem.Text, want) {
						t.Errorf("the warning %q does not say %q", o.certs.problem.Text, want)
					}
				}
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		old := leaf(ca.Subject, "")
		old.NotAfter = time.Now().Add(-time.Hour)
		o.setInfo(admin.Info{Domain: domain, Certificates: admin.Certificates{Mode: "local", CA: ca, Names: []admin.CertName{old}}}, nil)
		if want := old.NotAfter.Local().Format("2 January 2006") + " (expired)"; o.certs.until.Text != want || o.certs.until.Importance != widget.DangerImportance {
			t.Errorf("valid until %q with importance %v, want %q in danger", o.certs.until.Text, o.certs.until.Importance, want)
		}
	})

	t.Run("no certificates", func(t *testing.T) {
		o.setInfo(admin.Info{Domain: domain}, nil) // the server is stopped
		if o.fingerprint.Text != "no certificate yet" || !o.copyFP.Disabled() {
			t.Errorf("fingerprint %q, copy disabled %v; want none", o.fingerprint.Text, o.copyFP.Disabled())
		}
		for _, hidden := range []fyne.CanvasObject{o.certs.page, o.certs.problem, o.certs.mode, o.certs.caSHA256.content, o.certs.serverSHA1.content} {
			if visible(o.content, hidden) {
				t.Errorf("%T shown with no certificates", hidden)
			}
		}
	})
}

func TestOverviewQRFollowsPage(t *testing.T) {
	a := test.NewTempApp(t)
	o := newOverviewTab(&UI{app: a})
	certs := admin.Certificates{Mode: "local", CAPage: "http://192.0.2.7:5380/"}
	o.setInfo(admin.Info{Domain: "home.test", Certificates: certs}, nil)
	first := o.certs.qr.Image
	checkQR(t, o.certs.qr, certs.CAPage)
	o.setInfo(admin.Info{Domain: "home.test", Certificates: certs}, nil)
	if o.certs.qr.Image != first {
		t.Error("the QR code was made again for the same address")
	}
	certs.CAPage = "http://[2001:db8::7]:5380/"
	o.setInfo(admin.Info{Domain: "home.test", Certificates: certs}, nil)
	checkQR(t, o.certs.qr, certs.CAPage)
	if o.certs.pageURL.Text != certs.CAPage {
		t.Errorf("the page shows as %q, want %q", o.certs.pageURL.Text, certs.CAPage)
	}
}
