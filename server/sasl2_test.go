package server_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

const (
	phoneID  = "5e2b0c3a-8f1d-4a57-9d64-0b7f3c1e2a90"
	laptopID = "c41d7e88-2a6b-4f0e-b1c3-9e5d0a7f6b21"
)

// TestSASL2Features: SASL2 is offered after TLS with the mechanisms of
// the RFC 6120 profile, Bind 2 with the inline features that work, and
// FAST, and registration with an invitation (XEP-0445); never before TLS, where <authenticate/> is refused.
func TestSASL2Features(t *testing.T) {
	srv := xmpptest.Start(t)
	feats := srv.StartTLS(t).Features
	xmpptest.MustMatch(t, `<features xmlns='http://etherx.jabber.org/streams'>
		<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>*</mechanisms>
		<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>*</sasl-channel-binding>
		<authentication xmlns='urn:xmpp:sasl:2'>
			<mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism>
			<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism>
			<inline>
				<bind xmlns='urn:xmpp:bind:0'><inline>
					<feature var='urn:xmpp:carbons:2'/><feature var='urn:xmpp:csi:0'/><feature var='urn:xmpp:sm:3'/>
				</inline></bind>
				<sm xmlns='urn:xmpp:sm:3'/>
				<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-EXPR</mechanism><mechanism>HT-SHA-256-NONE</mechanism></fast>
			</inline>
		</authentication>
		<register xmlns='urn:xmpp:ibr-token:0'/><register xmlns='http://jabber.org/features/iq-register'/>
	</features>`, feats)

	t.Run("not before TLS", func(t *testing.T) {
		c := srv.Raw(t)
		fmt.Fprintf(c, header, srv.Domain)
		d := stream.NewDecoder(c, stream.Limits{})
		if _, err := d.Header(); err != nil {
			t.Fatal(err)
		}
		f, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Child("authentication", xmpptest.NSSASL2) != nil || f.Child("mechanisms", stanza.NSSASL) != nil {
			t.Fatalf("login offered before TLS: %s", f)
		}
		fmt.Fprintf(c, "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>%s</initial-response></authenticate>", b64("\x00alice\x00silver-kettle-pw"))
		if got := streamErr2(t, d); got != stream.PolicyViolation {
			t.Fatalf("authenticate before TLS: %s, want policy-violation", got)
		}
	})
}

// streamErr2 reads on until the stream error and returns its condition.
func streamErr2(t *testing.T, d *stream.Decoder) string {
	t.Helper()
	for {
		el, err := d.Next()
		if err != nil {
			t.Fatalf("stream ended without an error: %v", err)
		}
		if el.Name == "error" && el.NS == stanza.NSStream {
			return el.FirstElement().Name
		}
	}
}

