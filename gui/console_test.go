package gui

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/server/admin"

	"fyne.io/fyne/v2/test"
	"mellium.im/sasl"
	"mellium.im/xmpp"
	mjid "mellium.im/xmpp/jid"
)

// device is a family device signed in with mellium's client; it writes raw
// XML on its stream (nothing else writes there: its session is not served).
type device struct {
	t    *testing.T
	jid  string
	sess *xmpp.Session
}

func signIn(t *testing.T, api interface{}, jid, password string) *device {
	t.Helper()
	v, ok := servers.Load(api)
	if !ok {
		t.Fatal("signIn: not a test server")
	}
	ts := v.(*testServer)
	origin := mjid.MustParse(jid)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(&tls.Config{ServerName: testDomain, RootCAs: ts.roots}),
		xmpp.SASL("", password, sasl.ScramSha256),
		xmpp.BindResource())
	if err != nil {
		conn.Close()
		t.Fatalf("sign in %s: %v", jid, err)
	}
	t.Cleanup(func() { sess.Close(); conn.Close() })
	return &device{t: t, jid: sess.LocalAddr().String(), sess: sess}
}

func (d *device) send(xml string) {
	d.t.Helper()
	if _, err := d.sess.Conn().Write([]byte(xml)); err != nil {
		d.t.Fatalf("%s sends: %v", d.jid, err)
	}
}

// TestConsoleTab: the XML console shows a live session's stanzas in both
// directions, pretty-printed and marked, filters and pauses, and never
// shows the password of an in-band password change (XEP-0077 3.3) or
// the one the device logged in with.
func TestConsoleTab(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "silver-kettle-pw")
	h.addUser("bob", "copper-lantern-pw")
	alice := signIn(t, h.api, "alice@"+h.domain, "silver-kettle-pw")
	bob := signIn(t, h.api, "bob@"+h.domain, "copper-lantern-pw")
	c := h.ui.console

	h.showTab("XML console")
	if !c.watch.Disabled() {
		t.Error("Watch is enabled with no session picked")
	}
	h.waitFor("alice's session in the list", func() bool {
		for _, o := range c.pick.Options {
			if o == alice.jid {
				return true
			}
		}
		return false
	})
	c.pick.SetSelected(alice.jid)
	h.tap("Watch")
	h.waitFor("the watch to begin", func() bool { return strings.HasPrefix(c.status.Text, "Watching "+alice.jid) })

	const newPassword = "amber-orchard-pw"
	alice.send(`<message to='` + bob.jid + `' id='m1' type='chat'><body>hello from the phone</body></message>`)
	bob.send(`<message to='` + alice.jid + `' id='m2' type='chat'><body>hello back</body></message>`)
	alice.send(`<iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>alice</username><password>` + newPassword + `</password></query></iq>`)
	view := func() string { return c.view.Text() }
	h.waitFor("the stanzas in the console", func() bool {
		v := view()
		return strings.Contains(v, "hello from the phone") && strings.Contains(v, "hello back") && strings.Contains(v, `id='pw'`) &&
			strings.Count(v, "<iq") >= 2
	})
	v := view()
	for _, want := range []string{
		"◀ IN   from the device",
		"▶ OUT  to the device",
		"<message to='" + bob.jid + "' id='m1' type='chat'>\n  <body>hello from the phone</body>\n</message>",
		"<body>hello back</body>",
		"  <query xmlns='jabber:iq:register'>\n    <username>alice</username>\n    <password>[redacted]</password>\n  </query>",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("console lacks %q; it shows:\n%s", want, v)
		}
	}
	for _, secret := range []string{newPassword, "silver-kettle-pw"} {
		if strings.Contains(v, secret) {
			t.Errorf("console shows the password %q", secret)
		}
	}

	test.Type(c.filter, "hello back")
	if v := view(); !strings.Contains(v, "hello back") || strings.Contains(v, "hello from the phone") {
		t.Errorf("filtered on \"hello back\", the console shows:\n%s", v)
	}
	c.filter.SetText("")

	h.tap("Pause")
	alice.send(`<message to='` + bob.jid + `' id='m3' type='chat'><body>while paused</body></message>`)
	h.waitFor("the paused count", func() bool { return strings.HasPrefix(c.status.Text, "Paused: 1 stanza came") })
	if strings.Contains(view(), "while paused") {
		t.Error("a paused console shows a new stanza")
	}
	h.tap("Resume")
	if !strings.Contains(view(), "while paused") {
		t.Error("the stanza that came while paused is not shown after Resume")
	}

	h.tap("Stop")
	if !strings.HasPrefix(c.status.Text, "Stopped watching") || c.watch.Text != "Watch" {
		t.Errorf("after Stop: status %q, button %q", c.status.Text, c.watch.Text)
	}
}

