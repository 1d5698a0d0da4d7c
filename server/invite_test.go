package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"hearth/server/admin"
	"hearth/server/xmpptest"
	"hearth/storage"
)

// rosterOf returns user's roster as the admin sees it, by contact.
func rosterByJID(t *testing.T, srv *xmpptest.Server, user string) map[string]admin.RosterItem {
	t.Helper()
	items, err := srv.Admin.Roster(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]admin.RosterItem{}
	for _, it := range items {
		m[it.JID] = it
	}
	return m
}

// TestInviteRegisterSlixmpp: slixmpp registers an account with an
// account+contact invitation (XEP-0445, its XEP-0077 plugin and a
// <preauth/> IQ), logs in with it and finds the inviter in its roster
// with subscription both; a registration without a token, one with an
// expired token and one with the used-up token are refused.
func TestInviteRegisterSlixmpp(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0077").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0077")
	}
	ctx := context.Background()
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	inv, err := srv.Admin.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteAccountContact, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "xmpp:alice@hearth.test?roster;preauth=" + inv.Token + ";ibr=y"; inv.URI != want {
		t.Errorf("URI %s, want %s", inv.URI, want)
	}
	// An invitation that ran out a minute ago.
	expired := "expired-token-0123456789"
	if err := srv.DB.CreateInvite(ctx, storage.Invite{Token: expired, Kind: storage.InviteAccount,
		Created: time.Now().Add(-time.Hour), Expires: time.Now().Add(-time.Minute), MaxUses: 5}); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/slix_invite.py", "--timeout", "50", "--ca", srv.CertFile, host, port, srv.Domain,
		inv.Token, expired, "bob", "copper-lantern-pw", "alice")

	if it := rosterByJID(t, srv, "alice")["bob@hearth.test"]; it.Subscription != "both" {
		t.Errorf("alice's roster item for bob: %+v, want subscription both", it)
	}
	for _, name := range []string{"mallory", "trudy", "victor"} {
		if ok, _ := srv.DB.UserExists(ctx, name); ok {
			t.Errorf("%s was registered without a usable invitation", name)
		}
	}
	is, err := srv.Admin.Invites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range is {
		if i.Token == inv.Token && (i.Uses != 1 || i.State != "used up") {
			t.Errorf("invitation after use: %+v", i)
		}
	}
}