// TestSASL2Exchange: the outcomes of SASL2 attempts in a transcript
// (XEP-0388 2.6): the same conditions as RFC 6120's, in SASL2's failure.
func TestSASL2Exchange(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthFailures = 100 })
	srv.AddUser(t, "alice", "silver-kettle-pw")
	for _, tt := range []struct{ name, send, want string }{
		{"wrong password", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>` + b64("\x00alice\x00nope") + `</initial-response></authenticate>`,
			`<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`},
		{"unknown mechanism", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-BOGUS'/>`,
			`<failure xmlns='urn:xmpp:sasl:2'><invalid-mechanism xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`},
		{"no mechanism", `<authenticate xmlns='urn:xmpp:sasl:2'/>`,
			`<failure xmlns='urn:xmpp:sasl:2'><invalid-mechanism xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text xml:lang='en'>name a mechanism</text></failure>`},
		{"bad count", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><fast xmlns='urn:xmpp:fast:0' count='x'/></authenticate>`,
			`<failure xmlns='urn:xmpp:sasl:2'><malformed-request xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text xml:lang='en'>the FAST count must be a whole number</text></failure>`},
		{"HT message malformed", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>` + b64("alice") + `</initial-response></authenticate>`,
			`<failure xmlns='urn:xmpp:sasl:2'><malformed-request xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`},
		{"abort", `<abort xmlns='urn:xmpp:sasl:2'/>`,
			`<failure xmlns='urn:xmpp:sasl:2'><aborted xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`},
		{"SCRAM challenge", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>` + b64("n,,n=alice,r=abcdefghijklmnop") + `</initial-response></authenticate>`,
			`<challenge xmlns='urn:xmpp:sasl:2'>*</challenge>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := srv.StartTLS(t)
			r.Send(tt.send)
			xmpptest.MustMatch(t, tt.want, r.Next())
		})
	}
	t.Run("HT not in the RFC 6120 profile", func(t *testing.T) {
		r := srv.StartTLS(t)
		r.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='HT-SHA-256-NONE'>` + b64("alice\x00"+strings.Repeat("x", 32)) + `</auth>`)
		xmpptest.MustMatch(t, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>`, r.Next())
	})
	t.Run("abort during SCRAM", func(t *testing.T) {
		r := srv.StartTLS(t)
		r.Send(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>` + b64("n,,n=alice,r=abcdefghijklmnop") + `</initial-response></authenticate>`)
		r.Next()
		r.Send(`<abort xmlns='urn:xmpp:sasl:2'/>`)
		xmpptest.MustMatch(t, `<failure xmlns='urn:xmpp:sasl:2'><aborted xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`, r.Next())
	})
}

// TestSASL2Bind2: a SCRAM login with Bind 2 binds in the same round trip,
// with carbons and CSI turned on inline; the same device gets the same
// resource back and its older session ends with conflict.
func TestSASL2Bind2(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	req := xmpptest.SASL2{AgentID: phoneID, Software: "Dino", Device: "phone", Bind: true, Tag: "Dino",
		Inline: `<enable xmlns='urn:xmpp:carbons:2'/><inactive xmlns='urn:xmpp:csi:0'/>`}
	phone, res := srv.LoginSASL2(t, "alice", secret("alice"), req)
	if res.Failure != nil {
		t.Fatalf("login failed: %s", res.Failure)
	}
	if !regexp.MustCompile(`^alice@hearth\.test/Dino\.[0-9a-f]{8}$`).MatchString(res.JID) {
		t.Fatalf("authorization identifier %q, want alice@hearth.test/Dino.<8 hex digits>", res.JID)
	}
	if strings.Contains(res.JID, phoneID[:8]) {
		t.Fatalf("the resource %q shows the user-agent id", res.JID)
	}
	xmpptest.MustMatch(t, `<success xmlns='urn:xmpp:sasl:2'><additional-data>*</additional-data>
		<authorization-identifier>`+res.JID+`</authorization-identifier><bound xmlns='urn:xmpp:bind:0'/></success>`, res.Success)
	pc := srv.Login(t, "alice", secret("alice"), "pc")
	bob := online(t, srv, "bob", "laptop", 0)
	c := map[string]*xmpptest.Client{"phone": phone, "pc": pc, "bob": bob}
	t.Run("carbons on", func(t *testing.T) {
		xmpptest.Play(t, c, `
pc sends: <message to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message>
bob receives: <message from='alice@hearth.test/pc' to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message>
phone receives: <message from='alice@hearth.test' to='`+res.JID+`' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@hearth.test/pc' to='bob@hearth.test' type='chat' id='s1'><body>on my way</body></message></forwarded></sent></message>`)
	})
	t.Run("inactive", func(t *testing.T) {
		// A chat state waits while the client is inactive (XEP-0352) and
		// comes when it says it is active.
		xmpptest.Play(t, c, `
bob sends: <message to='`+res.JID+`' type='chat' id='c1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>
bob receives nothing more
phone receives nothing yet
phone sends: <active xmlns='urn:xmpp:csi:0'/>
phone receives: <message from='bob@hearth.test/laptop' to='`+res.JID+`' type='chat' id='c1'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`)
	})
	t.Run("same device, same resource", func(t *testing.T) {
		again, res2 := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{AgentID: phoneID, Bind: true, Tag: "Dino"})
		if res2.JID != res.JID {
			t.Fatalf("second login bound %q, want %q", res2.JID, res.JID)
		}
		if got := phone.StreamEnd(); got != stream.Conflict {
			t.Fatalf("older session ended with %q, want conflict", got)
		}
		again.Ping()
		other, res3 := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{AgentID: laptopID, Bind: true, Tag: "Dino"})
		if res3.JID == res.JID {
			t.Fatalf("another device got the same resource %q", res3.JID)
		}
		other.Ping()
		anon, res4 := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{Bind: true})
		if !regexp.MustCompile(`^alice@hearth\.test/[0-9a-f]{8}$`).MatchString(res4.JID) {
			t.Fatalf("without a user-agent or tag: %q", res4.JID)
		}
		anon.Ping()
	})
}

