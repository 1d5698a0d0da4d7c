package pie

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// prosodyFile is what Prosody 0.12's migrator writes for an account
// (mod_storage_xep0227), with an offline message and PEP added as
// XEP-0227 has them.
const prosodyFile = `<server-data xmlns='urn:xmpp:pie:0'><host jid='hearth.test'><user name='juliet'>` +
	`<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><server-key>40PodMC/Tga6QVApam979NvEsPE=</server-key>` +
	`<stored-key>7a19c2ha4+lfTEdOHzD1nm+XdO4=</stored-key><iter-count>10000</iter-count><salt>MGQ2OWUxZDMtOWRiNy00YTE2LWEzMjEtN2MzZTA5MWYxMmZi</salt></scram-credentials>` +
	`<query xmlns='jabber:iq:roster' version='7'><item name='Friar Laurence' jid='friar@verona.test' subscription='none'><group>Church</group></item>` +
	`<item name='Romeo Montague' jid='romeo@hearth.test' subscription='both' ask='subscribe'><group>Verona</group><group>Montagues</group></item></query>` +
	`<presence type='subscribe' from='nurse@hearth.test'/>` +
	`<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard>` +
	`<query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><color>rose</color></prefs></query>` +
	`<offline-messages><message xmlns='jabber:client' from='romeo@hearth.test/garden' to='juliet@hearth.test' type='chat'><body>wherefore</body></message></offline-messages>` +
	`<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:avatar:metadata'><item id='abc'><metadata xmlns='urn:xmpp:avatar:metadata'/></item></items></pubsub>` +
	`<archive xmlns='urn:xmpp:pie:0#mam'/>` +
	`</user></host></server-data>`

