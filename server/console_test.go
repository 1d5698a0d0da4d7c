package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/admin"
	"hearth/server/xmpptest"
)

// viaSocket serves api on an admin socket of its own and returns the
// client of that socket.
func viaSocket(t *testing.T, api admin.API) admin.API {
	t.Helper()
	dir := t.TempDir()
	ln, err := admin.Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- admin.Serve(ctx, ln, api) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("admin socket: %v", err)
		}
	})
	c, err := admin.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apis are the two ways to reach the admin API: in-process and over the
// admin socket.
var apis = []struct {
	name string
	get  func(t *testing.T, srv *xmpptest.Server) admin.API
}{
	{"local", func(t *testing.T, srv *xmpptest.Server) admin.API { return srv.Admin }},
	{"socket", func(t *testing.T, srv *xmpptest.Server) admin.API { return viaSocket(t, srv.Admin) }},
}

// TestConsole: the XML console shows a live session's stanzas both ways,
// and never a password or a SASL payload: an in-band password change
// (XEP-0077 3.3) and an <auth/> sent after binding are shown redacted. The
// watch ends with the session.
func TestConsole(t *testing.T) {
	for _, tc := range apis {
		t.Run(tc.name, func(t *testing.T) {
			srv := xmpptest.Start(t)
			srv.AddUser(t, "alice", "silver-kettle-pw")
			srv.AddUser(t, "bob", "copper-lantern-pw")
			alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
			bob := srv.Login(t, "bob", "copper-lantern-pw", "laptop")
			api := tc.get(t, srv)
			ctx := t.Context()

			if _, err := api.Console(ctx, "alice@hearth.test/nowhere"); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("console of no session: %v, want ErrNotFound", err)
			}
			frames, err := api.Console(ctx, alice.JID)
			if err != nil {
				t.Fatal(err)
			}
			const newPassword = "amber-orchard-pw"
			sasl := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00silver-kettle-pw"))
			xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice, "bob": bob}, `
alice sends: <message to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello from the phone</body></message>
bob receives: <message to='bob@hearth.test/laptop' from='alice@hearth.test/phone' id='m1' type='chat'><body>hello from the phone</body></message>
bob sends: <message to='alice@hearth.test/phone' id='m2' type='chat'><body>hello back</body></message>
alice receives: <message to='alice@hearth.test/phone' from='bob@hearth.test/laptop' id='m2' type='chat'><body>hello back</body></message>
alice sends: <iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>alice</username><password>`+newPassword+`</password></query></iq>
alice receives: <iq type='result' id='pw' from='alice@hearth.test' to='alice@hearth.test/phone'/>`)
			alice.Send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + sasl + `</auth>`)
			alice.StreamEnd()

			var all []string
			timeout := time.After(10 * time.Second)
		collect:
			for {
				select {
				case f, ok := <-frames:
					if !ok {
						break collect
					}
					all = append(all, f.Dir+" "+f.XML)
				case <-timeout:
					t.Fatalf("the watch did not end with the session; frames so far:\n%s", strings.Join(all, "\n"))
				}
			}
			// The archive's stanza-id (XEP-0359) is random: not compared.
			text := stanzaIDs.ReplaceAllString(strings.Join(all, "\n"), "")
			for _, want := range []string{
				`in <message to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello from the phone</body></message>`,
				`out <message to="alice@hearth.test/phone" id="m2" type="chat" from="bob@hearth.test/laptop"><body>hello back</body></message>`,
				`in <iq type='set' id='pw'><query xmlns='jabber:iq:register'><username>alice</username><password>[redacted]</password></query></iq>`,
				`in <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>[redacted]</auth>`,
				`out <iq type="result" id="pw" to="alice@hearth.test/phone" from="alice@hearth.test"/>`,
				`out <stream:error><unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
				`out </stream:stream>`,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("console lacks %s; it showed:\n%s", want, text)
				}
			}
			for _, secret := range []string{newPassword, sasl, "silver-kettle-pw"} {
				if strings.Contains(text, secret) {
					t.Errorf("console shows the secret %q:\n%s", secret, text)
				}
			}
		})
	}
}

// TestLogView: the log view has what a person needs: a login with its
// address and encryption, a failed login with its address, a session
// begun and ended with why, over both ways to the admin API.
func TestLogView(t *testing.T) {
	for _, tc := range apis {
		t.Run(tc.name, func(t *testing.T) {
			ring := admin.NewLogRing(0)
			srv := xmpptest.Start(t, func(c *server.Config) {
				c.LogRing = ring
				c.Log = slog.New(admin.LogTee(c.Log.Handler(), ring.Handler(slog.LevelInfo)))
			})
			api := tc.get(t, srv)
			ctx := t.Context()
			live := api.WatchLogs(ctx)
			srv.AddUser(t, "alice", "silver-kettle-pw")
			if _, err := srv.DialFrom("127.0.0.3", "alice", "wrong-guess-pw", "phone"); err == nil {
				t.Fatal("a wrong password logged in")
			}
			alice, err := srv.DialFrom("127.0.0.2", "alice", "silver-kettle-pw", "phone")
			if err != nil {
				t.Fatal(err)
			}
			alice.Use(t)
			alice.Close()

			want := []string{
				"INFO login failed addr=127.0.0.3 account=alice mechanism=SCRAM-SHA-256 reason=wrong password or no such account",
				"INFO login succeeded account=alice addr=127.0.0.2 mechanism=SCRAM-SHA-256 tls=STARTTLS",
				"INFO session began jid=alice@hearth.test/phone addr=127.0.0.2:",
				"INFO session ended jid=alice@hearth.test/phone addr=127.0.0.2:* why=the client closed the stream",
			}
			var got []string
			deadline := time.After(10 * time.Second)
			for !matchAll(got, want) {
				select {
				case rec, ok := <-live:
					if !ok {
						t.Fatal("live log ended")
					}
					got = append(got, line(rec))
				case <-deadline:
					t.Fatalf("live log:\n%s\nwant lines beginning:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			recs, err := api.Logs(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			var kept []string
			for _, r := range recs {
				kept = append(kept, line(r))
			}
			if !matchAll(kept, want) {
				t.Errorf("Logs:\n%s\nwant lines beginning:\n%s", strings.Join(kept, "\n"), strings.Join(want, "\n"))
			}
			if later, err := api.Logs(ctx, recs[len(recs)-1].Seq); err != nil || len(later) != 0 {
				t.Errorf("Logs since the last: %d records, %v", len(later), err)
			}
			for _, l := range kept {
				if strings.Contains(l, "silver-kettle-pw") || strings.Contains(l, "wrong-guess-pw") {
					t.Errorf("log shows a password: %s", l)
				}
			}
		})
	}
}

// line is a record as "LEVEL message key=value ...", without the part.
func line(r admin.LogRecord) string {
	s := r.Level + " " + r.Message
	for _, a := range r.Attrs {
		if a.Key != "part" {
			s += " " + a.Key + "=" + a.Value
		}
	}
	return s
}

// matchAll reports whether each of want begins a line of got, in order; a
// "*" in want stands for anything up to the next space.
func matchAll(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && prefixMatch(g, want[i]) {
			i++
		}
	}
	return i == len(want)
}

func prefixMatch(s, pattern string) bool {
	for {
		star := strings.IndexByte(pattern, '*')
		if star < 0 {
			return strings.HasPrefix(s, pattern)
		}
		if !strings.HasPrefix(s, pattern[:star]) {
			return false
		}
		s = s[star:]
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			sp = len(s)
		}
		s, pattern = s[sp:], pattern[star+1:]
	}
}

// stanzaIDs matches the archive ids the server adds to messages.
var stanzaIDs = regexp.MustCompile(`<stanza-id xmlns="urn:xmpp:sid:0" by="[^"]*" id="[^"]*"/>`)
