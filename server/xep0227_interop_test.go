package server_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/internal/testdns"
	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// Accounts of the "moving in" tests; no password holds its user's name.
var movers = map[string]string{
	"juliet": "balcony-rose-pw9",
	"romeo":  "dagger-vial-pw7",
	"nurse":  "herb-garden-pw3",
}

// porter serves h's admin API on its socket, as a running server does,
// and returns a client of it: the commands hearth export and hearth
// import go this way.
func porter(t *testing.T, h *xmpptest.Server) admin.Porter {
	t.Helper()
	ln, err := admin.Listen(h.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { admin.Serve(ctx, ln, h.Admin); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	api, err := admin.Dial(h.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.(interface{ Close() error }).Close() })
	return api.(admin.Porter)
}

// runMigrator runs Prosody's prosody-migrator with the stores named for
// domain from input to output, Lua tables of its configuration. Its
// xep0227 storage reads and writes a file per account in its compiled-in
// data folder: a copy of it runs with xep0227Dir there instead, as root
// (--root: the test's folders are root's).
func runMigrator(t *testing.T, domain, xep0227Dir, input, output string, stores ...string) {
	t.Helper()
	src, err := os.ReadFile(migratorPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	re := regexp.MustCompile(`(?m)^CFG_DATADIR=.*$`)
	if !re.Match(src) {
		t.Fatalf("%s has no CFG_DATADIR line: another Prosody version?", migratorPath)
	}
	script := filepath.Join(dir, "migrator.lua")
	if err := os.WriteFile(script, re.ReplaceAll(src, []byte(fmt.Sprintf("CFG_DATADIR=%q;", xep0227Dir))), 0o700); err != nil {
		t.Fatal(err)
	}
	hosts := fmt.Sprintf(`hosts = { [%q] = { "%s" } }`, domain, strings.Join(stores, `", "`))
	cfg := fmt.Sprintf("input { %s; %s }\noutput { %s; %s }\n", input, hosts, output, hosts)
	cfgFile := filepath.Join(dir, "migrator.cfg.lua")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "/usr/bin/lua5.4", script, "--root", "--config", cfgFile, "input", "output").CombinedOutput()
	t.Logf("prosody-migrator:\n%s", b)
	if err != nil {
		t.Fatalf("prosody-migrator: %v", err)
	}
}

const migratorPath = "/usr/bin/prosody-migrator"

// TestXEP0227FromProsody: accounts made on a real Prosody 0.12, with
// contacts (subscriptions both ways, names, groups, a request not yet
// answered), a vCard, private XML and a PEP nickname, are written to
// XEP-0227 by
// Prosody's own migrator, imported into Hearth through the admin socket,
// and log in to Hearth with their old passwords, finding their rosters and
// vCards. Prosody keeps SCRAM-SHA-1 keys only: SCRAM-SHA-1 works with
// them; SCRAM-SHA-256 is refused for such an account until one login with
// PLAIN (slixmpp's choice here) adds the SCRAM-SHA-256 keys.
func TestXEP0227FromProsody(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	need(t, "/usr/lib/python3/dist-packages/slixmpp")
	need(t, migratorPath)
	need(t, "/usr/bin/lua5.4")
	const domain = "hearth.test"
	const wait = 15 * time.Second
	dns := testdns.Start(t)
	cert, key := xmpptest.SelfSigned(t, domain)
	p := xmpptest.StartProsody(t, xmpptest.PeerConfig{Domain: domain, CertFile: cert, KeyFile: key, DNS: dns.Addr(),
		Users: movers, Modules: []string{"vcard", "private", "pep"}})

	juliet := p.Login(t, "juliet", movers["juliet"], "balcony")
	romeo := p.Login(t, "romeo", movers["romeo"], "garden")
	nurse := p.Login(t, "nurse", movers["nurse"], "kitchen")
	for _, c := range []*xmpptest.Client{juliet, romeo, nurse} {
		c.Online(wait)
	}
	xmpptest.SubscribeBoth(juliet, "juliet@hearth.test/balcony", romeo, "romeo@hearth.test/garden", wait)
	juliet.Send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='romeo@hearth.test' name='Romeo Montague'><group>Montagues</group><group>Verona</group></item></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r1'/>`, wait)
	juliet.Send(`<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='friar@verona.test' name='Friar Laurence'><group>Church</group></item></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r2'/>`, wait)
	juliet.Send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>Jules</NICKNAME></vCard></iq>`)
	juliet.ExpectLike(`<iq type='result' id='v1'/>`, wait)
	juliet.Send(`<iq type='set' id='p1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><color>rose</color></prefs></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='p1'/>`, wait)
	juliet.Send(`<iq type='set' id='n1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'>` +
		`<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></publish></pubsub></iq>`)
	juliet.ExpectLike(`<iq type='result' id='n1'>*</iq>`, wait)
	nurse.Send(`<presence to='juliet@hearth.test' type='subscribe'/>`)
	juliet.ExpectLike(`<presence from='nurse@hearth.test' type='subscribe'/>`, wait)
	for _, c := range []*xmpptest.Client{juliet, romeo, nurse} {
		c.Close()
	}

	out := filepath.Join(t.TempDir(), "xep0227")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	runMigrator(t, domain, out, fmt.Sprintf(`type = "internal"; path = %q`, p.Dir), `type = "xep0227"`,
		"accounts", "roster", "vcard", "private", "pep-pubsub")
	b, err := os.ReadFile(filepath.Join(out, "juliet@hearth.test.xml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("juliet@hearth.test.xml as Prosody wrote it:\n%s", b)

	h := xmpptest.StartAt(t, domain)
	port := porter(t, h)
	ctx := context.Background()
	rep, err := port.Import(ctx, out, admin.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(rep.Accounts) != 3 {
		t.Fatalf("imported %d accounts, want 3: %+v", len(rep.Accounts), rep)
	}
	for _, a := range rep.Accounts {
		t.Logf("imported %+v", a)
		if !strings.HasPrefix(a.Keys, "SCRAM-SHA-1 only") {
			t.Errorf("%s: keys %q, want SCRAM-SHA-1 only (Prosody 0.12 keeps SHA-1)", a.JID, a.Keys)
		}
	}
	// Importing again is refused: the accounts exist now.
	if _, err := port.Import(ctx, out, admin.ImportOptions{}); err == nil || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("second import: %v, want a refusal", err)
	}

	// juliet logs in with SCRAM-SHA-1 and the keys Prosody made: the
	// password never reached Hearth.
	c, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "juliet", movers["juliet"], "sha1")
	if err != nil {
		t.Fatalf("SCRAM-SHA-1 login with Prosody's keys: %v", err)
	}
	c.Send(`<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>`)
	c.ExpectLike(`<iq type='result' id='v'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>Jules</NICKNAME></vCard></iq>`, wait)
	c.Send(`<iq type='get' id='n'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>`)
	c.ExpectLike(`<iq type='result' id='n'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'>`+
		`<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></items></pubsub></iq>`, wait)
	c.Close()
	// SCRAM-SHA-256 has no keys yet: refused like a wrong password, and
	// not counted against the account.
	if _, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-256", "juliet", movers["juliet"], "sha256"); err == nil {
		t.Fatal("SCRAM-SHA-256 login of an account with SHA-1 keys only succeeded")
	}
	if u, err := h.DB.User(ctx, "juliet"); err != nil || u.SHA256.Iters != 0 {
		t.Fatalf("juliet before any PLAIN login: SHA-256 iterations %d, %v", u.SHA256.Iters, err)
	}

	// slixmpp tries its SCRAM mechanisms (which it cannot complete with
	// Hearth's tls-exporter channel binding), then PLAIN under TLS, which
	// checks the password against the SHA-1 keys and adds SHA-256 ones.
	host, portNo := splitAddr(t, h.Addr)
	runPeer(t, py, "xmpptest/interop/slix_moved.py", "--ca", h.CertFile, host, portNo, domain,
		"juliet", movers["juliet"], "--fn", "Juliet Capulet",
		"--contact", "romeo@hearth.test|Romeo Montague|both|Montagues,Verona",
		"--contact", "friar@verona.test|Friar Laurence|none|Church")
	runPeer(t, py, "xmpptest/interop/slix_moved.py", "--ca", h.CertFile, host, portNo, domain,
		"romeo", movers["romeo"], "--contact", "juliet@hearth.test||both|")
	// The request nurse sent is waiting for juliet.
	if ps, err := h.DB.PendingFor(ctx, "juliet"); err != nil || len(ps) != 1 || ps[0].Contact != "nurse@hearth.test" {
		t.Errorf("juliet's pending requests: %+v, %v; want one from nurse@hearth.test", ps, err)
	}
	if x, err := h.DB.Private(ctx, "juliet", "prefs urn:example:prefs"); err != nil || !strings.Contains(string(x), "rose") {
		t.Errorf("juliet's private XML: %s, %v", x, err)
	}
	u, err := h.DB.User(ctx, "juliet")
	if err != nil || u.SHA256.Iters == 0 {
		t.Fatalf("juliet after a PLAIN login: SHA-256 iterations %d, %v", u.SHA256.Iters, err)
	}
	// SCRAM-SHA-256 works from then on, and so does SCRAM-SHA-1.
	c = h.Login(t, "juliet", movers["juliet"], "go")
	c.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	c.ExpectLike(`<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='*'>`+
		`<item jid='friar@verona.test' name='Friar Laurence' subscription='none'><group>Church</group></item>`+
		`<item jid='romeo@hearth.test' name='Romeo Montague' subscription='both'><group>Montagues</group><group>Verona</group></item>`+
		`</query></iq>`, wait)
	if _, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "juliet", movers["juliet"], "sha1-again"); err != nil {
		t.Errorf("SCRAM-SHA-1 after the keys were completed: %v", err)
	}
}