// TestConsoleSessionEnds: a session has one watcher at a time, and the
// window says when another took over; a watched session that ends says
// so.
func TestConsoleSessionEnds(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "silver-kettle-pw")
	alice := signIn(t, h.api, "alice@"+h.domain, "silver-kettle-pw")
	c := h.ui.console
	h.showTab("XML console")
	h.waitFor("alice's session in the list", func() bool { return len(c.pick.Options) == 1 })
	c.pick.SetSelected(alice.jid)
	h.tap("Watch")
	h.waitFor("the watch to begin", func() bool { return strings.HasPrefix(c.status.Text, "Watching ") })

	// Another console takes the session over: the window says so.
	other, err := h.api.Console(h.ctx(), alice.jid)
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("the watch taken over", func() bool { return strings.HasSuffix(c.status.Text, "another window is watching it now.") })
	h.tap("Watch")
	h.waitFor("the watch to begin again", func() bool { return strings.HasPrefix(c.status.Text, "Watching ") })
	if _, ok := <-other; ok {
		t.Error("the other console's watch goes on after the window took the session back")
	}

	if err := h.api.Kick(h.ctx(), alice.jid); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the end of the session", func() bool { return c.status.Text == "The session of "+alice.jid+" ended." })
	if v := c.view.Text(); !strings.Contains(v, "policy-violation") || !strings.Contains(v, "</stream:stream>") {
		t.Errorf("the console does not show the stream's end:\n%s", v)
	}
}

