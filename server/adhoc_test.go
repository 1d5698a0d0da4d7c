package server_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"hearth/server/admin"
	"hearth/server/settings"
	"hearth/server/xmpptest"
)

const nsCommands = "http://jabber.org/protocol/commands"

// runCommand sends a command step and returns the answer.
func runCommand(c *xmpptest.Client, id, node, sid, action, form string) {
	attrs := ` node='` + node + `'`
	if sid != "" {
		attrs += ` sessionid='` + sid + `'`
	}
	if action != "" {
		attrs += ` action='` + action + `'`
	}
	c.Send(`<iq type='set' id='` + id + `' to='hearth.test'><command xmlns='` + nsCommands + `'` + attrs + `>` + form + `</command></iq>`)
}

func submit(fields ...[2]string) string {
	var b strings.Builder
	b.WriteString(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field>`)
	for _, f := range fields {
		b.WriteString(`<field var='` + f[0] + `'>`)
		for _, v := range strings.Split(f[1], "\n") {
			b.WriteString(`<value>` + v + `</value>`)
		}
		b.WriteString(`</field>`)
	}
	b.WriteString(`</x>`)
	return b.String()
}

// TestAdhocAdmin: ad-hoc commands (XEP-0050) with service administration
// (XEP-0133). A non-admin sees no commands and gets forbidden; once
// admin.jids names alice (set on the running server), she lists them,
// counts and lists who is online, adds an account, changes its password,
// sends an announcement, sets the message of the day (a new login gets
// it) and deletes the account; sessions are checked.
func TestAdhocAdmin(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "carol", secret("carol"))
	alice := online(t, srv, "alice", "pc", 0)
	carol := online(t, srv, "carol", "pc", 0)
	addUser := "http://jabber.org/protocol/admin#add-user"

	t.Run("not an admin", func(t *testing.T) {
		alice.Send(`<iq type='get' id='i1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCommands + `'/></iq>`)
		// XEP-0401's Invite user is every account's.
		alice.Expect(`<iq type='result' id='i1' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCommands + `'><item jid='hearth.test' name='Invite user' node='urn:xmpp:invite#invite'/></query></iq>`)
		runCommand(alice, "f1", addUser, "", "execute", "")
		alice.Expect(`<iq type='error' id='f1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' action='execute'/><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only the server's administrators may run this command (setting admin.jids)</text></error></iq>`)
	})

	if _, err := srv.Admin.SetSetting(ctx, settings.KeyAdmins, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}

	t.Run("listed", func(t *testing.T) {
		alice.Send(`<iq type='get' id='i2' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCommands + `'/></iq>`)
		res := alice.Expect(`<iq type='result' id='i2' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCommands + `'>*</query></iq>`)
		if n := len(res.FirstElement().Elements()); n != 16 {
			t.Fatalf("%d commands listed, want 16 (14 of XEP-0133, 2 of XEP-0401): %v", n, res)
		}
		alice.Send(`<iq type='get' id='i3' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#info' node='` + addUser + `'/></iq>`)
		alice.Expect(`<iq type='result' id='i3' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info' node='` + addUser + `'><identity category='automation' type='command-node' name='Add an account'/><feature var='` + nsCommands + `'/><feature var='jabber:x:data'/></query></iq>`)
		carol.Send(`<iq type='get' id='i4' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#info' node='` + addUser + `'/></iq>`)
		carol.Expect(`<iq type='error' id='i4' from='hearth.test' to='carol@hearth.test/pc'>*</iq>`)
	})

	t.Run("online", func(t *testing.T) {
		runCommand(alice, "o1", "http://jabber.org/protocol/admin#get-online-users-num", "", "", "")
		alice.Expect(`<iq type='result' id='o1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='http://jabber.org/protocol/admin#get-online-users-num' sessionid='*' status='completed'><x xmlns='jabber:x:data' type='result'><title>Number of accounts online</title><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/admin</value></field><field var='onlineusersnum' type='text-single' label='Accounts online'><value>2</value></field></x></command></iq>`)
		runCommand(alice, "o2", "http://jabber.org/protocol/admin#get-online-users-list", "", "", "")
		res := alice.Expect(`<iq type='result' id='o2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='http://jabber.org/protocol/admin#get-online-users-list' sessionid='*' status='executing'>*</command></iq>`)
		sid := res.FirstElement().Attr("sessionid")
		runCommand(alice, "o3", "http://jabber.org/protocol/admin#get-online-users-list", sid, "complete", submit([2]string{"max_items", "none"}))
		alice.Expect(`<iq type='result' id='o3' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='http://jabber.org/protocol/admin#get-online-users-list' sessionid='` + sid + `' status='completed'><x xmlns='jabber:x:data' type='result'><title>Accounts online</title><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/admin</value></field><field var='onlineuserjids' type='jid-multi' label='Accounts online'><value>alice@hearth.test</value><value>carol@hearth.test</value></field></x></command></iq>`)
		// The session is over.
		runCommand(alice, "o4", "http://jabber.org/protocol/admin#get-online-users-list", sid, "complete", submit([2]string{"max_items", "none"}))
		alice.Expect(`<iq type='error' id='o4' from='hearth.test' to='alice@hearth.test/pc'>*</iq>`)
	})

	t.Run("add, change, delete", func(t *testing.T) {
		runCommand(alice, "a1", addUser, "", "execute", "")
		res := alice.Expect(`<iq type='result' id='a1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='*' status='executing'><actions execute='complete'><complete/></actions><x xmlns='jabber:x:data' type='form'>*</x></command></iq>`)
		sid := res.FirstElement().Attr("sessionid")
		// carol cannot take alice's session, nor run the command.
		runCommand(carol, "a2", addUser, sid, "complete", submit([2]string{"accountjid", "dave@hearth.test"}, [2]string{"password", "oak-table-pw"}))
		carol.Expect(`<iq type='error' id='a2' from='hearth.test' to='carol@hearth.test/pc'>*</iq>`)
		runCommand(alice, "a3", addUser, sid, "complete", submit([2]string{"accountjid", "dave@hearth.test"}, [2]string{"password", "oak-table-pw"}, [2]string{"password-verify", "oak-table-pw"}))
		alice.Expect(`<iq type='result' id='a3' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='` + sid + `' status='completed'><note type='info'>dave@hearth.test was added</note></command></iq>`)
		srv.Login(t, "dave", "oak-table-pw", "phone").Close()

		runCommand(alice, "a4", addUser, "", "", submit([2]string{"accountjid", "dave@hearth.test"}, [2]string{"password", "x-pw"}))
		alice.Expect(`<iq type='result' id='a4' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='*' status='completed'><note type='error'>*</note></command></iq>`)
		runCommand(alice, "a5", addUser, "", "", submit([2]string{"accountjid", "eve@elsewhere.example"}, [2]string{"password", "x-pw"}))
		alice.Expect(`<iq type='result' id='a5' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='*' status='completed'><note type='error'>eve@elsewhere.example is not an account of this server (hearth.test)</note></command></iq>`)

		node := "http://jabber.org/protocol/admin#change-user-password"
		runCommand(alice, "c1", node, "", "", submit([2]string{"accountjid", "dave@hearth.test"}, [2]string{"password", "birch-chair-pw"}))
		alice.Expect(`<iq type='result' id='c1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>the password of dave@hearth.test was changed</note></command></iq>`)
		srv.Login(t, "dave", "birch-chair-pw", "phone").Close()

		// A lost phone: its session ended, the account disabled (no
		// login), then enabled again.
		phone := srv.Login(t, "dave", "birch-chair-pw", "phone")
		node = "http://jabber.org/protocol/admin#end-user-session"
		runCommand(alice, "e1", node, "", "", submit([2]string{"accountjids", "dave@hearth.test"}))
		alice.Expect(`<iq type='result' id='e1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>sessions ended: dave@hearth.test (1)</note></command></iq>`)
		phone.StreamEnd()
		tablet := srv.Login(t, "dave", "birch-chair-pw", "tablet")
		runCommand(alice, "e2", node, "", "", submit([2]string{"accountjids", "dave@hearth.test/tablet"}))
		alice.Expect(`<iq type='result' id='e2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>sessions ended: dave@hearth.test/tablet (1)</note></command></iq>`)
		tablet.StreamEnd()
		runCommand(alice, "e3", node, "", "", submit([2]string{"accountjids", "dave@hearth.test/laptop"}))
		alice.Expect(`<iq type='result' id='e3' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='error'>dave@hearth.test/laptop has no session</note></command></iq>`)
		node = "http://jabber.org/protocol/admin#disable-user"
		runCommand(alice, "x1", node, "", "", submit([2]string{"accountjids", "dave@hearth.test"}))
		alice.Expect(`<iq type='result' id='x1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>disabled: dave@hearth.test</note></command></iq>`)
		if _, err := srv.Dial("dave", "birch-chair-pw", "phone"); err == nil {
			t.Fatal("a disabled account logged in")
		}
		node = "http://jabber.org/protocol/admin#reenable-user"
		runCommand(alice, "x2", node, "", "", submit([2]string{"accountjids", "dave@hearth.test"}))
		alice.Expect(`<iq type='result' id='x2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>enabled: dave@hearth.test</note></command></iq>`)
		srv.Login(t, "dave", "birch-chair-pw", "phone").Close()

		node = "http://jabber.org/protocol/admin#delete-user"
		runCommand(alice, "d1", node, "", "", submit([2]string{"accountjids", "dave@hearth.test"}))
		alice.Expect(`<iq type='result' id='d1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>deleted: dave@hearth.test</note></command></iq>`)
		if us, _ := srv.Admin.Users(ctx); len(us) != 2 {
			t.Fatalf("accounts after the delete: %+v", us)
		}
	})

	t.Run("announce and motd", func(t *testing.T) {
		node := "http://jabber.org/protocol/admin#announce"
		runCommand(alice, "n1", node, "", "", submit([2]string{"subject", "Power cut"}, [2]string{"body", "The server stops at 10.\nBack at 11."}))
		alice.Expect(`<iq type='result' id='n1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>the announcement went to 2 devices</note></command></iq>`)
		want := `<message from='hearth.test' to='carol@hearth.test/pc' type='normal'><subject>Power cut</subject><body>The server stops at 10.
Back at 11.</body></message>`
		carol.Expect(want)
		alice.Expect(strings.Replace(want, "carol@hearth.test/pc", "alice@hearth.test/pc", 1))

		node = "http://jabber.org/protocol/admin#set-motd"
		runCommand(alice, "m1", node, "", "", submit([2]string{"body", "Welcome home"}))
		alice.Expect(`<iq type='result' id='m1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'><note type='info'>the message of the day was set</note></command></iq>`)
		c2 := srv.Login(t, "carol", secret("carol"), "tablet")
		c2.Expect(`<message from='hearth.test' to='carol@hearth.test/tablet' type='normal'><subject>Message of the day</subject><body>Welcome home</body></message>`)
		c2.Close()
		runCommand(alice, "m2", "http://jabber.org/protocol/admin#edit-motd", "", "", "")
		alice.Expect(`<iq type='result' id='m2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='http://jabber.org/protocol/admin#edit-motd' sessionid='*' status='executing'><actions execute='complete'><complete/></actions><x xmlns='jabber:x:data' type='form'><title>Message of the day</title><instructions>Every device gets it as it logs in.</instructions><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/admin</value></field><field var='body' type='text-multi' label='Message'><required/><value>Welcome home</value></field></x></command></iq>`)
		runCommand(alice, "m3", "http://jabber.org/protocol/admin#delete-motd", "", "", "")
		alice.Expect(`<iq type='result' id='m3' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='http://jabber.org/protocol/admin#delete-motd' sessionid='*' status='completed'><note type='info'>the message of the day was deleted</note></command></iq>`)
		c3 := srv.Login(t, "carol", secret("carol"), "tablet")
		c3.Quiet(300 * time.Millisecond)
		c3.Close()
	})

	t.Run("bad steps", func(t *testing.T) {
		runCommand(alice, "b1", addUser, "", "jump", "")
		alice.Expect(`<iq type='error' id='b1' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' action='jump'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><malformed-action xmlns='` + nsCommands + `'/></error></iq>`)
		runCommand(alice, "b2", addUser, "nosuchsession", "complete", submit())
		alice.Expect(`<iq type='error' id='b2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='nosuchsession' action='complete'>*</command><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text><bad-sessionid xmlns='` + nsCommands + `'/></error></iq>`)
		runCommand(alice, "b3", "urn:example:nothing", "", "", "")
		alice.Expect(`<iq type='error' id='b3' from='hearth.test' to='alice@hearth.test/pc'>*</iq>`)
		runCommand(alice, "b4", addUser, "", "", "")
		res := alice.Expect(`<iq type='result' id='b4' from='hearth.test' to='alice@hearth.test/pc'>*</iq>`)
		sid := res.FirstElement().Attr("sessionid")
		runCommand(alice, "b5", addUser, sid, "cancel", "")
		alice.Expect(`<iq type='result' id='b5' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + addUser + `' sessionid='` + sid + `' status='canceled'/></iq>`)
		runCommand(alice, "b6", addUser, "", "", `<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>`)
		alice.Expect(`<iq type='error' id='b6' from='hearth.test' to='alice@hearth.test/pc'>*</iq>`)
	})
	alice.Sync()
	carol.Sync()
}

// TestAioxmppAdhoc: aioxmpp's ad-hoc client (Debian's python3-aioxmpp)
// lists the server's commands, reads a command's info, runs a one-step
// and a two-step command and cancels one, as an administrator.
func TestAioxmppAdhoc(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import aioxmpp.adhoc").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/aioxmpp/adhoc")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyAdmins, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/aio_adhoc.py", "--ca", srv.CertFile, host, port, srv.Domain, "alice", "silver-kettle-pw")
}

// TestSlixmppAdhoc: slixmpp's xep_0050 and xep_0133 plugins: an
// administrator lists the commands and the accounts online and adds an
// account, which then logs in; an account that is no administrator sees
// only XEP-0401's Invite user, makes a contact invitation with it, and
// gets forbidden for an administrator's command.
func TestSlixmppAdhoc(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0133").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0133.py")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyAdmins, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_adhoc.py", "--ca", srv.CertFile, host, port, srv.Domain,
		"alice", "silver-kettle-pw", "bob", "copper-lantern-pw", "dave", "oak-table-pw")
}

