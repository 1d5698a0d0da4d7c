package server_test

import (
	"context"
	"crypto/tls"
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
	"hearth/storage"
)

// TestNoLockOut: whoever guesses at alice's password, from one address or
// from many, slows himself; alice logs in at once from her own.
func TestNoLockOut(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")

	t.Run("one address", func(t *testing.T) {
		refused := 0
		for i := 0; i < 50; i++ {
			_, err := srv.DialFrom("127.0.0.2", "alice", "a-wrong-guess", "x")
			if err == nil {
				t.Fatal("a wrong password was accepted")
			}
			if strings.Contains(err.Error(), "temporary-auth-failure") {
				refused++
			}
		}
		if refused < 40 {
			t.Errorf("only %d of 50 guesses from one address were refused outright", refused)
		}
		start := time.Now()
		alice, err := srv.DialFrom("127.0.0.1", "alice", "silver-kettle-pw", "phone")
		if err != nil {
			t.Fatalf("alice from her own address while 127.0.0.2 guesses: %v", err)
		}
		alice.Abort()
		t.Logf("alice logged in %v after 50 guesses from another address", time.Since(start).Round(time.Millisecond))
		// The guessing address itself waits, the right password or not.
		if _, err := srv.DialFrom("127.0.0.2", "alice", "silver-kettle-pw", "x"); err == nil {
			t.Error("the guessing address was let in while it must wait")
		}
		info, err := srv.Admin.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Logins.Failed < 5 || info.Logins.Throttled < 40 || info.Logins.ThrottledAddresses != 1 {
			t.Errorf("login counts %+v: want the failures, the refusals and the one waiting address counted", info.Logins)
		}
	})

	t.Run("many addresses", func(t *testing.T) {
		// At once, as a botnet would: each failure past the first few is
		// answered late, so one at a time this would take minutes.
		accepted := make(chan bool, 12)
		for i := 10; i < 22; i++ {
			// Not waited for: the held-back answers take a while, and the
			// server's end closes what is left.
			go func() {
				_, err := srv.DialFrom(fmt.Sprintf("127.0.0.%d", i), "alice", "a-wrong-guess", "x")
				accepted <- err == nil
			}()
		}
		time.Sleep(500 * time.Millisecond) // the guesses are in
		start := time.Now()
		alice, err := srv.DialFrom("127.0.0.1", "alice", "silver-kettle-pw", "laptop")
		if err != nil {
			t.Fatalf("alice while 30 addresses guess at her account: %v", err)
		}
		alice.Abort()
		t.Logf("alice logged in %v while 12 addresses guessed at her account", time.Since(start).Round(time.Millisecond))
		for len(accepted) > 0 {
			if <-accepted {
				t.Error("a wrong password was accepted")
			}
		}
		// The guesses from many addresses were slowed: their answers were
		// held back, one after another.
		info, err := srv.Admin.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Logins.Delayed == 0 {
			t.Errorf("no failure answer held back: %+v", info.Logins)
		}
	})

}

// TestAccountCheckedAtBind: a stream that logged in before its account was
// deleted, disabled or given a new password cannot bind: the admin's
// action closes it, and the server checks the account again at bind (here
// changed behind the admin API's back, in the database).
func TestAccountCheckedAtBind(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	newCreds := func(pw string) (storage.Credentials, storage.Credentials) {
		c1, c256, err := storage.NewCredentials(pw)
		if err != nil {
			t.Fatal(err)
		}
		return c1, c256
	}
	tests := []struct {
		name   string
		change func(user string)
		want   string // in what the bind gets; "" for a stream closed before the bind
	}{
		{"disabled through the admin API", func(u string) { srv.Admin.SetDisabled(ctx, u, true) }, ""},
		{"deleted through the admin API", func(u string) { srv.Admin.DeleteUser(ctx, u) }, ""},
		{"password reset through the admin API", func(u string) { srv.Admin.SetPassword(ctx, u, "brand-new-kettle") }, ""},
		{"disabled in the database", func(u string) { srv.DB.SetDisabled(ctx, u, true) }, "the account is disabled"},
		{"password changed in the database", func(u string) {
			c1, c256 := newCreds("brand-new-kettle")
			srv.DB.SetCredentials(ctx, u, c1, c256)
		}, "the password was changed"},
		{"deleted and made again in the database", func(u string) {
			srv.DB.DeleteUser(ctx, u)
			c1, c256 := newCreds("silver-kettle-pw") // the same password: new keys
			srv.DB.CreateUser(ctx, storage.User{Name: u, SHA1: c1, SHA256: c256})
		}, "the password was changed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := fmt.Sprintf("user%d", i)
			srv.AddUser(t, user, "silver-kettle-pw")
			c, err := srv.Authenticate("", user, "silver-kettle-pw")
			if err != nil {
				t.Fatal(err)
			}
			tt.change(user + "@hearth.test")
			tt.change(user) // the database calls take the localpart; the API ignores a second call
			if tt.want == "" {
				// The admin's change reaches the stream before it binds.
				if !c.Closed(5 * time.Second) {
					t.Fatal("the stream that logged in is still open after the change")
				}
				return
			}
			err = c.Bind("phone")
			switch {
			case err == nil:
				t.Fatal("bound after the change")
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("bind: %v; want a stream error saying %q", err, tt.want)
			}
			t.Logf("bind refused: %v", err)
		})
	}
}

