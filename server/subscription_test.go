package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"hearth/server/xmpptest"
	"hearth/storage"
)

// state is a row label of RFC 6121 Appendix A: "None", "None+PO",
// "None+PI", "None+PO+PI", "To", "To+PI", "From", "From+PO", "Both", and
// "None+PA" / "To+PA" for pre-approval (RFC 6121 3.4).
func setState(t *testing.T, db *storage.DB, user, contact, state string) {
	t.Helper()
	ctx := context.Background()
	_, _ = db.DeleteRosterItem(ctx, user, contact)
	_ = db.DeletePending(ctx, user, contact)
	parts := strings.Split(state, "+")
	it := storage.RosterItem{Contact: contact, Subscription: strings.ToLower(parts[0])}
	for _, p := range parts[1:] {
		switch p {
		case "PO":
			it.Ask = true
		case "PA":
			it.Approved = true
		case "PI":
			stz := fmt.Sprintf(`<presence xmlns="jabber:client" from="%s" to="%s@hearth.test" type="subscribe"/>`, contact, user)
			if err := db.AddPending(ctx, user, contact, []byte(stz)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if state == "None+PI" || state == "-" {
		return // no roster item, only the pending request
	}
	if _, err := db.PutRosterItem(ctx, user, it); err != nil {
		t.Fatal(err)
	}
}

// itemPart is the roster item's part of a state: what a roster push shows.
func itemPart(state string) string {
	return strings.ReplaceAll(state, "+PI", "")
}

func getState(t *testing.T, db *storage.DB, user, contact string) string {
	t.Helper()
	ctx := context.Background()
	it, err := db.RosterItem(ctx, user, contact)
	s := ""
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s = "None"
	case err != nil:
		t.Fatal(err)
	default:
		s = strings.ToUpper(it.Subscription[:1]) + it.Subscription[1:]
		if it.Ask {
			s += "+PO"
		}
	}
	if ok, _ := db.HasPending(ctx, user, contact); ok {
		s += "+PI"
	}
	if err == nil && it.Approved {
		s += "+PA"
	}
	return s
}

// TestOutboundSubscription walks RFC 6121 Appendix A.2: alice sends a
// subscription stanza to a contact on a domain the server cannot reach, so
// a routed stanza comes back to alice as a remote-server-not-found error.
func TestOutboundSubscription(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	alice.Send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	alice.Expect(`<iq type='result' id='r1' from='alice@hearth.test' to='*'><query xmlns='jabber:iq:roster' ver='*'/></iq>`)
	alice.Send(`<presence/>`)
	alice.Expect(`<presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'/>`)
	alice.Sync()
	const contact = "carol@remote.example"

	tests := []struct {
		typ, from, to string
		routed        bool
	}{
		// A.2.1 subscribe
		{"subscribe", "None", "None+PO", true},
		{"subscribe", "None+PO", "None+PO", true},
		{"subscribe", "None+PI", "None+PO+PI", true},
		{"subscribe", "None+PO+PI", "None+PO+PI", true},
		{"subscribe", "To", "To", true},
		{"subscribe", "To+PI", "To+PI", true},
		{"subscribe", "From", "From+PO", true},
		{"subscribe", "From+PO", "From+PO", true},
		{"subscribe", "Both", "Both", true},
		// A.2.2 subscribed (without a pending request: pre-approval, 3.4)
		{"subscribed", "None", "None+PA", false},
		{"subscribed", "None+PO", "None+PO+PA", false},
		{"subscribed", "None+PI", "From", true},
		{"subscribed", "None+PO+PI", "From+PO", true},
		{"subscribed", "To", "To+PA", false},
		{"subscribed", "To+PI", "Both", true},
		{"subscribed", "From", "From", false},
		{"subscribed", "From+PO", "From+PO", false},
		{"subscribed", "Both", "Both", false},
		// A.2.3 unsubscribe
		{"unsubscribe", "None", "None", true},
		{"unsubscribe", "None+PO", "None", true},
		{"unsubscribe", "None+PI", "None+PI", true},
		{"unsubscribe", "None+PO+PI", "None+PI", true},
		{"unsubscribe", "To", "None", true},
		{"unsubscribe", "To+PI", "None+PI", true},
		{"unsubscribe", "From", "From", true},
		{"unsubscribe", "From+PO", "From", true},
		{"unsubscribe", "Both", "From", true},
		// A.2.4 unsubscribed
		{"unsubscribed", "None", "None", true},
		{"unsubscribed", "None+PO", "None+PO", true},
		{"unsubscribed", "None+PI", "None", true},
		{"unsubscribed", "None+PO+PI", "None+PO", true},
		{"unsubscribed", "To", "To", true},
		{"unsubscribed", "To+PI", "To", true},
		{"unsubscribed", "From", "None", true},
		{"unsubscribed", "From+PO", "None+PO", true},
		{"unsubscribed", "Both", "To", true},
		{"unsubscribed", "None+PA", "None", true},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.from, func(t *testing.T) {
			defer alice.Use(t)()
			setState(t, srv.DB, "alice", contact, tt.from)
			alice.Send(fmt.Sprintf(`<presence to='%s' type='%s'/>`, contact, tt.typ))
			bounce := fmt.Sprintf(`<presence from='%s' to='alice@hearth.test/phone' type='error'><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this server does not federate with other servers (federation is off)</text></error></presence>`, contact)
			if tt.routed {
				alice.Expect(bounce)
			}
			if itemPart(tt.from) != itemPart(tt.to) {
				alice.Expect(`<iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>*</query></iq>`)
			}
			// The user's presence goes to a new subscriber (3.1.5), and
			// unavailable presence to a removed one (3.2.2): each bounces.
			if tt.typ == "subscribed" && tt.routed || tt.typ == "unsubscribed" && (strings.HasPrefix(tt.from, "From") || tt.from == "Both") {
				alice.Expect(bounce)
			}
			alice.Sync()
			if got := getState(t, srv.DB, "alice", contact); got != tt.to {
				t.Errorf("%s in state %s: got %s, want %s", tt.typ, tt.from, got, tt.to)
			}
		})
	}
}

// TestInboundSubscription walks RFC 6121 Appendix A.3: bob (local) sends a
// subscription stanza to alice, whose state is set first.
func TestInboundSubscription(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	bob := srv.Login(t, "bob", "copper-lantern-pw", "pc")
	bob.Send(`<presence/>`)
	bob.Expect(`<presence from='bob@hearth.test/pc' to='bob@hearth.test/pc'/>`)
	alice.Send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)
	alice.Expect(`<iq type='result' id='r1' from='alice@hearth.test' to='*'><query xmlns='jabber:iq:roster' ver='*'/></iq>`)
	alice.Send(`<presence/>`)
	alice.Expect(`<presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'/>`)
	alice.Sync()
	const contact = "bob@hearth.test"

	tests := []struct {
		typ, from, to string
		deliver       bool
		autoReply     bool
	}{
		// A.3.1 subscribe
		{"subscribe", "None", "None+PI", true, false},
		{"subscribe", "None+PO", "None+PO+PI", true, false},
		{"subscribe", "None+PI", "None+PI", false, false},
		{"subscribe", "None+PO+PI", "None+PO+PI", false, false},
		{"subscribe", "To", "To+PI", true, false},
		{"subscribe", "To+PI", "To+PI", false, false},
		{"subscribe", "From", "From", false, true},
		{"subscribe", "From+PO", "From+PO", false, true},
		{"subscribe", "Both", "Both", false, true},
		{"subscribe", "None+PA", "From", false, true},
		{"subscribe", "To+PA", "Both", false, true},
		// A.3.2 subscribed
		{"subscribed", "None", "None", false, false},
		{"subscribed", "None+PO", "To", true, false},
		{"subscribed", "None+PI", "None+PI", false, false},
		{"subscribed", "None+PO+PI", "To+PI", true, false},
		{"subscribed", "To", "To", false, false},
		{"subscribed", "To+PI", "To+PI", false, false},
		{"subscribed", "From", "From", false, false},
		{"subscribed", "From+PO", "Both", true, false},
		{"subscribed", "Both", "Both", false, false},
		// A.3.3 unsubscribe
		{"unsubscribe", "None", "None", false, false},
		{"unsubscribe", "None+PO", "None+PO", false, false},
		{"unsubscribe", "None+PI", "None", true, false},
		{"unsubscribe", "None+PO+PI", "None+PO", true, false},
		{"unsubscribe", "To", "To", false, false},
		{"unsubscribe", "To+PI", "To", true, false},
		{"unsubscribe", "From", "None", true, false},
		{"unsubscribe", "From+PO", "None+PO", true, false},
		{"unsubscribe", "Both", "To", true, false},
		// A.3.4 unsubscribed
		{"unsubscribed", "None", "None", false, false},
		{"unsubscribed", "None+PO", "None", true, false},
		{"unsubscribed", "None+PI", "None+PI", false, false},
		{"unsubscribed", "None+PO+PI", "None+PI", true, false},
		{"unsubscribed", "To", "None", true, false},
		{"unsubscribed", "To+PI", "None+PI", true, false},
		{"unsubscribed", "From", "From", false, false},
		{"unsubscribed", "From+PO", "From", true, false},
		{"unsubscribed", "Both", "From", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.from, func(t *testing.T) {
			setState(t, srv.DB, "alice", contact, tt.from)
			// bob's side is set so that his outbound stanza is routed.
			switch tt.typ {
			case "subscribed":
				setState(t, srv.DB, "bob", "alice@hearth.test", "None+PI")
			case "unsubscribed":
				setState(t, srv.DB, "bob", "alice@hearth.test", "From")
			default:
				setState(t, srv.DB, "bob", "alice@hearth.test", "None")
			}
			defer alice.Use(t)()
			defer bob.Use(t)()
			bob.Send(fmt.Sprintf(`<presence to='alice@hearth.test' type='%s'/>`, tt.typ))
			bob.Ping() // bob's stanza has been handled when his ping is answered
			if tt.deliver {
				alice.Expect(fmt.Sprintf(`<presence from='bob@hearth.test' to='alice@hearth.test' type='%s'/>`, tt.typ))
			}
			if itemPart(tt.from) != itemPart(tt.to) {
				alice.Expect(`<iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'>*</query></iq>`)
			}
			switch tt.typ {
			case "subscribed":
				// bob approved alice: his presence follows (3.1.5).
				alice.Expect(`<presence from='bob@hearth.test/pc' to='alice@hearth.test/phone'/>`)
			case "unsubscribed":
				// bob cancelled alice's subscription: he goes offline for her.
				alice.Expect(`<presence from='bob@hearth.test/pc' to='alice@hearth.test/phone' type='unavailable'/>`)
				if tt.deliver {
					alice.Expect(`<presence from='bob@hearth.test' to='alice@hearth.test/phone' type='unavailable'/>`)
				}
			}
			alice.Sync()
			if got := getState(t, srv.DB, "alice", contact); got != tt.to {
				t.Errorf("%s in state %s: got %s, want %s", tt.typ, tt.from, got, tt.to)
			}
			if tt.autoReply {
				bob.Expect(`<presence from='alice@hearth.test' to='bob@hearth.test' type='subscribed'/>`)
			}
		})
	}
}
