package ping

import (
	"context"
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/mod/roster"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

func TestPing(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	// bob lets carol@other.net see his presence; alice he does not.
	if _, err := db.PutRosterItem(context.Background(), "bob", storage.RosterItem{Contact: "carol@other.net", Subscription: "from"}); err != nil {
		t.Fatal(err)
	}
	r := modtest.Router()
	New(Deps{Visibility: roster.New(roster.Deps{DB: db, Router: r})}).Register(r.Mux())
	tests := []struct {
		name, in string
		cond     string // expected error condition, "" for an empty result
	}{
		{"server", `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"remote to server", `<iq type='get' id='1' from='other.net' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"own bare JID", `<iq type='get' id='1' from='alice@example.org/a' to='alice@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"subscriber to account", `<iq type='get' id='1' from='carol@other.net/x' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		// One who may not see the account learns nothing: the answer a
		// missing account gets.
		{"other account", `<iq type='get' id='1' from='alice@example.org/a' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, stanza.ServiceUnavailable},
		{"stranger to account", `<iq type='get' id='1' from='mallory@evil.net/x' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, stanza.ServiceUnavailable},
		{"no such account", `<iq type='get' id='1' from='alice@example.org/a' to='nobody@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, stanza.ServiceUnavailable},
		{"set", `<iq type='set' id='1' from='alice@example.org/a' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, stanza.NotAllowed},
		{"unknown element", `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><pong xmlns='urn:xmpp:ping'/></iq>`, stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, r, tt.in)
			modtest.Answer(t, res, e, "", tt.cond) // "": an empty result
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "urn:xmpp:ping" {
		t.Fatalf("features = %v", got)
	}
}
