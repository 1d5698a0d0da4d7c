package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
	"hearth/storage"
)

// TestXEP0227RoundTrip: accounts with contacts, a vCard, private XML, a
// PEP node, an offline message and a request not yet answered are
// exported from one Hearth and imported into a fresh one, where they log
// in with their passwords (SCRAM-SHA-256 and SCRAM-SHA-1) and find it all;
// exported again, the file is the same.
func TestXEP0227RoundTrip(t *testing.T) {
	const wait = 10 * time.Second
	ctx := context.Background()
	a := xmpptest.Start(t)
	for u, pw := range movers {
		a.AddUser(t, u, pw)
	}
	juliet := a.Login(t, "juliet", movers["juliet"], "balcony")
	romeo := a.Login(t, "romeo", movers["romeo"], "garden")
	juliet.Online(wait)
	romeo.Online(wait)
	xmpptest.SubscribeBoth(juliet, "juliet@hearth.test/balcony", romeo, "romeo@hearth.test/garden", wait)
	juliet.Send(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='romeo@hearth.test' name='Romeo Montague'><group>Montagues</group></item></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r1'/>`, wait)
	juliet.Send(`<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>`)
	juliet.ExpectLike(`<iq type='result' id='v1'/>`, wait)
	juliet.Send(`<iq type='set' id='p1'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><color>rose</color></prefs></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='p1'/>`, wait)
	juliet.Send(`<iq type='set' id='n1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='http://jabber.org/protocol/nick'>` +
		`<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></publish></pubsub></iq>`)
	juliet.ExpectLike(`<iq type='result' id='n1'>*</iq>`, wait)
	romeo.Close()
	a.WaitOffline(t, "romeo", 0)
	juliet.Send(`<message to='romeo@hearth.test' type='chat' id='m1'><body>wherefore art thou</body></message>`)
	a.WaitOffline(t, "romeo", 1)
	juliet.Close()
	nurse := a.Login(t, "nurse", movers["nurse"], "kitchen")
	nurse.Send(`<presence to='juliet@hearth.test' type='subscribe'/>`)
	nurse.Close()
	waitMoved(t, "the request reaches juliet's account", func() bool {
		ps, _ := a.DB.PendingFor(ctx, "juliet")
		return len(ps) == 1
	})

	file := filepath.Join(t.TempDir(), "accounts.xml")
	pa := porter(t, a)
	info, err := pa.Export(ctx, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Accounts) != 3 {
		t.Fatalf("exported %+v", info)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file: %v, %v (it holds login keys: 0600)", fi.Mode(), err)
	}
	exported, _ := os.ReadFile(file)
	if _, err := pa.Export(ctx, file, nil); err == nil {
		t.Error("an export overwrote an existing file")
	}

	b := xmpptest.Start(t)
	pb := porter(t, b)
	rep, err := pb.Import(ctx, file, admin.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, acc := range rep.Accounts {
		if acc.Keys != "SCRAM-SHA-1 and SCRAM-SHA-256" {
			t.Errorf("%s: keys %q", acc.JID, acc.Keys)
		}
	}

	romeo = b.Login(t, "romeo", movers["romeo"], "garden")
	romeo.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	romeo.ExpectLike(`<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='*'><item jid='juliet@hearth.test' subscription='both'/></query></iq>`, wait)
	romeo.Send(`<presence/>`)
	romeo.ExpectLike(`<message from='juliet@hearth.test/balcony' type='chat' id='m1'><body>wherefore art thou</body>*</message>`, wait)

	juliet, err = xmpptest.LoginWith(t, b.Endpoint(), "SCRAM-SHA-1", "juliet", movers["juliet"], "balcony")
	if err != nil {
		t.Fatalf("SCRAM-SHA-1 after the move: %v", err)
	}
	juliet.Send(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	juliet.ExpectLike(`<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='*'>`+
		`<item jid='romeo@hearth.test' name='Romeo Montague' subscription='both'><group>Montagues</group></item></query></iq>`, wait)
	juliet.Send(`<iq type='get' id='v'><vCard xmlns='vcard-temp'/></iq>`)
	juliet.ExpectLike(`<iq type='result' id='v'><vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN></vCard></iq>`, wait)
	juliet.Send(`<iq type='get' id='p'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`)
	juliet.ExpectLike(`<iq type='result' id='p'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'><color>rose</color></prefs></query></iq>`, wait)
	juliet.Send(`<iq type='get' id='n'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'/></pubsub></iq>`)
	juliet.ExpectLike(`<iq type='result' id='n'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='http://jabber.org/protocol/nick'>`+
		`<item id='current'><nick xmlns='http://jabber.org/protocol/nick'>Jules</nick></item></items></pubsub></iq>`, wait)
	juliet.Send(`<presence/>`)
	juliet.ExpectLike(`<presence from='nurse@hearth.test' to='juliet@hearth.test' type='subscribe'/>`, wait)
	b.Login(t, "nurse", movers["nurse"], "kitchen")

	again := filepath.Join(t.TempDir(), "again.xml")
	if _, err := pb.Export(ctx, again, nil); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(again)
	// The offline message was delivered meanwhile: compare without it.
	if !bytes.Equal(withoutOffline(t, exported), withoutOffline(t, second)) {
		t.Errorf("exported again, the file differs:\n%s\n---\n%s", exported, second)
	}
	if strings.Contains(string(exported), movers["juliet"]) {
		t.Error("the export holds a password")
	}

	// Imported again with --replace while juliet is online: she is
	// logged out, and logs in again to the replaced account.
	if _, err := pb.Import(ctx, file, admin.ImportOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	juliet.StreamEnd() // fails the test if her session outlives the replacement of her account
	b.Login(t, "juliet", movers["juliet"], "again")
}

// withoutOffline cuts the offline messages out of an export.
func withoutOffline(t *testing.T, b []byte) []byte {
	t.Helper()
	s := string(b)
	for {
		i := strings.Index(s, "<offline-messages>")
		if i < 0 {
			return []byte(s)
		}
		j := strings.Index(s[i:], "</offline-messages>")
		if j < 0 {
			t.Fatalf("unclosed offline-messages in %s", s)
		}
		s = s[:i] + s[i+j+len("</offline-messages>"):]
	}
}

func waitMoved(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestXEP0227SHA1OnlyNotCounted: SCRAM-SHA-256 attempts at an account
// imported with SCRAM-SHA-1 keys only fail, with the right password too,
// but the login guard does not count them: the client that then falls
// back to SCRAM-SHA-1 gets in. Wrong passwords, counted, would have made
// the address wait.
func TestXEP0227SHA1OnlyNotCounted(t *testing.T) {
	h := xmpptest.Start(t, func(c *server.Config) { c.AuthFailures = 2 })
	var users strings.Builder
	for _, u := range []string{"juliet", "nurse"} {
		c1, _, err := storage.NewCredentials(movers[u])
		if err != nil {
			t.Fatal(err)
		}
		b64 := base64.StdEncoding.EncodeToString
		users.WriteString(`<user name='` + u + `'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'>` +
			`<iter-count>` + strconv.Itoa(c1.Iters) + `</iter-count><salt>` + b64(c1.Salt) + `</salt>` +
			`<server-key>` + b64(c1.ServerKey) + `</server-key><stored-key>` + b64(c1.StoredKey) + `</stored-key></scram-credentials></user>`)
	}
	file := filepath.Join(t.TempDir(), "sha1.xml")
	if err := os.WriteFile(file, []byte(`<server-data xmlns='urn:xmpp:pie:0'><host jid='hearth.test'>`+users.String()+`</host></server-data>`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Admin.(admin.Porter).Import(context.Background(), file, admin.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-256", "juliet", movers["juliet"], "x"); err == nil || !strings.Contains(err.Error(), "not-authorized") {
			t.Fatalf("SCRAM-SHA-256 without keys: %v, want not-authorized", err)
		}
	}
	if _, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "juliet", movers["juliet"], "x"); err != nil {
		t.Errorf("SCRAM-SHA-1 after SCRAM-SHA-256 attempts: %v", err)
	}
	// The control: wrong passwords count, and the address must wait.
	for range 3 {
		xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "nurse", "wrong-guess-pw", "x")
	}
	if _, err := xmpptest.LoginWith(t, h.Endpoint(), "SCRAM-SHA-1", "nurse", movers["nurse"], "x"); err == nil || !strings.Contains(err.Error(), "temporary-auth-failure") {
		t.Errorf("after wrong passwords: %v, want temporary-auth-failure", err)
	}
}
