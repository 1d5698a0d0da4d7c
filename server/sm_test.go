package server_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// enableSM turns stream management on for c, with resumption for max
// seconds when max is not "", and returns the resumption id.
func enableSM(t *testing.T, c *xmpptest.Client, max string) string {
	t.Helper()
	if max == "" {
		c.Send(`<enable xmlns='urn:xmpp:sm:3'/>`)
		c.Expect(`<enabled xmlns='urn:xmpp:sm:3'/>`)
		return ""
	}
	c.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true' max='` + max + `'/>`)
	el := c.Expect(`<enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='` + max + `'/>`)
	return el.Attr("id")
}

// resume logs full's account in again on a new connection and asks to
// resume the session with resumption id previd, having handled h
// stanzas; want is the answer expected.
func resume(t *testing.T, srv *xmpptest.Server, full, previd, h, want string) *xmpptest.Client {
	t.Helper()
	local := full[:strings.IndexByte(full, '@')]
	c, err := srv.Authenticate("", local, secret(local))
	if err != nil {
		t.Fatal(err)
	}
	c.Use(t)
	el, err := c.ResumeSM(full, previd, h)
	if err != nil {
		t.Fatal(err)
	}
	xmpptest.MustMatch(t, want, el)
	return c
}

// TestStreamManagement walks XEP-0198 on a session: the feature, acks both
// ways with the server's counts, and the errors.
func TestStreamManagement(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	// Before a resource is bound, only <resume/> may come.
	resume(t, srv, "alice@hearth.test/phone", "nothing", "0", `<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`)

	phone := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "pc", 0)
	cl := map[string]*xmpptest.Client{"phone": phone, "bob": bob}
	xmpptest.Play(t, cl, `
phone sends: <r xmlns='urn:xmpp:sm:3'/>
phone receives: <failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`)
	enableSM(t, phone, "")
	xmpptest.Play(t, cl, `
phone sends: <enable xmlns='urn:xmpp:sm:3'/>
phone receives: <failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>
bob sends: <message to='alice@hearth.test/phone' type='chat' id='m1'><body>one</body></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m1'><body>one</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>
phone sends: <a xmlns='urn:xmpp:sm:3' h='1'/>
phone sends: <message to='bob@hearth.test' type='chat' id='m2'><body>two</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='m2'><body>two</body></message>
phone sends: <iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>
phone receives: <iq type='result' id='p1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
phone receives: <r xmlns='urn:xmpp:sm:3'/>
phone sends: <r xmlns='urn:xmpp:sm:3'/>
phone receives: <a xmlns='urn:xmpp:sm:3' h='2'/>
phone sends: <a xmlns='urn:xmpp:sm:3' h='2'/>
phone receives nothing more`)

	t.Run("handled count too high", func(t *testing.T) {
		xmpptest.Play(t, cl, `
phone sends: <a xmlns='urn:xmpp:sm:3' h='7'/>
phone receives: <r xmlns='urn:xmpp:sm:3'/>
phone receives: <error xmlns='http://etherx.jabber.org/streams'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>the client acknowledged 7 stanzas, but the server sent 3</text><handled-count-too-high xmlns='urn:xmpp:sm:3' h='7' send-count='3'/></error>`)
	})
	t.Run("bad count", func(t *testing.T) {
		c := online(t, srv, "alice", "pc", 0)
		enableSM(t, c, "")
		c.Send(`<a xmlns='urn:xmpp:sm:3' h='-1'/>`)
		if got := c.StreamEnd(); got != "bad-format" {
			t.Fatalf("stream ended with %q, want bad-format", got)
		}
	})
}