// TestInviteCommands: XEP-0401's commands. Every account makes contact
// invitations with "Invite user"; an administrator's also let the invitee
// make an account (ibr=y), and only administrators have "Create account",
// whose form keeps a name or makes the invitee their contact.
func TestInviteCommands(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "carol", secret("carol"))
	if _, err := srv.Admin.SetSetting(ctx, settings.KeyAdmins, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	alice := online(t, srv, "alice", "pc", 0)
	carol := online(t, srv, "carol", "pc", 0)
	const invite, create = "urn:xmpp:invite#invite", "urn:xmpp:invite#create-account"
	result := func(c *xmpptest.Client, id, node string) map[string]string {
		t.Helper()
		res := c.Expect(`<iq type='result' id='` + id + `' from='hearth.test' to='` + c.JID + `'><command xmlns='` + nsCommands + `' node='` + node + `' sessionid='*' status='completed'>*</command></iq>`)
		x := res.FirstElement().Child("x", "jabber:x:data")
		if x == nil || x.Attr("type") != "result" {
			t.Fatalf("no result form: %s", res)
		}
		out := map[string]string{}
		for _, f := range x.Elements() {
			if f.Child("value", "jabber:x:data") != nil {
				out[f.Attr("var")] = f.ChildText("value", "jabber:x:data")
			}
		}
		if out["FORM_TYPE"] != "urn:xmpp:invite#invitation" || out["expire"] == "" || !strings.HasPrefix(out["landing-url"], "https://hearth.test:") {
			t.Fatalf("result form %v", out)
		}
		return out
	}
	token := func(uri string) string { return strings.TrimSuffix(strings.SplitN(uri, "preauth=", 2)[1], ";ibr=y") }
	kinds := func() map[string]admin.Invite {
		t.Helper()
		is, err := srv.Admin.Invites(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]admin.Invite{}
		for _, i := range is {
			out[i.Token] = i
		}
		return out
	}

	runCommand(carol, "c1", invite, "", "execute", "")
	f := result(carol, "c1", invite)
	if !strings.HasPrefix(f["uri"], "xmpp:carol@hearth.test?roster;preauth=") || strings.Contains(f["uri"], "ibr=y") {
		t.Fatalf("carol's invitation %s: want a contact invitation", f["uri"])
	}
	if i := kinds()[token(f["uri"])]; i.Kind != admin.InviteContact || i.Inviter != "carol@hearth.test" {
		t.Fatalf("carol's invitation is %+v", i)
	}
	// An account that is no administrator holds at most 20 valid ones.
	for i := 2; i <= 20; i++ {
		runCommand(carol, fmt.Sprintf("m%d", i), invite, "", "execute", "")
		result(carol, fmt.Sprintf("m%d", i), invite)
	}
	runCommand(carol, "m21", invite, "", "execute", "")
	carol.Expect(`<iq type='result' id='m21' from='hearth.test' to='carol@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + invite + `' sessionid='*' status='completed'><note type='error'>you have 20 invitations that are still valid, the most an account may have; wait until some are used or expire, or ask an administrator to cancel some</note></command></iq>`)
	runCommand(carol, "c2", create, "", "execute", "")
	carol.Expect(`<iq type='error' id='c2' from='hearth.test' to='carol@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + create + `' action='execute'/><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only the server's administrators may run this command (setting admin.jids)</text></error></iq>`)

	runCommand(alice, "a1", invite, "", "execute", "")
	f = result(alice, "a1", invite)
	if !strings.HasPrefix(f["uri"], "xmpp:alice@hearth.test?roster;preauth=") || !strings.HasSuffix(f["uri"], ";ibr=y") {
		t.Fatalf("the admin's invitation %s: want an account and contact invitation", f["uri"])
	}

	runCommand(alice, "a2", create, "", "execute", "")
	res := alice.Expect(`<iq type='result' id='a2' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + create + `' sessionid='*' status='executing'>*</command></iq>`)
	sid := res.FirstElement().Attr("sessionid")
	runCommand(alice, "a3", create, sid, "complete", `<x xmlns='jabber:x:data' type='submit'><field var='username'><value>erin</value></field><field var='roster-subscription'><value>0</value></field></x>`)
	f = result(alice, "a3", create)
	if f["uri"] != "xmpp:erin@hearth.test?register;preauth="+token(f["uri"]) {
		t.Fatalf("create-account's URI %s", f["uri"])
	}
	if i := kinds()[token(f["uri"])]; i.Kind != admin.InviteAccount || i.User != "erin@hearth.test" {
		t.Fatalf("create-account made %+v", i)
	}
	runCommand(alice, "a4", create, "", "execute", "")
	res = alice.Expect(`<iq type='result' id='a4' from='hearth.test' to='alice@hearth.test/pc'><command xmlns='` + nsCommands + `' node='` + create + `' sessionid='*' status='executing'>*</command></iq>`)
	runCommand(alice, "a5", create, res.FirstElement().Attr("sessionid"), "complete", `<x xmlns='jabber:x:data' type='submit'><field var='username'><value/></field><field var='roster-subscription'><value>1</value></field></x>`)
	f = result(alice, "a5", create)
	if i := kinds()[token(f["uri"])]; i.Kind != admin.InviteAccountContact || i.Inviter != "alice@hearth.test" {
		t.Fatalf("create-account with roster-subscription made %+v", i)
	}
}
