package server_test

import (
	"context"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// TestIdlePing: a silent client is pinged (XEP-0199); answering, or any
// traffic including whitespace keepalives, keeps it; silence after the
// ping ends the stream with connection-timeout.
func TestIdlePing(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.IdleTimeout = 300 * time.Millisecond })
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	ping := alice.Expect(`<iq type='get' id='*' from='hearth.test' to='alice@hearth.test/phone'><ping xmlns='urn:xmpp:ping'/></iq>`)
	alice.Send(`<iq type='result' id='` + ping.Attr("id") + `' to='hearth.test'/>`)
	// Whitespace keepalives alone keep the stream up past two periods.
	for i := 0; i < 4; i++ {
		time.Sleep(200 * time.Millisecond)
		alice.Send(" ")
	}
	alice.Sync()
	// Now silence: a ping, then the end.
	alice.Expect(`<iq type='get' id='*' from='hearth.test' to='alice@hearth.test/phone'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if got := alice.StreamEnd(); got != "connection-timeout" {
		t.Fatalf("stream end = %q, want connection-timeout", got)
	}
}

// TestAdminLive: the admin API acts on online sessions: roster changes are
// pushed, a kicked session ends, a disabled account is closed.
func TestAdminLive(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	ctx := context.Background()
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='result' id='r' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'/></iq>`)
	if err := srv.Admin.AddRosterItem(ctx, "alice@hearth.test", admin.RosterItem{JID: "bob@hearth.test", Name: "Bob", Groups: []string{"Family"}}); err != nil {
		t.Fatal(err)
	}
	alice.Expect(`<iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' name='Bob' subscription='none'><group>Family</group></item></query></iq>`)
	if err := srv.Admin.RemoveRosterItem(ctx, "alice@hearth.test", "bob@hearth.test"); err != nil {
		t.Fatal(err)
	}
	alice.Expect(`<iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' subscription='remove'/></query></iq>`)
	alice.Sync()

	sessions, err := srv.Admin.Sessions(ctx)
	if err != nil || len(sessions) != 1 || sessions[0].JID != "alice@hearth.test/phone" {
		t.Fatalf("sessions = %+v, %v", sessions, err)
	}
	if err := srv.Admin.Kick(ctx, "alice@hearth.test/phone"); err != nil {
		t.Fatal(err)
	}
	if got := alice.StreamEnd(); got != "policy-violation" {
		t.Fatalf("kicked stream end = %q", got)
	}

	bob := srv.Login(t, "bob", "copper-lantern-pw", "pc")
	if err := srv.Admin.SetDisabled(ctx, "bob@hearth.test", true); err != nil {
		t.Fatal(err)
	}
	if got := bob.StreamEnd(); got != "not-authorized" {
		t.Fatalf("disabled stream end = %q", got)
	}
	if _, err := srv.Dial("bob", "copper-lantern-pw", "pc"); err == nil {
		t.Fatal("disabled account logged in")
	}
}

// TestResourceConflict: binding a resource that is in use replaces the
// old session, which gets <conflict/> (RFC 6120 7.7.2.2); without a
// requested resource the server makes one up.
func TestResourceConflict(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	first := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	second := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	if got := first.StreamEnd(); got != "conflict" {
		t.Fatalf("old session ended with %q, want conflict", got)
	}
	second.Sync()
	generated := srv.Login(t, "alice", "silver-kettle-pw", "")
	if generated.JID == "alice@hearth.test/" || len(generated.JID) <= len("alice@hearth.test/") {
		t.Fatalf("generated JID %q has no resource", generated.JID)
	}
}

// TestDisco: what the server advertises (XEP-0030) is served end to end.
func TestDisco(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	alice.Send(`<iq type='get' id='d1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	res := alice.Expect(`<iq type='result' id='d1' from='hearth.test' to='alice@hearth.test/phone'>*</iq>`)
	features := map[string]bool{}
	for _, f := range res.FirstElement().Elements() {
		if f.Name == "feature" {
			features[f.Attr("var")] = true
		}
	}
	probes := map[string]string{
		"urn:xmpp:ping":                          `<iq type='get' id='p' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>`,
		"jabber:iq:version":                      `<iq type='get' id='p' to='hearth.test'><query xmlns='jabber:iq:version'/></iq>`,
		"urn:xmpp:time":                          `<iq type='get' id='p' to='hearth.test'><time xmlns='urn:xmpp:time'/></iq>`,
		"jabber:iq:last":                         `<iq type='get' id='p' to='hearth.test'><query xmlns='jabber:iq:last'/></iq>`,
		"vcard-temp":                             `<iq type='get' id='p'><vCard xmlns='vcard-temp'/></iq>`,
		"jabber:iq:private":                      `<iq type='get' id='p'><query xmlns='jabber:iq:private'><prefs xmlns='urn:example:prefs'/></query></iq>`,
		"urn:xmpp:blocking":                      `<iq type='get' id='p'><blocklist xmlns='urn:xmpp:blocking'/></iq>`,
		"jabber:iq:register":                     `<iq type='get' id='p'><query xmlns='jabber:iq:register'/></iq>`,
		"http://jabber.org/protocol/disco#items": `<iq type='get' id='p' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
	}
	for ns, probe := range probes {
		if !features[ns] {
			t.Errorf("feature %s not advertised", ns)
			continue
		}
		alice.Send(probe)
		alice.Expect(`<iq type='result' id='p' from='*' to='alice@hearth.test/phone'>*</iq>`)
	}
	for _, ns := range []string{"urn:xmpp:features:rosterver", "urn:xmpp:features:pre-approval", "msgoffline"} {
		if !features[ns] {
			t.Errorf("feature %s not advertised", ns)
		}
	}
	alice.Sync()
}