// TestLogTab: the Log tab shows a login and a failed login with the
// address, and its level filter hides what is below the level chosen.
func TestLogTab(t *testing.T) {
	h := newHarness(t)
	h.addUser("alice", "silver-kettle-pw")
	h.showTab("Log")
	if _, err := login(t, h.api, "alice@"+h.domain, "wrong-guess-pw"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, err := login(t, h.api, "alice@"+h.domain, "silver-kettle-pw"); err != nil {
		t.Fatal(err)
	}
	l := h.ui.logs
	h.waitFor("the logins in the log", func() bool {
		v := l.view.Text()
		return strings.Contains(v, "login failed  addr=127.0.0.1  account=alice") &&
			strings.Contains(v, "login succeeded  account=alice  addr=127.0.0.1  mechanism=SCRAM-SHA-256  tls=STARTTLS") &&
			strings.Contains(v, "session began  jid=alice@"+h.domain+"/")
	})
	lines := strings.Split(l.view.Text(), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "session began") && !strings.Contains(last, "presence") {
		t.Logf("newest line: %s", last)
	}
	if i, j := indexOf(lines, "login failed"), indexOf(lines, "login succeeded"); i < 0 || j < i {
		t.Errorf("the failed login (line %d) is not above the later login (line %d): oldest first, newest at the bottom", i, j)
	}
	for _, secret := range []string{"silver-kettle-pw", "wrong-guess-pw"} {
		if strings.Contains(l.view.Text(), secret) {
			t.Errorf("the log shows a password")
		}
	}

	l.level.SetSelected("Warnings and errors")
	if v := l.view.Text(); strings.Contains(v, "login succeeded") {
		t.Errorf("Warnings and errors shows an info record:\n%s", v)
	}
	l.level.SetSelected("Info and up")
	if !strings.Contains(l.view.Text(), "login succeeded") {
		t.Error("Info and up does not show the login")
	}
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// TestPrettyXML: elements are indented, short text stays on its line,
// and what is not whole XML is shown as it came.
func TestPrettyXML(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<message to='a@b'><body>hi &amp; bye</body><x xmlns='y'/></message>`,
			"<message to='a@b'>\n  <body>hi &amp; bye</body>\n  <x xmlns='y'/>\n</message>"},
		{`<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
			"<stream:error>\n  <conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\n</stream:error>"},
		{`<iq><query> [cut]`, `<iq><query> [cut]`},
	} {
		if got := prettyXML(tc.in); got != tc.want {
			t.Errorf("prettyXML(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func FuzzPrettyXML(f *testing.F) {
	f.Add(`<message to='a@b'><body>hi</body></message>`)
	f.Add(`</stream:stream>`)
	f.Add(`<iq><password>[redacted]</password></iq>`)
	f.Fuzz(func(t *testing.T, s string) {
		// Never panics, and never loses the redaction marker.
		out := prettyXML(s)
		if strings.Contains(s, "[redacted]") && !strings.Contains(out, "[redacted]") {
			t.Fatalf("prettyXML(%q) = %q lost [redacted]", s, out)
		}
	})
}

// quietUI is a window without a server: what the UI hands to its
// goroutine waits in the returned queue until the test runs it.
func quietUI(t *testing.T) (*UI, func()) {
	t.Helper()
	var queue []func()
	u := newUI(test.NewTempApp(t), nil, func(f func()) { queue = append(queue, f) })
	run := func() {
		for len(queue) > 0 {
			f := queue[0]
			queue = queue[1:]
			f()
		}
	}
	return u, run
}

func selectTab(t *testing.T, u *UI, name string) {
	t.Helper()
	for _, item := range u.tabs.Items {
		if item.Text == name {
			u.tabs.Select(item)
			return
		}
	}
	t.Fatalf("no tab %q", name)
}

// TestConsoleBehind: when the UI goroutine falls behind, the frames
// waiting for it are capped and what was cut is counted in the view; each
// frame is laid out once, when it arrives; a tab out of sight is not
// redrawn, and catches up when it is shown.
func TestConsoleBehind(t *testing.T) {
	u, run := quietUI(t)
	c := u.console
	selectTab(t, u, "XML console")
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	const sent = 3*consoleFrames + 7
	for i := range sent {
		c.add(admin.ConsoleFrame{At: at, Dir: admin.DirIn, XML: fmt.Sprintf(`<message id='%d'/>`, i)})
	}
	waiting := c.incoming.waiting()
	if waiting > consoleFrames {
		t.Errorf("%d frames wait for the UI goroutine, want at most %d", waiting, consoleFrames)
	}
	run()
	v := c.view.Text()
	var cut int
	if _, err := fmt.Sscanf(v, "… %d stanzas not shown: the window fell behind", &cut); err != nil {
		t.Fatalf("the view does not begin with what was cut: %.200q", v)
	}
	if shown := strings.Count(v, "<message id="); cut+shown != sent || !strings.Contains(v, fmt.Sprintf("<message id='%d'/>", sent-1)) {
		t.Errorf("%d cut and %d shown of %d sent, the newest last: %.200q", cut, shown, sent, v)
	}
	if c.frames[0].text == "" || !strings.Contains(c.frames[0].text, "◀ IN   from the device") {
		t.Errorf("a kept frame is not laid out: %+v", c.frames[0])
	}

	// Out of sight: frames are kept, the view is not redrawn.
	selectTab(t, u, "Log")
	c.add(admin.ConsoleFrame{At: at, Dir: admin.DirOut, XML: `<message id='later'/>`})
	run()
	if strings.Contains(c.view.Text(), "later") {
		t.Error("the console redrew while another tab was shown")
	}
	selectTab(t, u, "XML console")
	if !strings.Contains(c.view.Text(), "<message id='later'/>") {
		t.Error("the console did not catch up when shown")
	}
	u.hidden = true
	c.add(admin.ConsoleFrame{At: at, Dir: admin.DirOut, XML: `<message id='hidden'/>`})
	run()
	if strings.Contains(c.view.Text(), "hidden") {
		t.Error("the console redrew while the window was hidden")
	}
	u.showWindow()
	if !strings.Contains(c.view.Text(), "<message id='hidden'/>") {
		t.Error("the console did not catch up when the window was shown")
	}
}

// TestLogBehind: the Log tab caps the records waiting for the UI
// goroutine and counts what was cut; it is redrawn only in sight.
func TestLogBehind(t *testing.T) {
	u, run := quietUI(t)
	l := u.logs
	selectTab(t, u, "Log")
	const sent = 2*logRecords + 5
	for i := range sent {
		l.post([]admin.LogRecord{{Seq: uint64(i + 1), Time: time.Now(), Level: "INFO", Message: fmt.Sprintf("record %d", i+1)}})
	}
	waiting := l.incoming.waiting()
	if waiting > logRecords {
		t.Errorf("%d records wait for the UI goroutine, want at most %d", waiting, logRecords)
	}
	run()
	v := l.view.Text()
	var cut int
	if _, err := fmt.Sscanf(v, "… %d records not shown: the window fell behind", &cut); err != nil {
		t.Fatalf("the view does not begin with what was cut: %.200q", v)
	}
	if shown := strings.Count(v, "INFO "); cut+shown != sent || !strings.HasSuffix(v, fmt.Sprintf("record %d", sent)) {
		t.Errorf("%d cut and %d shown of %d sent, the newest last", cut, shown, sent)
	}

	selectTab(t, u, "XML console")
	l.post([]admin.LogRecord{{Seq: sent + 1, Time: time.Now(), Level: "INFO", Message: "while away"}})
	run()
	if strings.Contains(l.view.Text(), "while away") {
		t.Error("the log redrew while another tab was shown")
	}
	selectTab(t, u, "Log")
	if !strings.Contains(l.view.Text(), "while away") {
		t.Error("the log did not catch up when shown")
	}
}
