package admin

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hearth/server/internal/pie"
)

// A file from another server's domain, old.example: one account with a
// password (as old exports carry), one with SCRAM-SHA-1 keys.
const oldFile = `<?xml version='1.0' encoding='UTF-8'?>
<server-data xmlns='urn:xmpp:pie:0'><host jid='old.example'>
<user name='ann' password='maple-syrup-pw'>
 <query xmlns='jabber:iq:roster'><item jid='bob@old.example' name='Bob' subscription='both'><group>Home</group></item>
  <item jid='carol@elsewhere.example' subscription='to'/><item jid='bob@test.home' subscription='none'/></query>
 <presence xmlns='jabber:client' from='dave@old.example' to='ann@old.example' type='subscribe'><status>hi</status></presence>
</user>
<user name='bob'>
 <scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>4096</iter-count><salt>c2FsdHNhbHQ=</salt>
  <server-key>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</server-key><stored-key>AAAAAAAAAAAAAAAAAAAAAAAAAAA=</stored-key></scram-credentials>
 <scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-512'><iter-count>4096</iter-count></scram-credentials>
</user>
</host></server-data>
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestImport: accounts of another domain move to this one with their
// contacts on it; a password becomes keys and is not kept; a second
// import is refused whole unless --replace; a dry run changes nothing.
func TestImport(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := context.Background()
		p := api.(Porter)
		file := writeTemp(t, "old.xml", oldFile)

		rep, err := p.Import(ctx, file, ImportOptions{DryRun: true})
		if err != nil || !rep.DryRun || len(rep.Accounts) != 2 {
			t.Fatalf("dry run: %+v, %v", rep, err)
		}
		if us, _ := l.DB.Users(ctx); len(us) != 0 {
			t.Fatalf("a dry run made accounts: %v", us)
		}
		rep, err = p.Import(ctx, file, ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.From != "old.example" || rep.Accounts[0].JID != "ann@"+domain || rep.Accounts[0].Keys != "SCRAM-SHA-1 and SCRAM-SHA-256" ||
			!strings.HasPrefix(rep.Accounts[1].Keys, "SCRAM-SHA-1 only") || len(rep.Accounts[1].Skipped) != 1 {
			t.Errorf("report: %+v", rep)
		}
		if len(rep.Accounts[0].Skipped) != 1 || !strings.Contains(rep.Accounts[0].Skipped[0], "bob@"+domain+" a second time") {
			t.Errorf("ann's report: %q", rep.Accounts[0].Skipped)
		}
		ann, err := l.DB.User(ctx, "ann")
		if err != nil || !ann.SHA256.Verify("maple-syrup-pw", sha256.New) || !ann.SHA1.Verify("maple-syrup-pw", sha1.New) {
			t.Errorf("ann's keys do not take her password: %v", err)
		}
		items, _, _ := l.DB.Roster(ctx, "ann")
		if len(items) != 2 || items[0].Contact != "bob@"+domain || items[0].Name != "Bob" || items[1].Contact != "carol@elsewhere.example" {
			t.Errorf("ann's roster: %+v", items)
		}
		ps, _ := l.DB.PendingFor(ctx, "ann")
		if len(ps) != 1 || ps[0].Contact != "dave@"+domain || !strings.Contains(string(ps[0].Stanza), "<status>hi</status>") ||
			!strings.Contains(string(ps[0].Stanza), `to="ann@`+domain+`"`) {
			t.Errorf("ann's pending: %+v %s", ps, ps[0].Stanza)
		}

		_, err = p.Import(ctx, file, ImportOptions{})
		checkErr(t, "import again", err, ErrExists)
		if err == nil || !strings.Contains(err.Error(), "ann@"+domain+", bob@"+domain) || !strings.Contains(err.Error(), "nothing was imported") {
			t.Errorf("import again: %v", err)
		}
		if _, err := p.Import(ctx, file, ImportOptions{Replace: true}); err != nil {
			t.Errorf("import with replace: %v", err)
		}
	})
}

// TestImportRefuses: a file that does not check imports nothing, and the
// message names the file and the account.
func TestImportRefuses(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	bad := strings.Replace(oldFile, "<iter-count>4096</iter-count><salt>", "<iter-count>many</iter-count><salt>", 1)
	file := writeTemp(t, "bad.xml", bad)
	_, err := l.Import(ctx, file, ImportOptions{})
	checkErr(t, "bad file", err, ErrInvalid)
	if err == nil || !strings.Contains(err.Error(), "bad.xml") || !strings.Contains(err.Error(), "bob@old.example") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("bad file: %v", err)
	}
	if us, _ := l.DB.Users(ctx); len(us) != 0 {
		t.Errorf("a bad file made accounts: %v", us)
	}
	_, err = l.Import(ctx, "relative.xml", ImportOptions{})
	checkErr(t, "relative path", err, ErrInvalid)
	_, err = l.Import(ctx, writeTemp(t, "good.xml", oldFile), ImportOptions{Host: "third.example"})
	if err == nil || !strings.Contains(err.Error(), "no accounts of third.example") {
		t.Errorf("unknown host: %v", err)
	}
	two := writeTemp(t, "two.xml", strings.Replace(oldFile, "</host></server-data>", "</host><host jid='new.example'><user name='x' password='a'/></host></server-data>", 1))
	_, err = l.Import(ctx, two, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "--host") {
		t.Errorf("two hosts: %v", err)
	}
	rep, err := l.Import(ctx, two, ImportOptions{Host: "new.example"})
	if err != nil || len(rep.Accounts) != 1 || rep.Accounts[0].JID != "x@"+domain || strings.Join(rep.OtherHosts, ",") != "old.example" {
		t.Errorf("one of two hosts: %+v, %v", rep, err)
	}
}

// TestImportFolder: Prosody's migrator writes one file per account; a
// folder of them imports as one.
func TestImportFolder(t *testing.T) {
	l := newLocal(t)
	dir := t.TempDir()
	for _, u := range []string{"ann", "bob"} {
		f := `<server-data xmlns='urn:xmpp:pie:0'><host jid='` + domain + `'><user name='` + u + `' password='maple-syrup-pw'/></host></server-data>`
		if err := os.WriteFile(filepath.Join(dir, u+"@"+domain+".xml"), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := l.Import(context.Background(), dir, ImportOptions{})
	if err != nil || len(rep.Accounts) != 2 {
		t.Fatalf("%+v, %v", rep, err)
	}
	_, err = l.Import(context.Background(), t.TempDir(), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "no .xml files") {
		t.Errorf("empty folder: %v", err)
	}
}

// TestExport: an export names the accounts asked for, is not written over
// an existing file, and refuses accounts that do not exist.
func TestExport(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := context.Background()
		for _, u := range []string{"ann", "bob"} {
			if err := l.AddUser(ctx, u, "maple-syrup-pw"); err != nil {
				t.Fatal(err)
			}
		}
		p := api.(Porter)
		file := filepath.Join(t.TempDir(), "out.xml")
		info, err := p.Export(ctx, file, []string{"bob"})
		if err != nil || len(info.Accounts) != 1 || info.Accounts[0].JID != "bob@"+domain {
			t.Fatalf("%+v, %v", info, err)
		}
		b, _ := os.ReadFile(file)
		if !strings.Contains(string(b), "<user name=\"bob\">") || strings.Contains(string(b), "ann") {
			t.Errorf("export:\n%s", b)
		}
		_, err = p.Export(ctx, file, nil)
		checkErr(t, "export over a file", err, ErrExists)
		_, err = p.Export(ctx, filepath.Join(t.TempDir(), "x.xml"), []string{"nobody"})
		checkErr(t, "export of no account", err, ErrNotFound)
		if errors.Is(err, ErrExists) {
			t.Error("wrong kind")
		}
		// A folder gets a file per account, as Prosody's migrator has them.
		dir := t.TempDir()
		if info, err := p.Export(ctx, dir, nil); err != nil || len(info.Accounts) != 2 {
			t.Fatalf("export to a folder: %+v, %v", info, err)
		}
		for _, u := range []string{"ann", "bob"} {
			if b, err := os.ReadFile(filepath.Join(dir, u+"@"+domain+".xml")); err != nil || !strings.Contains(string(b), `<user name="`+u+`">`) {
				t.Errorf("%s's file: %s, %v", u, b, err)
			}
		}
		_, err = p.Export(ctx, dir, nil)
		checkErr(t, "export into the folder again", err, ErrExists)
	})
}

// TestPEPConfigNarrows: an access model Hearth does not have (roster
// groups, authorize, anything else) comes in as whitelist, the owner
// only, never as a wider one; the ones it has come in as they are.
func TestPEPConfigNarrows(t *testing.T) {
	for v, want := range map[string]string{"open": "open", "presence": "presence", "whitelist": "whitelist",
		"roster": "whitelist", "authorize": "whitelist", "someday": "whitelist"} {
		c, notes := pepConfig(pie.Node{Name: "n", Config: map[string]string{"pubsub#access_model": v}})
		if c.Access != want {
			t.Errorf("access_model %s came in as %s, want %s", v, c.Access, want)
		}
		if (want != v) != (len(notes) == 1) {
			t.Errorf("access_model %s: notes %q", v, notes)
		}
	}
}
