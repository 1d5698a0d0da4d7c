package server_test

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>`

// streamErr reads until the stream ends and returns its error condition.
func streamErr(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	d := stream.NewDecoder(c, stream.Limits{})
	if _, err := d.Header(); err != nil {
		t.Fatalf("no stream header: %v", err)
	}
	for {
		el, err := d.Next()
		if err != nil {
			if errors.Is(err, stream.ErrClosed) {
				return "(closed without error)"
			}
			t.Fatalf("stream ended without error element: %v", err)
		}
		if el.Name == "error" && el.NS == stanza.NSStream {
			return el.FirstElement().Name
		}
	}
}

// readHeader reads the server's stream header and features on c.
func readHeader(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	d := stream.NewDecoder(c, stream.Limits{})
	if _, err := d.Header(); err != nil {
		t.Fatalf("no stream header: %v", err)
	}
	if el, err := d.Next(); err != nil || el.Name != "features" {
		t.Fatalf("no stream features: %v %v", el, err)
	}
	_ = c.SetReadDeadline(time.Time{})
}

// TestBadInputBeforeAuth: what a client may not do before it is bound.
func TestBadInputBeforeAuth(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthTimeout = 300 * time.Millisecond })
	tests := []struct {
		name, send, want string
	}{
		{"unknown host", fmt.Sprintf(header, "elsewhere.example"), stream.HostUnknown},
		{"auth before TLS", fmt.Sprintf(header, "hearth.test") + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHg=</auth>`, stream.PolicyViolation},
		{"stanza before TLS", fmt.Sprintf(header, "hearth.test") + `<message to='a@hearth.test'><body>x</body></message>`, stream.PolicyViolation},
		{"wrong namespace", `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='hearth.test' version='1.0'>`, stream.InvalidNamespace},
		{"not XML", `hello there`, stream.NotWellFormed},
		{"DTD", `<?xml version='1.0'?><!DOCTYPE lol [<!ENTITY a "b">]>`, stream.RestrictedXML},
		{"silent client", ``, stream.ConnectionTimeout},
		{"slow client", fmt.Sprintf(header, "hearth.test"), stream.ConnectionTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := srv.Raw(t)
			if tt.send != "" {
				if _, err := c.Write([]byte(tt.send)); err != nil {
					t.Fatal(err)
				}
			}
			if got := streamErr(t, c); got != tt.want {
				t.Fatalf("stream error = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestBadInputBound: a bound client that misbehaves gets the right stream
// error, and everyone else keeps being served.
func TestBadInputBound(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) {
		c.Limits = stream.Limits{MaxStanza: 4096, MaxDepth: 10}
	})
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	bob := srv.Login(t, "bob", "copper-lantern-pw", "pc")
	tests := []struct {
		name, send, want string
	}{
		{"comment", `<message><!-- hi --></message>`, stream.RestrictedXML},
		{"processing instruction", `<?php echo 1; ?>`, stream.RestrictedXML},
		{"entity", `<message><body>&xxe;</body></message>`, stream.RestrictedXML},
		{"not well formed", `<message><body></message>`, stream.NotWellFormed},
		{"stanza too big", `<message><body>` + strings.Repeat("x", 5000) + `</body></message>`, stream.PolicyViolation},
		{"too deep", strings.Repeat("<a>", 20) + strings.Repeat("</a>", 20), stream.PolicyViolation},
		{"second from", `<message to='bob@hearth.test' from='x@y' from='admin@hearth.test/console'><body>x</body></message>`, stream.NotWellFormed},
		{"not a stanza", `<foo/>`, stream.UnsupportedStanzaType},
		{"stream management count not a number", `<enable xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='many'/>`, stream.BadFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
			alice.Send(tt.send)
			if got := alice.StreamEnd(); got != tt.want {
				t.Fatalf("stream error = %q, want %s", got, tt.want)
			}
			bob.Sync()
		})
	}
}

// TestAuthRateLimit: failed authentications are limited per address.
func TestAuthRateLimit(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	var last error
	for i := 0; i < 6; i++ {
		_, last = srv.Dial("alice", "wrong-password", "x")
		if last == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if !strings.Contains(last.Error(), "temporary-auth-failure") && !strings.Contains(last.Error(), "policy-violation") && !strings.Contains(last.Error(), "EOF") {
		t.Fatalf("sixth attempt: %v, want refused", last)
	}
	// The right password from the same address is refused too until the
	// window passes: guessing gets no faster by being right sometimes.
	if _, err := srv.Dial("alice", "silver-kettle-pw", "x"); err == nil {
		t.Fatal("login allowed while rate limited")
	}
}

// TestSlowClient: a client that stops reading is disconnected without
// slowing its sender, and what was queued for it is kept offline.
func TestSlowClient(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.QueueLimit = 50 })
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	alice := online(t, srv, "alice", "phone", 0)
	bob := online(t, srv, "bob", "pc", 0)
	bob.Stop() // stop reading: the socket buffers fill, then the queue
	body := strings.Repeat("x", 60000)
	for i := 0; i < 400; i++ {
		alice.Send(fmt.Sprintf(`<message to='bob@hearth.test' type='chat' id='m%d'><body>%s</body></message>`, i, body))
	}
	alice.Sync() // the sender was never blocked
	deadline := time.Now().Add(10 * time.Second)
	for len(srvSessions(t, srv, "bob")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow client still connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
	n, err := srv.DB.CountOffline(t.Context(), "bob")
	if err != nil || n == 0 {
		t.Fatalf("offline after disconnect = %d, %v; want the unsent messages kept", n, err)
	}
	t.Logf("messages kept offline after the slow client was cut: %d", n)
}

func srvSessions(t *testing.T, srv *xmpptest.Server, user string) []string {
	ss, err := srv.Admin.Sessions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range ss {
		if strings.HasPrefix(s.JID, user+"@") {
			out = append(out, s.JID)
		}
	}
	return out
}
