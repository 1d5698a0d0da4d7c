package server_test

import (
	"context"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/internal/xmpptest"
)

// TestIdlePing: a silent client is pinged (XEP-0199); answering, or any
// traffic including whitespace keepalives, keeps it; silence after the
// ping ends the stream with connection-timeout.
func TestIdlePing(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.IdleTimeout = 300 * time.Millisecond })
	srv.AddUser(t, "alice", "alice-secret-pw")
	alice := srv.Login(t, "alice", "alice-secret-pw", "phone")
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
	srv.AddUser(t, "alice", "alice-secret-pw")
	srv.AddUser(t, "bob", "bob-secret-pw")
	alice := srv.Login(t, "alice", "alice-secret-pw", "phone")
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

	bob := srv.Login(t, "bob", "bob-secret-pw", "pc")
	if err := srv.Admin.SetDisabled(ctx, "bob@hearth.test", true); err != nil {
		t.Fatal(err)
	}
	if got := bob.StreamEnd(); got != "not-authorized" {
		t.Fatalf("disabled stream end = %q", got)
	}
	if _, err := srv.Dial("bob", "bob-secret-pw", "pc"); err == nil {
		t.Fatal("disabled account logged in")
	}
}