// TestXEP0227ToProsody: the other way: accounts exported from Hearth, a
// file per account, go into a real Prosody 0.12 through its migrator and
// log in there with their passwords (SCRAM-SHA-1, Hearth's keys), finding
// their rosters and vCards.
func TestXEP0227ToProsody(t *testing.T) {
	need(t, migratorPath)
	need(t, "/usr/bin/lua5.4")
	const domain = "hearth.test"
	const wait = 15 * time.Second
	h := xmpptest.StartAt(t, domain)
	for _, u := range []string{"juliet", "romeo"} {
		h.AddUser(t, u, movers[u])
	}
	juliet := h.Login(t, "juliet", movers["juliet"], "balcony")
	romeo := h.Login(t, "romeo", movers["romeo"], "garden")
	juliet.Online(wait)
	romeo.Online(wait)
	xmpptest.SubscribeBoth(juliet, "juliet@hearth.test/balcony", romeo, "romeo@hearth.test/garden", wait)
	juliet.Send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='romeo@hearth.test' name='Romeo Montague'><group>Montagues</group></item></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r1'/>`, wait)
	juliet.Send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>`)
	juliet.ExpectLike(`<iq type='result' id='v1'/>`, wait)
	juliet.Close()
	romeo.Close()
	out := t.TempDir()
	if _, err := porter(t, h).Export(context.Background(), out, nil); err != nil {
		t.Fatal(err)
	}

	dns := testdns.Start(t)
	cert, key := xmpptest.SelfSigned(t, domain)
	p := xmpptest.StartProsody(t, xmpptest.PeerConfig{Domain: domain, CertFile: cert, KeyFile: key, DNS: dns.Addr(), Modules: []string{"vcard"}})
	runMigrator(t, domain, out, `type = "xep0227"`, fmt.Sprintf(`type = "internal"; path = %q`, p.Dir),
		"accounts", "roster", "vcard", "private")

	c := p.Login(t, "juliet", movers["juliet"], "phone")
	c.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	c.ExpectLike(`<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='*'>`+
		`<item jid='romeo@hearth.test' name='Romeo Montague' subscription='both'><group>Montagues</group></item></query></iq>`, wait)
	c.Send(`<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>`)
	c.ExpectLike(`<iq type='result' id='v'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>`, wait)
	p.Login(t, "romeo", movers["romeo"], "phone")
}

// TestXEP0227FromEjabberd: accounts on a real ejabberd 23.01, with
// contacts and an offline message, exported by its export_piefxis (a
// main file that includes a file per host, XInclude), come into Hearth:
// SCRAM-SHA-1 with ejabberd's keys, the roster, the message.
func TestXEP0227FromEjabberd(t *testing.T) {
	const domain = "hearth.test"
	const wait = 15 * time.Second
	dns := testdns.Start(t)
	cert, key := xmpptest.SelfSigned(t, domain)
	p := xmpptest.StartEjabberd(t, xmpptest.PeerConfig{Domain: domain, CertFile: cert, KeyFile: key, DNS: dns.Addr(),
		Users: map[string]string{"juliet": movers["juliet"], "romeo": movers["romeo"]}})
	juliet := p.Login(t, "juliet", movers["juliet"], "balcony")
	romeo := p.Login(t, "romeo", movers["romeo"], "garden")
	juliet.Online(wait)
	romeo.Online(wait)
	xmpptest.SubscribeBoth(juliet, "juliet@hearth.test/balcony", romeo, "romeo@hearth.test/garden", wait)
	juliet.Send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='romeo@hearth.test' name='Romeo Montague'><group>Montagues</group></item></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r1'/>`, wait)
	romeo.Close()
	juliet.ExpectLike(`<presence from='romeo@hearth.test/garden' type='unavailable'/>`, wait)
	juliet.Send(`<message to='romeo@hearth.test' type='chat' id='m1'><body>wherefore art thou</body></message>`)
	// A round trip after it: the message went through ejabberd's routing.
	juliet.Send(`<iq to='hearth.test' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	juliet.ExpectLike(`<iq from='hearth.test' type='result' id='p1'/>`, wait)
	juliet.Close()

	// ejabberdctl runs as the ejabberd user: it writes into a folder of
	// its own in the peer's.
	eu, err := user.Lookup("ejabberd")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(eu.Uid)
	gid, _ := strconv.Atoi(eu.Gid)
	var main string
	for attempt := 0; main == "" && attempt < 50; attempt++ {
		dir := filepath.Join(p.Dir, "export"+strconv.Itoa(attempt))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		if out, err := p.Ctl("export_piefxis", dir); err != nil {
			t.Fatalf("ejabberdctl export_piefxis: %v\n%s", err, out)
		}
		ents, _ := os.ReadDir(dir)
		var all []string
		top := ""
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			all = append(all, e.Name()+":\n"+string(b))
			if strings.Contains(string(b), "<server-data") {
				top = filepath.Join(dir, e.Name())
			}
		}
		if strings.Contains(strings.Join(all, ""), "wherefore") {
			main = top
			t.Logf("ejabberd's export:\n%s", strings.Join(all, "\n"))
		}
		if main == "" {
			time.Sleep(100 * time.Millisecond) // the offline message is still being stored
		}
	}
	if main == "" {
		t.Fatal("ejabberd's export has no main file with the offline message")
	}

	h := xmpptest.StartAt(t, domain)
	rep, err := porter(t, h).Import(context.Background(), main, admin.ImportOptions{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, a := range rep.Accounts {
		t.Logf("imported %+v", a)
	}
	c, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "juliet", movers["juliet"], "sha1")
	if err != nil {
		t.Fatalf("SCRAM-SHA-1 login with ejabberd's keys: %v", err)
	}
	c.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	c.ExpectLike(`<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='*'>`+
		`<item jid='romeo@hearth.test' name='Romeo Montague' subscription='both'><group>Montagues</group></item></query></iq>`, wait)
	r, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "romeo", movers["romeo"], "garden")
	if err != nil {
		t.Fatalf("romeo: %v", err)
	}
	r.Send(`<presence/>`)
	r.ExpectLike(`<message from='juliet@hearth.test/balcony' type='chat' id='m1'>*</message>`, wait)
}