func TestParseProsody(t *testing.T) {
	d, err := Parse(strings.NewReader("\ufeff<?xml version='1.0' encoding='utf-8'?>\n" + prosodyFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Hosts) != 1 || d.Hosts[0].JID != "hearth.test" || len(d.Hosts[0].Users) != 1 {
		t.Fatalf("hosts: %+v", d.Hosts)
	}
	u := d.Hosts[0].Users[0]
	if u.Name != "juliet" || len(u.SCRAM) != 1 || u.SCRAM[0].Mechanism != SHA1 || u.SCRAM[0].Iters != 10000 ||
		len(u.SCRAM[0].StoredKey) != 20 || string(u.SCRAM[0].Salt) != "0d69e1d3-9db7-4a16-a321-7c3e091f12fb" {
		t.Errorf("keys: %+v", u.SCRAM)
	}
	if len(u.Roster) != 2 || u.Roster[1].Name != "Romeo Montague" || u.Roster[1].Subscription != "both" || !u.Roster[1].Ask ||
		strings.Join(u.Roster[1].Groups, ",") != "Verona,Montagues" {
		t.Errorf("roster: %+v", u.Roster)
	}
	if len(u.Pending) != 1 || u.Pending[0].From != "nurse@hearth.test" {
		t.Errorf("pending: %+v", u.Pending)
	}
	if u.VCard == nil || u.VCard.ChildText("FN", "vcard-temp") != "Juliet Capulet" {
		t.Errorf("vcard: %v", u.VCard)
	}
	if len(u.Private) != 1 || u.Private[0].NS != "urn:example:prefs" {
		t.Errorf("private: %v", u.Private)
	}
	if len(u.Offline) != 1 || u.Offline[0].ChildText("body", "jabber:client") != "wherefore" {
		t.Errorf("offline: %v", u.Offline)
	}
	if len(u.PEP) != 1 || u.PEP[0].Name != "urn:xmpp:avatar:metadata" || len(u.PEP[0].Items) != 1 {
		t.Errorf("pep: %+v", u.PEP)
	}
	if len(u.Skipped) != 1 || !strings.Contains(u.Skipped[0], "archive") {
		t.Errorf("skipped: %q", u.Skipped)
	}
}

// TestWriteRead: what Write writes, Parse reads back the same.
func TestWriteRead(t *testing.T) {
	d, err := Parse(strings.NewReader(prosodyFile))
	if err != nil {
		t.Fatal(err)
	}
	u := &d.Hosts[0].Users[0]
	u.SCRAM = append(u.SCRAM, SCRAM{Mechanism: SHA256, Iters: 4096, Salt: []byte("salt"), StoredKey: bytes.Repeat([]byte{1}, 32), ServerKey: bytes.Repeat([]byte{2}, 32)})
	u.PEP[0].Config = map[string]string{"pubsub#access_model": "presence", "pubsub#max_items": "1"}
	u.Password = "never-written-pw"
	u.Skipped = nil
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "never-written") {
		t.Fatalf("a password was written:\n%s", b.String())
	}
	d2, err := Parse(&b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	u2 := d2.Hosts[0].Users[0]
	if len(u2.SCRAM) != 2 || u2.SCRAM[1].Iters != 4096 || !bytes.Equal(u2.SCRAM[0].StoredKey, u.SCRAM[0].StoredKey) {
		t.Errorf("keys: %+v", u2.SCRAM)
	}
	if len(u2.Roster) != 2 || len(u2.Pending) != 1 || u2.VCard == nil || len(u2.Private) != 1 || len(u2.Offline) != 1 {
		t.Errorf("read back: %+v", u2)
	}
	if len(u2.PEP) != 1 || u2.PEP[0].Config["pubsub#max_items"] != "1" || len(u2.PEP[0].Items) != 1 ||
		u2.PEP[0].Items[0].Payload.String() != u.PEP[0].Items[0].Payload.String() {
		t.Errorf("pep: %+v", u2.PEP)
	}
	if u2.Offline[0].String() != u.Offline[0].String() || u2.VCard.String() != u.VCard.String() {
		t.Errorf("payloads changed:\n%s\n%s", u2.Offline[0], u2.VCard)
	}
}

// TestParseRefuses: files that do not check are refused with a message
// that says where and what.
func TestParseRefuses(t *testing.T) {
	user := func(inner string) string {
		return `<server-data xmlns='urn:xmpp:pie:0'><host jid='hearth.test'><user name='juliet'>` + inner + `</user></host></server-data>`
	}
	keys := `<scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>4096</iter-count><salt>c2FsdA==</salt>` +
		`<stored-key>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</stored-key><server-key>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</server-key></scram-credentials>`
	for _, tc := range []struct{ name, file, want string }{
		{"not xml", "hello", "not XML"},
		{"empty", "", "empty"},
		{"other root", `<stream xmlns='x'/>`, "not a XEP-0227 file"},
		{"no host", `<server-data xmlns='urn:xmpp:pie:0'/>`, "names no host"},
		{"bad host", `<server-data xmlns='urn:xmpp:pie:0'><host jid='a@b'/></server-data>`, "not a domain"},
		{"bad name", `<server-data xmlns='urn:xmpp:pie:0'><host jid='h.test'><user name='a b'/></host></server-data>`, "not a valid user name"},
		{"no keys", user(``), "no SCRAM-SHA-1 or SCRAM-SHA-256 keys and no password"},
		{"short key", user(strings.Replace(keys, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA", 1)), "has 3 bytes, not 20"},
		{"iterations", user(strings.Replace(keys, "4096", "0", 1)), "iteration count"},
		{"two key sets", user(keys + keys), "two sets"},
		{"bad contact", user(keys + `<query xmlns='jabber:iq:roster'><item jid='@@'/></query>`), "is not an address"},
		{"bad subscription", user(keys + `<query xmlns='jabber:iq:roster'><item jid='a@b.test' subscription='maybe'/></query>`), "subscription"},
		{"contact twice", user(keys + `<query xmlns='jabber:iq:roster'><item jid='a@b.test'/><item jid='A@b.test'/></query>`), "listed twice"},
		{"two vcards", user(keys + `<vCard xmlns='vcard-temp'/><vCard xmlns='vcard-temp'/>`), "two vCards"},
		{"not a message", user(keys + `<offline-messages><iq xmlns='jabber:client'/></offline-messages>`), "is not a message"},
		{"latin-1", "<?xml version='1.0' encoding='ISO-8859-1'?><server-data xmlns='urn:xmpp:pie:0'/>", "UTF-8"},
		{"comment", user(keys + `<!-- x -->`), "not XML"},
		{"doctype", `<!DOCTYPE x [<!ENTITY a "aaaa">]><server-data xmlns='urn:xmpp:pie:0'/>`, "not XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestParseTooBig(t *testing.T) {
	_, err := Parse(strings.NewReader(strings.Repeat(" ", MaxFileBytes+1)))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v", err)
	}
}

// FuzzParse: no input makes Parse panic or hang, and whatever it accepts
// Write writes and Parse reads back with the same accounts.
func FuzzParse(f *testing.F) {
	f.Add(prosodyFile)
	f.Add(`<server-data xmlns='urn:xmpp:pie:0'><host jid='h.test'><user name='a' password='pw'/></host></server-data>`)
	f.Add(`<server-data xmlns='urn:xmpp:pie:0'><host jid='h.test'><user name='a' password='pw'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'><x xmlns='jabber:x:data'><field var='pubsub#max_items'><value>max</value></field></x></configure></pubsub></user></host></server-data>`)
	f.Add(`<server-data xmlns='urn:xmpp:pie:0'><host jid='h.test'><user name='a' password='pw'><query xmlns='jabber:iq:roster'><item jid='b@h.test' subscription='remove'/></query></user></host></server-data>`)
	f.Add("<?xml version='1.0'?><server-data xmlns='urn:xmpp:pie:0'>")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Write(&b, d); err != nil {
			t.Fatal(err)
		}
		d2, err := Parse(&b)
		if err != nil {
			// Accounts with only a password are written without it
			// (never written): then they have no keys.
			for _, h := range d.Hosts {
				for _, u := range h.Users {
					if len(u.SCRAM) == 0 {
						return
					}
				}
			}
			t.Fatalf("written file does not read back: %v\n%s", err, b.String())
		}
		if len(d2.Hosts) != len(d.Hosts) {
			t.Fatalf("hosts %d, read back %d", len(d.Hosts), len(d2.Hosts))
		}
		for i := range d.Hosts {
			if len(d2.Hosts[i].Users) != len(d.Hosts[i].Users) {
				t.Fatalf("host %s: users %d, read back %d", d.Hosts[i].JID, len(d.Hosts[i].Users), len(d2.Hosts[i].Users))
			}
			for j, u := range d.Hosts[i].Users {
				u2 := d2.Hosts[i].Users[j]
				if u2.Name != u.Name || len(u2.Roster) != len(u.Roster) || len(u2.SCRAM) != len(u.SCRAM) || len(u2.Offline) != len(u.Offline) {
					t.Fatalf("user %s changed: %+v\n%+v", u.Name, u, u2)
				}
			}
		}
	})
}

// TestParseFileIncludes: an export split into files (XInclude, as
// ejabberd writes them and XEP-0227 5 lays them out) reads as one; an
// include may not leave the export's folder.
func TestParseFileIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	main := write("main.xml", `<?xml version='1.0' encoding='UTF-8'?><server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='h.test.xml'/></server-data>`)
	write("h.test.xml", `<host xmlns='http://www.xmpp.org/extensions/xep-0227.html#ns' xmlns:xi='http://www.w3.org/2001/XInclude' jid='h.test'>`+
		`<user name='ann' password='maple-syrup-pw'/><xi:include href='h.test/bob.xml'/></host>`)
	write("h.test/bob.xml", `<user xmlns='http://www.xmpp.org/extensions/xep-0227.html#ns' name='bob' password='maple-syrup-pw'><vCard xmlns='vcard-temp'/></user>`)
	d, err := ParseFile(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Hosts) != 1 || len(d.Hosts[0].Users) != 2 || d.Hosts[0].Users[1].Name != "bob" || d.Hosts[0].Users[1].VCard == nil {
		t.Errorf("parsed %+v", d)
	}
	if _, err := Parse(strings.NewReader(`<server-data xmlns='urn:xmpp:pie:0'><include xmlns='http://www.w3.org/2001/XInclude' href='x.xml'/></server-data>`)); err == nil || !strings.Contains(err.Error(), "by its path") {
		t.Errorf("include in a stream: %v", err)
	}
	if _, err := ParseFile(filepath.Join(dir, "h.test.xml")); err == nil || !strings.Contains(err.Error(), "import the main file") {
		t.Errorf("a host file alone: %v", err)
	}
	for _, href := range []string{"../outside.xml", "/etc/passwd", "http://example.org/x.xml", "h.test/../../outside.xml"} {
		p := write("bad.xml", `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='`+href+`'/></server-data>`)
		if _, err := ParseFile(p); err == nil || !strings.Contains(err.Error(), "include") {
			t.Errorf("include of %s: %v", href, err)
		}
	}
	outside := filepath.Join(t.TempDir(), "outside.xml")
	if err := os.WriteFile(outside, []byte(`<host xmlns='urn:xmpp:pie:0' jid='h.test'/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.xml")); err != nil {
		t.Fatal(err)
	}
	p := write("viaLink.xml", `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='link.xml'/></server-data>`)
	if _, err := ParseFile(p); err == nil || !strings.Contains(err.Error(), "outside the folder") {
		t.Errorf("include through a symbolic link out of the folder: %v", err)
	}
	loop := write("loop.xml", `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='loop.xml'/></server-data>`)
	if _, err := ParseFile(loop); err == nil || !strings.Contains(err.Error(), "deep") {
		t.Errorf("a file that includes itself: %v", err)
	}
}

// TestParseEjabberdKeys: ejabberd 23.01 exports its keys and salt, which
// it keeps as base64 text, base64-encoded once more; they are read as the
// keys and salt they stand for.
func TestParseEjabberdKeys(t *testing.T) {
	const f = `<server-data xmlns='urn:xmpp:pie:0'><host jid='hearth.test'><user name='juliet'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'>` +
		`<iter-count>4096</iter-count><salt>NHVtZjFmTElrNTBRZWFsbm4zMUdPUT09</salt><server-key>Nm5lK2gxalVEVjVPbG0rVERlSU9TNkxydzQwPQ==</server-key>` +
		`<stored-key>SFlJUkJ6TkViNjh5R04wVXpibDZYWjNQb1IwPQ==</stored-key></scram-credentials></user></host></server-data>`
	d, err := Parse(strings.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	s := d.Hosts[0].Users[0].SCRAM[0]
	salt, _ := base64.StdEncoding.DecodeString("4umf1fLIk50Qealnn31GOQ==")
	if len(s.StoredKey) != 20 || len(s.ServerKey) != 20 || !bytes.Equal(s.Salt, salt) {
		t.Errorf("keys %x %x, salt %x", s.StoredKey, s.ServerKey, s.Salt)
	}
}
