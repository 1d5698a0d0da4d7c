package server_test

import (
	"context"
	"encoding/base64"
	"testing"

	"hearth/server"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestSASL checks the mechanisms offered after TLS and the outcome of
// each kind of attempt (RFC 6120 6.5).
func TestSASL(t *testing.T) {
	// Many failures from one address on purpose: lift the limit.
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthFailures = 100 })
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "dora", "amber-window-pw")
	if err := srv.Admin.SetDisabled(context.Background(), "dora@hearth.test", true); err != nil {
		t.Fatal(err)
	}
	mechs := srv.StartTLS(t).Features.Child("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
	var offered []string
	for _, m := range mechs.Elements() {
		offered = append(offered, m.Content())
	}
	want := []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	if len(offered) != len(want) {
		t.Fatalf("mechanisms = %v, want %v", offered, want)
	}
	for i := range want {
		if offered[i] != want[i] {
			t.Fatalf("mechanisms = %v, want %v", offered, want)
		}
	}
	tests := []struct {
		name, auth, want string
	}{
		{"PLAIN ok", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("\x00alice\x00silver-kettle-pw") + `</auth>`, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`},
		{"PLAIN with own authzid", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("alice@hearth.test\x00alice\x00silver-kettle-pw") + `</auth>`, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`},
		{"PLAIN wrong password", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("\x00alice\x00nope") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`},
		{"PLAIN unknown user", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("\x00mallory\x00x") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>`},
		{"PLAIN other authzid", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("bob@hearth.test\x00alice\x00silver-kettle-pw") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-authzid/></failure>`},
		{"PLAIN disabled account", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("\x00dora\x00amber-window-pw") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><account-disabled/></failure>`},
		{"PLAIN malformed", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + b64("alice") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><malformed-request/></failure>`},
		{"bad base64", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><incorrect-encoding/></failure>`},
		// RFC 5802 9: an unknown name runs like a wrong password.
		{"SCRAM unknown user", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + b64("n,,n=mallory,r=abcdefghijklmnop") + `</auth>`, `<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>*</challenge>`},
		{"SCRAM known user", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + b64("n,,n=alice,r=abcdefghijklmnop") + `</auth>`, `<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>*</challenge>`},
		{"unknown mechanism", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-BOGUS'>` + b64("x") + `</auth>`, `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><invalid-mechanism/></failure>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := srv.StartTLS(t)
			r.Send(tt.auth)
			got := r.Next()
			want, _ := xmpptestUnmarshal(tt.want)
			if !xmpptest.Match(want, got) {
				t.Fatalf("got %s, want %s", xmpptest.Canonical(got), tt.want)
			}
		})
	}
}

func xmpptestUnmarshal(s string) (*stanza.Element, error) { return stream.Unmarshal([]byte(s)) }