// TestInviteRegister: XEP-0445 on a raw stream: the stream features offer
// registration with tokens; without a token the form comes but a
// registration is refused; a bad token gets item-not-found; with a good
// one the account is made (the use is spent only then: a name taken
// spends nothing) and logs in; a reset invitation sets a new password and ends the account's sessions.
func TestInviteRegister(t *testing.T) {
	ctx := context.Background()
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	inv, err := srv.Admin.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteAccount})
	if err != nil {
		t.Fatal(err)
	}
	c, features := srv.Guest(t, "guest")
	f := features.String()
	for _, want := range []string{`<register xmlns="urn:xmpp:ibr-token:0"/>`, `<register xmlns="http://jabber.org/features/iq-register"/>`} {
		if !strings.Contains(f, want) {
			t.Errorf("features lack %s: %s", want, f)
		}
	}
	xmpptest.Play(t, map[string]*xmpptest.Client{"guest": c}, `
guest sends: <iq type='get' id='r1'><query xmlns='jabber:iq:register'/></iq>
guest receives: <iq type='result' id='r1' from='hearth.test'><query xmlns='jabber:iq:register'><instructions>*</instructions><username/><password/></query></iq>
guest sends: <iq type='set' id='r2'><query xmlns='jabber:iq:register'><username>mallory</username><password>copper-lantern-pw</password></query></iq>
guest receives: <iq type='error' id='r2' from='hearth.test'><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
guest sends: <iq type='get' id='p0' to='hearth.test'><preauth xmlns='urn:xmpp:pars:0' token='AAAAAAAAAAAAAAAAAAAAAAAA'/></iq>
guest receives: <iq type='error' id='p0' from='hearth.test'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
guest sends: <iq type='set' id='p1' to='hearth.test'><preauth xmlns='urn:xmpp:pars:0' token='AAAAAAAAAAAAAAAAAAAAAAAA'/></iq>
guest receives: <iq type='error' id='p1' from='hearth.test'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
guest sends: <iq type='set' id='p2' to='hearth.test'><preauth xmlns='urn:xmpp:pars:0' token='`+inv.Token+`'/></iq>
guest receives: <iq type='result' id='p2' from='hearth.test'/>
guest sends: <iq type='set' id='r3'><query xmlns='jabber:iq:register'><username>alice</username><password>copper-lantern-pw</password></query></iq>
guest receives: <iq type='error' id='r3' from='hearth.test'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
guest sends: <iq type='set' id='r4'><query xmlns='jabber:iq:register'><username>carol</username><password>copper-lantern-pw</password></query></iq>
guest receives: <iq type='result' id='r4' from='hearth.test'/>
guest sends: <iq type='set' id='r5'><query xmlns='jabber:iq:register'><username>dave</username><password>copper-lantern-pw</password></query></iq>
guest receives: <iq type='error' id='r5' from='hearth.test'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>`)
	phone := srv.Login(t, "carol", "copper-lantern-pw", "phone")
	if ok, _ := srv.DB.UserExists(ctx, "dave"); ok {
		t.Error("dave was registered with a used-up invitation")
	}

	// A password reset for carol, with the <preauth/> inside the query.
	reset, err := srv.Admin.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteReset, User: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "xmpp:carol@hearth.test?register;preauth=" + reset.Token; reset.URI != want {
		t.Errorf("reset URI %s, want %s", reset.URI, want)
	}
	c2, _ := srv.Guest(t, "guest")
	xmpptest.Play(t, map[string]*xmpptest.Client{"guest": c2}, `
guest sends: <iq type='set' id='r6'><query xmlns='jabber:iq:register'><username>alice</username><password>iron-teapot-pw</password><preauth xmlns='urn:xmpp:pars:0' token='`+reset.Token+`'/></query></iq>
guest receives: <iq type='error' id='r6' from='hearth.test'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
guest sends: <iq type='set' id='r7'><query xmlns='jabber:iq:register'><username>carol</username><password>iron-teapot-pw</password></query></iq>
guest receives: <iq type='result' id='r7' from='hearth.test'/>`)
	// A reset follows a lost phone: the phone's session ends.
	if cond := phone.StreamEnd(); cond != "not-authorized" {
		t.Errorf("carol's old session ended with %q, want not-authorized", cond)
	}
	srv.Login(t, "carol", "iron-teapot-pw", "pc")
	if _, err := srv.Dial("alice", "iron-teapot-pw", "x"); err == nil {
		t.Error("the reset changed alice's password")
	}
}