// TestSASL2WithoutBind2: SASL2 without Bind 2 goes on without a stream
// restart: the features of a logged-in stream follow the success, and
// RFC 6120 binding works; the RFC 6120 login still works beside it.
func TestSASL2WithoutBind2(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	c, res := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{AgentID: phoneID})
	if res.JID != "alice@hearth.test" {
		t.Fatalf("authorization identifier %q, want the bare JID", res.JID)
	}
	xmpptest.MustMatchLike(t, `<features xmlns='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>`, res.Features)
	if err := c.Bind("desk"); err != nil {
		t.Fatal(err)
	}
	c.Ping()
	old := srv.Login(t, "alice", secret("alice"), "old")
	old.Ping()
}

// TestFAST walks XEP-0484: a token asked for at a password login logs the
// same device in again without the password, to the same resource; a
// token from another device (stolen), replayed, used with another
// mechanism, invalidated, expired or revoked by a password change is
// refused as a wrong password, and counted as one.
func TestFAST(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthFailures = 100 })
	srv.AddUser(t, "alice", secret("alice"))
	ctx := context.Background()
	failed := func() int64 {
		info, err := srv.Admin.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Logins.Failed
	}
	// getToken logs in with the password and asks for a token for mech.
	getToken := func(t *testing.T, mech string) (token, jid string) {
		t.Helper()
		c, res := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{AgentID: phoneID, Bind: true, Tag: "Conversations", RequestToken: mech})
		if res.Token == "" || len(res.Token) < 32 {
			t.Fatalf("no token: %s", res.Success)
		}
		exp, err := time.Parse(time.RFC3339, res.Expiry)
		if err != nil || exp.Before(time.Now()) {
			t.Fatalf("token expiry %q", res.Expiry)
		}
		c.Ping()
		return res.Token, res.JID
	}
	fast := func(t *testing.T, token, mech, agent string, count int64) *xmpptest.SASL2Result {
		t.Helper()
		c, res := srv.LoginSASL2(t, "alice", "", xmpptest.SASL2{AgentID: agent, Bind: true, Tag: "Conversations", Token: token, TokenMechanism: mech, Count: count})
		if res.Success != nil {
			c.Ping()
		}
		return res
	}
	refused := func(t *testing.T, res *xmpptest.SASL2Result, before int64) {
		t.Helper()
		if res.Failure == nil {
			t.Fatalf("login with the token succeeded: %s", res.Success)
		}
		xmpptest.MustMatch(t, `<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`, res.Failure)
		if n := failed(); n != before+1 {
			t.Errorf("failed logins %d -> %d, want one more", before, n)
		}
	}

	token, jid := getToken(t, "HT-SHA-256-NONE")
	t.Run("login with the token", func(t *testing.T) {
		res := fast(t, token, "HT-SHA-256-NONE", phoneID, 1)
		if res.Failure != nil {
			t.Fatalf("refused: %s", res.Failure)
		}
		if res.JID != jid {
			t.Fatalf("bound %q, want the same resource %q", res.JID, jid)
		}
		if res.Token != "" {
			t.Errorf("a fresh token was rotated unasked")
		}
		if res := fast(t, token, "HT-SHA-256-NONE", phoneID, -1); res.Failure != nil {
			t.Fatalf("a second login without a count: %s", res.Failure)
		}
	})
	t.Run("stolen", func(t *testing.T) {
		n := failed()
		refused(t, fast(t, token, "HT-SHA-256-NONE", laptopID, 5), n)
	})
	t.Run("replayed", func(t *testing.T) {
		n := failed()
		if res := fast(t, token, "HT-SHA-256-NONE", phoneID, 7); res.Failure != nil {
			t.Fatalf("count 7: %s", res.Failure)
		}
		refused(t, fast(t, token, "HT-SHA-256-NONE", phoneID, 7), n)
		refused(t, fast(t, token, "HT-SHA-256-NONE", phoneID, 3), n+1)
	})
	t.Run("wrong token", func(t *testing.T) {
		n := failed()
		refused(t, fast(t, token+"x", "HT-SHA-256-NONE", phoneID, 100), n)
	})
	t.Run("channel binding", func(t *testing.T) {
		tok, _ := getToken(t, "HT-SHA-256-EXPR")
		if res := fast(t, tok, "HT-SHA-256-EXPR", phoneID, 1); res.Failure != nil {
			t.Fatalf("EXPR login refused: %s", res.Failure)
		}
		// XEP-0484 4.4: bound to the mechanism it was asked for.
		n := failed()
		refused(t, fast(t, tok, "HT-SHA-256-NONE", phoneID, 2), n)
	})
	t.Run("rotation", func(t *testing.T) {
		old, _ := getToken(t, "HT-SHA-256-NONE")
		c, res := srv.LoginSASL2(t, "alice", "", xmpptest.SASL2{AgentID: phoneID, Token: old, Count: -1, RequestToken: "HT-SHA-256-NONE"})
		if res.Token == "" || res.Token == old {
			t.Fatalf("no new token: %s", res.Success)
		}
		c.Bind("x")
		// The old token works until the new one is used.
		if r := fast(t, old, "HT-SHA-256-NONE", phoneID, -1); r.Failure != nil {
			t.Fatalf("old token refused before the new one was used: %s", r.Failure)
		}
		if r := fast(t, res.Token, "HT-SHA-256-NONE", phoneID, -1); r.Failure != nil {
			t.Fatalf("new token refused: %s", r.Failure)
		}
		n := failed()
		refused(t, fast(t, old, "HT-SHA-256-NONE", phoneID, -1), n)
	})
	t.Run("invalidated", func(t *testing.T) {
		tok, _ := getToken(t, "HT-SHA-256-NONE")
		c, res := srv.LoginSASL2(t, "alice", "", xmpptest.SASL2{AgentID: phoneID, Token: tok, Count: -1, Invalidate: true})
		if res.Failure != nil || res.Token != "" {
			t.Fatalf("invalidating login: %s %s", res.Failure, res.Success)
		}
		c.Bind("y")
		n := failed()
		refused(t, fast(t, tok, "HT-SHA-256-NONE", phoneID, -1), n)
	})
	t.Run("password changed", func(t *testing.T) {
		tok, _ := getToken(t, "HT-SHA-256-NONE")
		if err := srv.Admin.SetPassword(ctx, "alice@hearth.test", secret("alice")); err != nil {
			t.Fatal(err)
		}
		n := failed()
		refused(t, fast(t, tok, "HT-SHA-256-NONE", phoneID, -1), n)
	})
	t.Run("disabled", func(t *testing.T) {
		tok, _ := getToken(t, "HT-SHA-256-NONE")
		if err := srv.Admin.SetDisabled(ctx, "alice@hearth.test", true); err != nil {
			t.Fatal(err)
		}
		if err := srv.Admin.SetDisabled(ctx, "alice@hearth.test", false); err != nil {
			t.Fatal(err)
		}
		n := failed()
		refused(t, fast(t, tok, "HT-SHA-256-NONE", phoneID, -1), n)
	})
	t.Run("expired", func(t *testing.T) {
		if _, err := srv.Admin.SetSetting(ctx, "fast.token_lifetime", "1s"); err != nil {
			t.Fatal(err)
		}
		tok, _ := getToken(t, "HT-SHA-256-NONE")
		time.Sleep(1500 * time.Millisecond)
		n := failed()
		refused(t, fast(t, tok, "HT-SHA-256-NONE", phoneID, -1), n)
	})
}

