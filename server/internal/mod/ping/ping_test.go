package ping

import (
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

func TestPing(t *testing.T) {
	r := modtest.Registered(New(Deps{DB: modtest.DB(t, "alice", "bob")}))
	tests := []struct {
		name, in string
		cond     string // expected error condition, "" for an empty result
	}{
		{"server", `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"remote to server", `<iq type='get' id='1' from='other.net' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"own bare JID", `<iq type='get' id='1' from='alice@example.org/a' to='alice@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"other account", `<iq type='get' id='1' from='alice@example.org/a' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
		{"remote to account", `<iq type='get' id='1' from='carol@other.net/x' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, ""},
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