// TestPreAuthInput: before it has logged in, a client gets small limits,
// and what is not XMPP is answered at once, not at the timeout.
func TestPreAuthInput(t *testing.T) {
	// A minute to authenticate: whatever ends a stream sooner is the
	// check under test.
	srv := xmpptest.Start(t, func(c *server.Config) { c.AuthTimeout = time.Minute })
	open := fmt.Sprintf(header, "hearth.test")
	tests := []struct {
		name, send, want string
	}{
		{"an HTTP request", "GET / HTTP/1.1\r\nHost: hearth.test\r\n\r\n", stream.NotWellFormed},
		{"a TLS ClientHello on the STARTTLS port", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", stream.NotWellFormed},
		{"text after the header", open + "hello", stream.NotWellFormed},
		{"an element over 10 KiB", open + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + strings.Repeat("A", 11000), stream.PolicyViolation},
		{"more than 48 nodes", open + "<a>" + strings.Repeat("<b/>x", 25), stream.PolicyViolation},
		{"a header with many declarations", strings.Replace(open, "version='1.0'>", "version='1.0'"+decls(200)+">", 1), stream.PolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := srv.Raw(t)
			start := time.Now()
			if _, err := c.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			got := streamErr(t, c)
			if got != tt.want {
				t.Fatalf("stream error %q, want %q", got, tt.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("answered after %v: the timeout, not the input", d)
			}
		})
	}
	t.Run("TLS handshake on the direct-TLS port that never ends", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.TLSAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0x16, 0x03, 0x01}) // a record header, then nothing
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		start := time.Now()
		b := make([]byte, 1)
		_, err = c.Read(b)
		var ne net.Error
		switch {
		case err == nil:
			t.Fatal("the server answered half a record")
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatal("still open after 30 s: the handshake has no limit of its own")
		}
		t.Logf("dropped after %v (%v)", time.Since(start).Round(time.Second), err)
	})
	t.Run("after STARTTLS and on the direct-TLS port", func(t *testing.T) {
		big := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + strings.Repeat("A", 11000) + "</auth>"
		r := srv.StartTLS(t)
		r.Send(big)
		if got := rawStreamErr(t, r.Dec); got != stream.PolicyViolation {
			t.Errorf("after STARTTLS: %q, want policy-violation", got)
		}
		c, err := tls.Dial("tcp", srv.TLSAddr, srv.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte(open + big))
		if got := streamErr(t, c); got != stream.PolicyViolation {
			t.Errorf("direct TLS: %q, want policy-violation", got)
		}
	})
	// After login the full limits apply.
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	alice.Send(`<message to='alice@hearth.test/phone' type='headline'><body>` + strings.Repeat("x", 20000) + `</body></message>`)
	alice.Expect(`<message to='alice@hearth.test/phone' from='alice@hearth.test/phone' type='headline'><body>*</body></message>`)
}

// rawStreamErr reads d until the stream ends and returns its error
// condition.
func rawStreamErr(t *testing.T, d *stream.Decoder) string {
	t.Helper()
	for {
		el, err := d.Next()
		if err != nil {
			return "(ended without error: " + err.Error() + ")"
		}
		if el.Name == "error" && el.NS == stanza.NSStream {
			return el.FirstElement().Name
		}
	}
}

// decls returns n namespace declarations, as attributes.
func decls(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " xmlns:p%d='urn:p%d'", i, i)
	}
	return b.String()
}

// TestSmallerHardening: the session request old clients send after
// binding is answered; a delay stamp in the server's name is the server's
// to make, however the client spells the domain.
func TestSmallerHardening(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
# RFC 3921 3, as mcabber and sendxmpp send it on every login.
alice sends: <iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>
alice receives: <iq type='result' id='s1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <message to='alice@hearth.test/phone' id='d1'><body>old news</body><delay xmlns='urn:xmpp:delay' from='HEARTH.Test' stamp='2001-01-01T00:00:00Z'>Offline storage</delay></message>
alice receives: <message to='alice@hearth.test/phone' from='alice@hearth.test/phone' id='d1'><body>old news</body></message>
alice receives nothing more`)
}
