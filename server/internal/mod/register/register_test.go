package register

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

const oldPassword = "old secret"

// newModule returns the module on a router with accounts alice and bob,
// both with the password oldPassword, and the transport of alice's
// session alice@example.org/a, which is encrypted.
func newModule(t *testing.T) (*Module, *storage.DB, *router.Router, *modtest.Conn) {
	t.Helper()
	db := modtest.DB(t, "alice", "bob")
	for _, u := range []string{"alice", "bob"} {
		c1, c256, err := storage.NewCredentials(oldPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetCredentials(context.Background(), u, c1, c256); err != nil {
			t.Fatal(err)
		}
	}
	r := modtest.Router()
	m := New(Deps{DB: db, Router: r, Accounts: &removals{}})
	m.Register(r.Mux())
	s, c := modtest.Session(t, "alice@example.org/a")
	s.Secure = true
	r.Bind(s)
	return m, db, r, c
}

// password reports which of the candidates is alice's password.
func password(t *testing.T, db *storage.DB, candidates ...string) string {
	t.Helper()
	u, err := db.User(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range candidates {
		if u.SHA256.Verify(p, sha256.New) && u.SHA1.Verify(p, sha1.New) {
			return p
		}
	}
	return "none of them"
}

func TestRegister(t *testing.T) {
	_, db, r, secure := newModule(t)
	_, plain := modtest.Bind(t, r, "alice@example.org/plain")

	change := func(from, to, username, pw string) string {
		s := `<iq type='set' id='r1' from='` + from + `'`
		if to != "" {
			s += ` to='` + to + `'`
		}
		s += `><query xmlns='jabber:iq:register'>`
		if username != "-" {
			s += `<username>` + username + `</username>`
		}
		return s + `<password>` + pw + `</password></query></iq>`
	}
	errReply := func(to, from, typ, cond, text string) string {
		s := `<iq xmlns="jabber:client" id="r1" to="` + to + `" from="` + from + `" type="error"><error type="` + typ + `"><` + cond + ` xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`
		if text != "" {
			s += `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">` + text + `</text>`
		}
		return s + `</error></iq>`
	}
	const a = "alice@example.org/a"
	// The steps run in order: later ones see what earlier ones did.
	steps := []struct {
		name, in string
		want     string   // result payload ("" for an empty result), or
		cond     string   // error condition returned to the router, or
		sent     []string // replies the module sent itself (errors without the payload)
		password string   // alice's password afterwards
	}{
		{name: "get", in: `<iq type='get' id='r1' from='alice@example.org/a' to='alice@example.org'><query xmlns='jabber:iq:register'/></iq>`,
			want: `<query xmlns="jabber:iq:register"><registered/><username>alice</username></query>`},
		{name: "get from the server", in: `<iq type='get' id='r1' from='alice@example.org/a' to='example.org'><query xmlns='jabber:iq:register'/></iq>`,
			want: `<query xmlns="jabber:iq:register"><registered/><username>alice</username></query>`},
		{name: "remote", in: `<iq type='get' id='r1' from='mallory@evil.net/x' to='example.org'><query xmlns='jabber:iq:register'/></iq>`,
			cond: stanza.ServiceUnavailable},
		// Answered through the router, to a remote domain it cannot reach.
		{name: "remote set", in: change("alice@evil.net/x", "example.org", "alice", "pwned"), sent: []string{}},
		{name: "another account", in: `<iq type='get' id='r1' from='alice@example.org/a' to='bob@example.org'><query xmlns='jabber:iq:register'/></iq>`,
			cond: stanza.Forbidden},
		{name: "another account's password", in: change(a, "bob@example.org", "bob", "pwned"),
			sent: []string{errReply(a, "bob@example.org", "auth", "forbidden", "")}},
		{name: "username mismatch", in: change(a, "example.org", "bob", "new secret"),
			sent: []string{errReply(a, modtest.Domain, "modify", "bad-request", "username does not match the account")}},
		{name: "no username", in: change(a, "example.org", "-", "new secret"),
			sent: []string{errReply(a, modtest.Domain, "modify", "bad-request", "a password change needs &lt;username/&gt; and &lt;password/&gt;")}},
		{name: "empty password", in: change(a, "", "alice", ""),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "empty password")}},
		{name: "control character", in: change(a, "", "alice", "bad\u0378"),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "password has characters a password may not have (RFC 8265 4.2)")}},
		// The same rules as the admin API's.
		{name: "too short", in: change(a, "", "alice", "short"),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "password too short: at least 8 characters")}},
		{name: "one character repeated", in: change(a, "", "alice", "aaaaaaaaaa"),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "password too easy to guess")}},
		{name: "unencrypted", in: change("alice@example.org/plain", "example.org", "alice", "new secret"),
			sent: []string{errReply("alice@example.org/plain", modtest.Domain, "modify", "not-authorized", "change the password over an encrypted stream")}},
		{name: "change", in: change(a, "example.org", "alice", "new secret"), password: "new secret"},
		{name: "change again, username as JID", in: change(a, "", "Alice@Example.org", "third\u00a0secret"), password: "third secret"},
		{name: "neither", in: `<iq type='set' id='r1' from='alice@example.org/a'><query xmlns='jabber:iq:register'><email>a@b.c</email></query></iq>`,
			sent: []string{errReply(a, "alice@example.org", "modify", "bad-request", "a password change needs &lt;username/&gt; and &lt;password/&gt;")}},
		{name: "remove with more", in: `<iq type='set' id='r1' from='alice@example.org/a'><query xmlns='jabber:iq:register'><remove/><username>alice</username></query></iq>`,
			sent: []string{errReply(a, "alice@example.org", "modify", "bad-request", "remove stands alone")}},
		{name: "unknown element", in: `<iq type='get' id='r1' from='alice@example.org/a'><register xmlns='jabber:iq:register'/></iq>`,
			cond: stanza.ServiceUnavailable},
		// Refused without echoing what may be a password (XEP-0077 3.3).
		{name: "unknown element set", in: `<iq type='set' id='r1' from='alice@example.org/a'><register xmlns='jabber:iq:register'><password>secret</password></register></iq>`,
			sent: []string{errReply(a, "alice@example.org", "cancel", "service-unavailable", "")}},
	}
	current := oldPassword
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			st := modtest.Stanza(t, tt.in)
			if st.To.IsZero() {
				st.To = st.From.Bare() // what the router does for a missing 'to'
			}
			res, e := modtest.ServeIQ(r, st)
			if tt.cond == "" && tt.sent != nil {
				if e != router.ErrAnswered {
					t.Fatalf("error = %v, want the module to answer", e)
				}
			} else {
				modtest.Answer(t, res, e, tt.want, tt.cond)
			}
			got := append(secure.Take(), plain.Take()...)
			if !slices.Equal(got, tt.sent) {
				t.Errorf("sent\n%q\nwant\n%q", got, tt.sent)
			}
			if tt.password != "" {
				current = tt.password
			}
			if got := password(t, db, oldPassword, "new secret", "third secret"); got != current {
				t.Errorf("password is %q, want %q", got, current)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	m, db, r, c := newModule(t)
	var removed []string
	m.accounts = removalFunc(func(user string) {
		// The answer must be queued before the sessions are closed.
		if c.Len() == 0 {
			t.Error("UserRemoved called before the result was sent")
		}
		removed = append(removed, user)
	})
	st := modtest.Stanza(t, `<iq type='set' id='unreg1' from='alice@example.org/a' to='alice@example.org'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	if _, e := modtest.ServeIQ(r, st); e != router.ErrAnswered {
		t.Fatalf("error = %v, want the module to answer", e)
	}
	if got, want := c.Take(), []string{`<iq xmlns="jabber:client" type="result" id="unreg1" to="alice@example.org/a" from="alice@example.org"/>`}; !slices.Equal(got, want) {
		t.Errorf("sent\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(removed, []string{"alice"}) {
		t.Errorf("UserRemoved calls = %q", removed)
	}
	if _, err := db.User(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("alice still exists: %v", err)
	}
	if _, err := db.User(ctx, "bob"); err != nil {
		t.Errorf("bob: %v", err)
	}
	// A second remove (a stale session) finds no account.
	if _, e := modtest.ServeIQ(r, st); e != router.ErrAnswered {
		t.Fatalf("error = %v, want the module to answer", e)
	}
	want := `<iq xmlns="jabber:client" id="unreg1" to="alice@example.org/a" from="alice@example.org" type="error"><error type="auth"><registration-required xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`
	if got := c.Take(); !slices.Equal(got, []string{want}) {
		t.Errorf("sent\n%q\nwant\n%q", got, want)
	}
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "jabber:iq:register" {
		t.Fatalf("features = %v", got)
	}
}

// removals is an Accounts that ignores removals.
type removals struct{}

func (*removals) UserRemoved(context.Context, string) {}

// removalFunc is an Accounts that calls itself.
type removalFunc func(user string)

func (f removalFunc) UserRemoved(_ context.Context, user string) { f(user) }
