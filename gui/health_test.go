package gui

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/widget"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"hearth/server/admin"
)

// TestOverviewLAN: the Overview shows the LAN addresses to type by hand,
// IPv4 first, the mDNS announcement's state and, when it fails, why.
func TestOverviewLAN(t *testing.T) {
	h := newHarness(t)
	o := h.ui.overview
	h.waitFor("the LAN addresses", func() bool { return o.host.Text == "192.0.2.7\n2001:db8::7" })
	if !strings.Contains(o.lanName.Text, "find it as hearth.local") {
		t.Errorf("the .local name is not offered: %q", o.lanName.Text)
	}
	h.waitFor("the health lines", func() bool { return strings.HasPrefix(o.health.database.Text, "ok (checked at ") })
	for _, l := range []struct {
		label      *widget.Label
		prefix     string
		importance widget.Importance
	}{
		{o.health.database, "ok (checked at ", widget.SuccessImportance},
		{o.health.certs, "ok, valid until ", widget.SuccessImportance},
		{o.health.lan, "announced as hearth.local", widget.SuccessImportance},
		{o.health.logins, "ok, none failed since the start", widget.SuccessImportance},
		{o.health.federation, "off: accounts here talk only with each other", widget.MediumImportance},
	} {
		if !strings.HasPrefix(l.label.Text, l.prefix) || l.label.Importance != l.importance {
			t.Errorf("health line %q (importance %v), want %q… (importance %v)", l.label.Text, l.label.Importance, l.prefix, l.importance)
		}
	}

	failed := "the announcement failed: mdns announce: no multicast interface is up"
	setLAN(t, h.api, admin.LANStatus{Addresses: []string{"192.0.2.7"}, Name: "hearth.local", Reason: failed})
	h.ui.info.trigger()
	h.waitFor("the failure", func() bool { return o.health.lan.Text == "not announced: "+failed })
	if o.health.lan.Importance != widget.DangerImportance {
		t.Errorf("a failed announcement shows with importance %v", o.health.lan.Importance)
	}
	if !strings.Contains(o.lanName.Text, failed) || o.host.Text != "192.0.2.7" {
		t.Errorf("after the failure: server %q, %q", o.host.Text, o.lanName.Text)
	}

	// A wrong password counts.
	alice := h.addUser("alice", "silver-kettle-pw")
	h.checkLogin(alice, "wrong-kettle-pw", false)
	h.ui.info.trigger()
	h.waitFor("the failed login", func() bool { return o.health.logins.Text == "ok, 1 failed since the start" })
}

// TestOverviewKick: each session has a button that disconnects it.
func TestOverviewKick(t *testing.T) {
	h := newHarness(t)
	alice := h.addUser("alice", "silver-kettle-pw")
	ended := loginReading(t, h.api, alice, "silver-kettle-pw")
	h.waitFor("alice's session", func() bool { return h.ui.overview.online.Subtitle == "1 session" })
	h.tap("Disconnect")
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("alice's app still connected 10s after Disconnect")
	}
	h.waitFor("alice disconnected", func() bool { return h.ui.overview.online.Subtitle == "No one is online." })
	if ss, err := h.api.Sessions(h.ctx()); err != nil || len(ss) != 0 {
		t.Errorf("sessions after Disconnect: %v, %v", ss, err)
	}
}

// loginReading signs in as an app does that reads what the server sends,
// so that it sees the server close its stream and closes too; the channel
// is closed then.
func loginReading(t *testing.T, api admin.API, jid, password string) <-chan struct{} {
	t.Helper()
	v, _ := servers.Load(api)
	ts := v.(*testServer)
	origin, err := mjid.Parse(jid)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(&tls.Config{ServerName: testDomain, RootCAs: ts.roots}),
		xmpp.SASL("", password, sasl.ScramSha256),
		xmpp.BindResource())
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Send(ctx, stanza.Presence{}.Wrap(nil)); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sess.Serve(nil) // until the server ends the stream
		sess.Close()
	}()
	t.Cleanup(func() {
		conn.Close()
		<-ended
	})
	return ended
}

func TestCertHealth(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cert := func(notAfter time.Time, lastError string) admin.CertName {
		return admin.CertName{Name: "home.test", SHA256: "AA:BB", NotAfter: notAfter, LastError: lastError}
	}
	for _, tc := range []struct {
		name       string
		certs      admin.Certificates
		prefix     string
		importance widget.Importance
	}{
		{"ok", admin.Certificates{Mode: "local", Names: []admin.CertName{cert(now.Add(20*24*time.Hour), "")}}, "ok, valid until", widget.SuccessImportance},
		{"due", admin.Certificates{Mode: "acme", Names: []admin.CertName{cert(now.Add(2*24*time.Hour), "")}}, "ok, but it ends on", widget.WarningImportance},
		{"expired", admin.Certificates{Mode: "files", Names: []admin.CertName{cert(now.Add(-time.Hour), "")}}, "the certificate for home.test has expired", widget.DangerImportance},
		{"none", admin.Certificates{Mode: "acme"}, "no certificate for home.test yet", widget.DangerImportance},
		{"another failed", admin.Certificates{Mode: "acme", Names: []admin.CertName{cert(now.Add(60*24*time.Hour), ""),
			{Name: "upload.home.test", LastError: "no DNS record"}}}, "could not get a certificate for upload.home.test", widget.WarningImportance},
		{"unknown", admin.Certificates{}, "unknown", widget.MediumImportance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, importance := certHealth(admin.Info{Domain: "home.test", Certificates: tc.certs}, now)
			if !strings.HasPrefix(text, tc.prefix) || importance != tc.importance {
				t.Errorf("%q (%v), want %q… (%v)", text, importance, tc.prefix, tc.importance)
			}
		})
	}
}

func TestLoginHealth(t *testing.T) {
	for _, tc := range []struct {
		stats admin.LoginStats
		want  string
	}{
		{admin.LoginStats{}, "ok, none failed since the start"},
		{admin.LoginStats{Failed: 3}, "ok, 3 failed since the start"},
		{admin.LoginStats{Failed: 12, ThrottledAddresses: 1}, "1 address must wait after too many wrong passwords (12 failed since the start)"},
		{admin.LoginStats{Failed: 40, ThrottledAddresses: 4}, "4 addresses must wait after too many wrong passwords (40 failed since the start)"},
	} {
		if got, _ := loginHealth(tc.stats); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.stats, got, tc.want)
		}
	}
}
