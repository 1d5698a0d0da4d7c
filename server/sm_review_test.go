package server_test

import (
	"strings"
	"testing"
	"time"

	"hearth/server/xmpptest"
)

// TestSMInlineResumeTooHigh: a SASL2 login whose inline <resume/>
// acknowledges more than the server sent gets a <success/> with the
// <failed/> (handled-count-too-high) and a new session bound, as for any
// failed resumption: not the <resumed/> of a resumption that did not
// happen beside it, nor the old session's JID run together with the new
// one in authorization-identifier.
func TestSMInlineResumeTooHigh(t *testing.T) {
	srv, phone, _, req, res, id := inlinePhone(t)
	phone.Abort()
	time.Sleep(100 * time.Millisecond) // the server sees the connection go

	r := req
	r.AgentID = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
	r.Extra = `<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='5'/>`
	c, res2 := srv.LoginSASL2(t, "alice", secret("alice"), r)
	xmpptest.MustMatch(t, `<success xmlns='urn:xmpp:sasl:2'><additional-data>*</additional-data>
		<authorization-identifier>*</authorization-identifier>
		<failed xmlns='urn:xmpp:sm:3' h='0'><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><handled-count-too-high xmlns='urn:xmpp:sm:3' h='5' send-count='1'/></failed>
		<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='600'/></bound></success>`, res2.Success)
	if !strings.HasPrefix(res2.JID, "alice@hearth.test/Phone.") || len(res2.JID) != len(res.JID) || res2.JID == res.JID {
		t.Fatalf("the new session's authorization-identifier is %q (the old session was %s)", res2.JID, res.JID)
	}
	c.Ping()
}

// TestSMInlineEnableOnce: a Bind 2 request with stream management's
// <enable/> twice gets one <enabled/> and, for the second, the
// <failed/> a second <enable/> gets on a bound stream. Two would give the
// session two resumption ids of which it forgets the first: that one
// stays among the resumable sessions when the session ends, holding the
// whole session in memory, one more for every such login.
func TestSMInlineEnableOnce(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	req := xmpptest.SASL2{AgentID: "0b4f3c6e-2d4a-4e8f-9c1a-5b6d7e8f9a0b", Bind: true, Tag: "Phone",
		Inline: `<enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:sm:3' resume='true'/>`}
	c, res := srv.LoginSASL2(t, "alice", secret("alice"), req)
	xmpptest.MustMatch(t, `<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='600'/>
		<failed xmlns='urn:xmpp:sm:3'><unexpected-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed></bound>`,
		res.Success.Child("bound", xmpptest.NSBind2))
	c.Ping()
}