// TestSMResume: a phone whose connection drops without closing its stream
// is held; what was sent to it meanwhile, and what it had not
// acknowledged, reaches it when it resumes on a new connection, and its
// contacts never see it go offline.
func TestSMResume(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	phone := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "pc", 0)
	xmpptest.SubscribeBoth(phone, phone.JID, bob, bob.JID, 5*time.Second)
	id := enableSM(t, phone, "600")
	xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone, "bob": bob}, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='m1'><body>seen, not acked</body></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m1'><body>seen, not acked</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>`)
	phone.Abort() // the network is gone: no closing tag

	t.Run("held", func(t *testing.T) {
		// The administrator sees the session wait for the phone.
		deadline := time.Now().Add(5 * time.Second)
		for {
			ss, err := srv.Admin.Sessions(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			held := false
			for _, s := range ss {
				held = held || (s.JID == "alice@hearth.test/phone" && s.Held)
			}
			if held {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the admin's sessions do not show the phone as held: %+v", ss)
			}
			time.Sleep(20 * time.Millisecond)
		}
		xmpptest.Play(t, map[string]*xmpptest.Client{"bob": bob}, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='m2'><body>while away</body></message>
bob sends: <message to='alice@hearth.test' type='chat' id='m3'><body>to the bare JID</body></message>
bob receives nothing more`)
	})
	t.Run("stolen id", func(t *testing.T) {
		resume(t, srv, "bob@hearth.test/pc", id, "0", `<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`)
	})
	var again *xmpptest.Client
	t.Run("resumed", func(t *testing.T) {
		again = resume(t, srv, "alice@hearth.test/phone", id, "0", `<resumed xmlns='urn:xmpp:sm:3' previd='`+id+`' h='0'/>`)
		xmpptest.Play(t, map[string]*xmpptest.Client{"again": again, "bob": bob}, `
again receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m1'><body>seen, not acked</body></message>
again receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m2'><body>while away</body></message>
again receives: <message from='bob@hearth.test/pc' to='alice@hearth.test' type='chat' id='m3'><body>to the bare JID</body></message>
again receives: <r xmlns='urn:xmpp:sm:3'/>
again sends: <a xmlns='urn:xmpp:sm:3' h='3'/>
again sends: <message to='bob@hearth.test' type='chat' id='m4'><body>back</body></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test' type='chat' id='m4'><body>back</body></message>
again sends: <r xmlns='urn:xmpp:sm:3'/>
again receives: <a xmlns='urn:xmpp:sm:3' h='1'/>
bob receives nothing more`)
	})
	t.Run("taken over", func(t *testing.T) {
		// The phone comes back before the server saw the old
		// connection go: the new stream takes the session over.
		third := resume(t, srv, "alice@hearth.test/phone", id, "3", `<resumed xmlns='urn:xmpp:sm:3' previd='`+id+`' h='1'/>`)
		if got := again.StreamEnd(); got != "" {
			t.Fatalf("the old connection ended with %s, want a plain close", got)
		}
		xmpptest.Play(t, map[string]*xmpptest.Client{"third": third, "bob": bob}, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='m5'><body>still there?</body></message>
third receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='m5'><body>still there?</body></message>
third receives: <r xmlns='urn:xmpp:sm:3'/>
third sends: <a xmlns='urn:xmpp:sm:3' h='4'/>
third sends: </stream:stream>
bob receives: <presence from='alice@hearth.test/phone' to='bob@hearth.test/pc' type='unavailable'/>`)
		c := resume(t, srv, "alice@hearth.test/phone", id, "1", `<failed xmlns='urn:xmpp:sm:3' h='1'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>`)
		// A failed resumption leaves the stream to bind anew.
		if err := c.Bind("fresh"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSMExpiry: a held session nobody resumes ends when its time is up;
// its contacts see it go offline then, and the messages it had not
// acknowledged reach the account's other device, or wait in offline
// storage; an offline message is deleted only once a client acknowledged
// it.
func TestSMExpiry(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	bob := online(t, srv, "bob", "pc", 0)

	t.Run("to the other device", func(t *testing.T) {
		phone := online(t, srv, "alice", "phone", 0)
		pc := online(t, srv, "alice", "pc", 0)
		phone.Expect(`<presence from='alice@hearth.test/pc' to='alice@hearth.test/phone'><priority>0</priority></presence>`)
		pc.Expect(`<presence from='alice@hearth.test/phone' to='alice@hearth.test/pc'><priority>0</priority></presence>`)
		enableSM(t, phone, "1")
		xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone, "bob": bob}, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='e1'><body>never acked</body></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='e1'><body>never acked</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>`)
		phone.Abort()
		bob.Send(`<message to='alice@hearth.test/phone' type='chat' id='e2'><body>while held</body></message>`)
		bob.Send(`<iq type='get' id='q1' to='alice@hearth.test/phone'><query xmlns='jabber:iq:version'/></iq>`)
		pc.ExpectLike(`<presence from='alice@hearth.test/phone' type='unavailable'/>`, 10*time.Second)
		// A request the phone never answered gets its error when the
		// session ends (XEP-0198 5).
		bob.ExpectLike(`<iq type='error' id='q1' from='alice@hearth.test/phone'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`, 5*time.Second)
		pc.ExpectLike(`<message from='bob@hearth.test/pc' type='chat' id='e1'><body>never acked</body></message>`, 5*time.Second)
		pc.ExpectLike(`<message from='bob@hearth.test/pc' type='chat' id='e2'><body>while held</body></message>`, 5*time.Second)
		pc.Close()
	})
	t.Run("to offline storage", func(t *testing.T) {
		phone := online(t, srv, "alice", "phone", 0)
		enableSM(t, phone, "1")
		xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone, "bob": bob}, `
bob sends: <message to='alice@hearth.test' type='chat' id='o1'><body>for later</body></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test' type='chat' id='o1'><body>for later</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>`)
		phone.Abort()
		srv.WaitOffline(t, "alice", 1)
	})
	t.Run("offline rows wait for the ack", func(t *testing.T) {
		// The stored message goes to a session with stream management,
		// which reads it and drops before acknowledging it: it stays
		// stored, and the next login gets it.
		phone := srv.Login(t, "alice", secret("alice"), "phone")
		enableSM(t, phone, "1")
		phone.Send(`<presence/>`)
		phone.ExpectLike(`<message from='bob@hearth.test/pc' type='chat' id='o1'><body>for later</body></message>`, 5*time.Second)
		phone.Abort()
		srv.WaitOffline(t, "alice", 1)
		// Another device: the message comes to it once the held session
		// has ended without acknowledging it.
		tablet := srv.Login(t, "alice", secret("alice"), "tablet")
		enableSM(t, tablet, "")
		tablet.Send(`<presence/>`)
		// As a client does: every <r/> is answered with the count so far.
		h, got, acked := 0, false, false
		for !acked {
			el := tablet.NextWithin(5 * time.Second)
			if el.Name == "r" {
				tablet.Send(`<a xmlns='urn:xmpp:sm:3' h='` + strconv.Itoa(h) + `'/>`)
				acked = got
				continue
			}
			got = got || el.Attr("id") == "o1"
			h++
		}
		srv.WaitOffline(t, "alice", 0)
	})
}

// TestSMInline: stream management the modern way (XEP-0198 inside SASL2
// and Bind 2): a phone binds with stream management on in its login, its
// connection drops, and its next login resumes the session in the same
// round trip, with what was not acknowledged and what came meanwhile; a
// login whose resumption fails binds a new session instead.
func TestSMInline(t *testing.T) {
	srv, phone, bob, req, res, id := inlinePhone(t)
	phone.Abort()
	bob.Send(`<message to='` + res.JID + `' type='chat' id='i2'><body>second</body></message>`)

	resumeReq := req
	resumeReq.Inline = `<enable xmlns='urn:xmpp:sm:3' resume='true'/>`
	resumeReq.Extra = `<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`
	again, res2 := srv.LoginSASL2(t, "alice", secret("alice"), resumeReq)
	xmpptest.MustMatch(t, `<success xmlns='urn:xmpp:sasl:2'><additional-data>*</additional-data>
		<authorization-identifier>`+res.JID+`</authorization-identifier><resumed xmlns='urn:xmpp:sm:3' previd='`+id+`' h='0'/></success>`, res2.Success)
	xmpptest.Play(t, map[string]*xmpptest.Client{"again": again, "bob": bob}, `
again receives: <message from='bob@hearth.test/pc' to='`+res.JID+`' type='chat' id='i1'><body>first</body></message>
again receives: <message from='bob@hearth.test/pc' to='`+res.JID+`' type='chat' id='i2'><body>second</body></message>
again receives: <r xmlns='urn:xmpp:sm:3'/>
again sends: <a xmlns='urn:xmpp:sm:3' h='2'/>
bob receives nothing more`)

	t.Run("failed resumption binds anew", func(t *testing.T) {
		r := req
		r.AgentID = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
		r.Extra = `<resume xmlns='urn:xmpp:sm:3' previd='no-such-session' h='0'/>`
		c, res3 := srv.LoginSASL2(t, "alice", secret("alice"), r)
		xmpptest.MustMatch(t, `<success xmlns='urn:xmpp:sasl:2'><additional-data>*</additional-data>
			<authorization-identifier>`+res3.JID+`</authorization-identifier>
			<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>
			<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='600'/></bound></success>`, res3.Success)
		if res3.JID == res.JID {
			t.Fatalf("another device resumed into %s", res3.JID)
		}
		c.Ping()
	})
}

// TestSMHeldMakesRoom: a phone that lost its connection and logs in again
// without resuming (a new resource) is not locked out by its own held
// session when the account is at its limit of resources: the oldest held
// session gives way, and its unacknowledged message is kept.
func TestSMHeldMakesRoom(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	if _, err := srv.Admin.SetSetting(t.Context(), "limits.resources", "1"); err != nil {
		t.Fatal(err)
	}
	bob := online(t, srv, "bob", "pc", 0)
	phone := online(t, srv, "alice", "phone", 0)
	enableSM(t, phone, "600")
	xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone, "bob": bob}, `
bob sends: <message to='alice@hearth.test/phone' type='chat' id='h1'><body>kept</body></message>
phone receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='chat' id='h1'><body>kept</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>`)
	phone.Abort()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ss, err := srv.Admin.Sessions(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) == 2 && (ss[0].Held || ss[1].Held) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phone's session is not held: %+v", ss)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tablet, err := srv.Dial("alice", secret("alice"), "tablet")
	if err != nil {
		t.Fatalf("a new login with the held session at the limit: %v", err)
	}
	tablet.Use(t)
	tablet.Send(`<presence/>`)
	tablet.ExpectLike(`<message from='bob@hearth.test/pc' type='chat' id='h1'><body>kept</body></message>`, 5*time.Second)
}

// inlinePhone starts a server where alice's phone logged in with SASL2 and
// Bind 2, stream management on inline with resumption, and bob on his pc;
// the phone read a message from bob and did not acknowledge it. It
// returns the login's request and result and the resumption id.
func inlinePhone(t *testing.T) (srv *xmpptest.Server, phone, bob *xmpptest.Client, req xmpptest.SASL2, res *xmpptest.SASL2Result, id string) {
	t.Helper()
	srv = xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	bob = online(t, srv, "bob", "pc", 0)
	req = xmpptest.SASL2{AgentID: "0b4f3c6e-2d4a-4e8f-9c1a-5b6d7e8f9a0b", Bind: true, Tag: "Phone",
		Inline: `<enable xmlns='urn:xmpp:sm:3' resume='true'/>`}
	phone, res = srv.LoginSASL2(t, "alice", secret("alice"), req)
	if res.Failure != nil {
		t.Fatalf("login failed: %s", res.Failure)
	}
	enabled := res.Success.Child("bound", xmpptest.NSBind2).Child("enabled", "urn:xmpp:sm:3")
	xmpptest.MustMatch(t, `<enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='600'/>`, enabled)
	id = enabled.Attr("id")
	xmpptest.Play(t, map[string]*xmpptest.Client{"phone": phone, "bob": bob}, `
bob sends: <message to='`+res.JID+`' type='chat' id='i1'><body>first</body></message>
phone receives: <message from='bob@hearth.test/pc' to='`+res.JID+`' type='chat' id='i1'><body>first</body></message>
phone receives: <r xmlns='urn:xmpp:sm:3'/>`)
	return srv, phone, bob, req, res, id
}

// TestSMHeldBacklog: a phone that loses its connection in the middle of
// its offline backlog does not hold the rest of it back from the
// account's other devices while it is held: the laptop that comes online
// gets what the phone was not given at once, and what the phone was given
// and did not acknowledge stays stored for it.
func TestSMHeldBacklog(t *testing.T) {
	const backlog = 300 // more than one page (offline.DefaultPage)
	srv := xmpptest.Start(t)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	bob := online(t, srv, "bob", "pc", 0)
	for i := range backlog {
		bob.Send(fmt.Sprintf(`<message to='alice@hearth.test' type='chat' id='b%d'><body>backlog %d</body></message>`, i, i))
	}
	srv.WaitOffline(t, "alice", backlog)
	phone := srv.Login(t, "alice", secret("alice"), "phone")
	enableSM(t, phone, "600")
	phone.Send(`<presence/>`)
	// The phone reads its first page and acknowledges nothing.
	given := 0
	for _, el := range phone.Collect(time.Second) {
		if el.Name == "message" {
			given++
		}
	}
	if given == 0 || given >= backlog {
		t.Fatalf("the phone's first page has %d messages of %d", given, backlog)
	}
	phone.Abort()
	laptop := online(t, srv, "alice", "laptop", 0)
	got := 0
	for got < backlog-given {
		if el := laptop.NextWithin(5 * time.Second); el.Name == "message" {
			got++
		}
	}
	laptop.Quiet(300 * time.Millisecond)
	// What the phone holds unacknowledged stays stored for it.
	srv.WaitOffline(t, "alice", given)
}