// TestFASTGuard: wrong tokens slow an address down as wrong passwords do:
// past the free failures its attempts at the account must wait, the
// right token too.
func TestFASTGuard(t *testing.T) {
	const authFailures = 3
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthFailures = authFailures })
	srv.AddUser(t, "alice", secret("alice"))
	c, res := srv.LoginSASL2(t, "alice", secret("alice"), xmpptest.SASL2{AgentID: phoneID, RequestToken: "HT-SHA-256-NONE"})
	if res.Token == "" {
		t.Fatalf("no token: %s", res.Success)
	}
	c.Abort()
	for i := range authFailures {
		_, r := srv.LoginSASL2(t, "alice", "", xmpptest.SASL2{AgentID: laptopID, Token: res.Token, Count: -1})
		if r.Failure == nil || r.Failure.FirstElement().Name != "not-authorized" {
			t.Fatalf("attempt %d with a stolen token: %v %v", i+1, r.Failure, r.Success)
		}
	}
	_, r := srv.LoginSASL2(t, "alice", "", xmpptest.SASL2{AgentID: phoneID, Token: res.Token, Count: -1})
	if r.Failure == nil || r.Failure.FirstElement().Name != "temporary-auth-failure" {
		t.Fatalf("the right token right after %d wrong ones: %v %v, want temporary-auth-failure", authFailures, r.Failure, r.Success)
	}
}