// TestInviteContact: XEP-0379. alice hands out a contact invitation (its
// page is on the HTTPS listener);
// carol, an account here, asks to see alice's presence with the token:
// the server approves it in alice's name and both become mutual
// contacts, without a request reaching alice's client. The token is
// then used up: dave's request with it reaches alice as any request.
func TestInviteContact(t *testing.T) {
	ctx := context.Background()
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "carol", "copper-lantern-pw")
	srv.AddUser(t, "dave", "iron-teapot-pw")
	inv, err := srv.Admin.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteContact, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "xmpp:alice@hearth.test?roster;preauth=" + inv.Token; inv.URI != want {
		t.Errorf("URI %s, want %s", inv.URI, want)
	}
	// The landing page on the HTTPS listener, at the link the admin gave.
	_, port, _ := net.SplitHostPort(srv.HTTPAddr)
	if want := "https://hearth.test:" + port + "/invite/" + inv.Token; inv.Link != want {
		t.Errorf("link %s, want %s", inv.Link, want)
	}
	for link, want := range map[string]int{inv.Link: http.StatusOK, inv.Link + "x": http.StatusNotFound} {
		resp, err := srv.HTTPClient().Get(link)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", link, resp.Status, want)
		}
		if want == http.StatusOK && !strings.Contains(string(body), `href="xmpp:alice@hearth.test?roster;preauth=`+inv.Token+`"`) {
			t.Errorf("the page has no link to open the invitation:\n%s", body)
		}
	}

	alice := srv.Login(t, "alice", "silver-kettle-pw", "pc")
	carol := srv.Login(t, "carol", "copper-lantern-pw", "phone")
	dave := srv.Login(t, "dave", "iron-teapot-pw", "phone")
	for _, c := range []*xmpptest.Client{alice, carol, dave} {
		c.Send(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`)
		c.ExpectLike(`<iq type='result' id='roster'>*</iq>`, 5*time.Second)
		c.Send(`<presence/>`)
		c.ExpectLike(`<presence/>`, 5*time.Second)
	}
	carol.Send(`<presence to='alice@hearth.test' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='` + inv.Token + `'/></presence>`)
	aliceGot := alice.Collect(500 * time.Millisecond)
	carolGot := carol.Collect(500 * time.Millisecond)
	var sawPush, sawPresence bool
	for _, el := range aliceGot {
		s := el.String()
		if el.Name == "presence" && el.Attr("type") == "subscribe" {
			t.Errorf("alice's client was asked to approve: %s", s)
		}
		if strings.Contains(s, `jid="carol@hearth.test"`) && strings.Contains(s, `subscription="both"`) {
			sawPush = true
		}
	}
	for _, el := range carolGot {
		if el.Name == "presence" && el.Attr("type") == "" && strings.HasPrefix(el.Attr("from"), "alice@hearth.test/") {
			sawPresence = true
		}
	}
	if !sawPush {
		t.Errorf("alice got no roster push for carol with subscription both: %v", aliceGot)
	}
	if !sawPresence {
		t.Errorf("carol did not get alice's presence: %v", carolGot)
	}
	if it := rosterByJID(t, srv, "alice")["carol@hearth.test"]; it.Subscription != "both" {
		t.Errorf("alice's item for carol: %+v", it)
	}
	if it := rosterByJID(t, srv, "carol")["alice@hearth.test"]; it.Subscription != "both" || it.Ask {
		t.Errorf("carol's item for alice: %+v", it)
	}

	// Used up: dave's request with the same token waits for alice.
	dave.Send(`<presence to='alice@hearth.test' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='` + inv.Token + `'/></presence>`)
	alice.ExpectLike(`<presence from='dave@hearth.test' to='alice@hearth.test' type='subscribe'>*</presence>`, 5*time.Second)
	if it := rosterByJID(t, srv, "alice")["dave@hearth.test"]; it.Subscription == "both" || it.Subscription == "from" {
		t.Errorf("alice's item for dave: %+v", it)
	}
}

// TestInviteContactFederation: XEP-0379 across servers. bob on b.test
// pre-approves alice (XEP-0379 3.2) and asks to see her with her token;
// a.test approves it in alice's name and asks for bob's presence in
// return, which b.test grants from the pre-approval: both rosters say
// both, and alice's client was never asked.
func TestInviteContactFederation(t *testing.T) {
	ctx := context.Background()
	p := federate(t, true)
	inv, err := p.a.Admin.CreateInvite(ctx, admin.InviteSpec{Kind: admin.InviteContact, User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	alice := p.a.Login(t, "alice", "silver-kettle-pw", "pc")
	bob := p.b.Login(t, "bob", "copper-lantern-pw", "phone")
	for _, c := range []*xmpptest.Client{alice, bob} {
		c.Send(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`)
		c.ExpectLike(`<iq type='result' id='roster'>*</iq>`, 5*time.Second)
		c.Send(`<presence/>`)
		c.ExpectLike(`<presence/>`, 5*time.Second)
	}
	bob.Send(`<presence to='alice@a.test' type='subscribed'/>`)
	bob.Send(`<presence to='alice@a.test' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='` + inv.Token + `'/></presence>`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := rosterByJID(t, p.a, "alice")["bob@b.test"]
		b := rosterByJID(t, p.b, "bob")["alice@a.test"]
		if a.Subscription == "both" && b.Subscription == "both" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s alice's item for bob: %+v; bob's for alice: %+v", a, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, el := range alice.Collect(300 * time.Millisecond) {
		if el.Name == "presence" && el.Attr("type") == "subscribe" {
			t.Errorf("alice's client was asked to approve: %s", el)
		}
	}
}
