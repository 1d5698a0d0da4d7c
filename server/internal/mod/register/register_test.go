package register

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

const domain = "example.org"

// conn is a session transport that keeps what it is sent.
type conn struct {
	sent   []string
	closed bool
}

func (c *conn) Send(el *stanza.Element) bool { c.sent = append(c.sent, el.String()); return true }
func (c *conn) Close(string, string)         { c.closed = true }

func (c *conn) take() []string {
	s := c.sent
	c.sent = nil
	return s
}

const oldPassword = "old secret"

func newDB(t *testing.T, users ...string) *storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range users {
		c1, c256, err := storage.NewCredentials(oldPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, storage.User{Name: u, SHA1: c1, SHA256: c256}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// iq parses a stanza as the router hands it to a handler.
func iq(t *testing.T, s string) *stanza.Stanza {
	t.Helper()
	el, err := stream.NewDecoder(strings.NewReader(s), stream.Limits{}).Next()
	if err != nil {
		t.Fatal(err)
	}
	el.NS = stanza.NSClient
	st, serr := stanza.Parse(el)
	if serr != nil {
		t.Fatal(serr)
	}
	return st
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
	ctx := context.Background()
	db := newDB(t, "alice", "bob")
	r := router.New(domain, nil)
	m := New(db, nil)
	m.Register(r)
	secure := &conn{}
	r.Bind(&router.Session{JID: jid.MustParse("alice@example.org/a"), Conn: secure, Secure: true})
	plain := &conn{}
	r.Bind(&router.Session{JID: jid.MustParse("alice@example.org/plain"), Conn: plain})

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
			sent: []string{errReply(a, domain, "modify", "bad-request", "username does not match the account")}},
		{name: "no username", in: change(a, "example.org", "-", "new secret"),
			sent: []string{errReply(a, domain, "modify", "bad-request", "a password change needs &lt;username/&gt; and &lt;password/&gt;")}},
		{name: "empty password", in: change(a, "", "alice", ""),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "empty password")}},
		{name: "control character", in: change(a, "", "alice", "bad\u0378"),
			sent: []string{errReply(a, "alice@example.org", "modify", "not-acceptable", "the password has characters that are not allowed")}},
		{name: "unencrypted", in: change("alice@example.org/plain", "example.org", "alice", "new secret"),
			sent: []string{errReply("alice@example.org/plain", domain, "modify", "not-authorized", "change the password over an encrypted stream")}},
		{name: "change", in: change(a, "example.org", "alice", "new secret"), password: "new secret"},
		{name: "change again, username as JID", in: change(a, "", "Alice@Example.org", "third\u00a0secret"), password: "third secret"},
		{name: "neither", in: `<iq type='set' id='r1' from='alice@example.org/a'><query xmlns='jabber:iq:register'><email>a@b.c</email></query></iq>`,
			sent: []string{errReply(a, "alice@example.org", "modify", "bad-request", "a password change needs &lt;username/&gt; and &lt;password/&gt;")}},
		{name: "remove with more", in: `<iq type='set' id='r1' from='alice@example.org/a'><query xmlns='jabber:iq:register'><remove/><username>alice</username></query></iq>`,
			sent: []string{errReply(a, "alice@example.org", "modify", "bad-request", "remove stands alone")}},
		{name: "unknown element", in: `<iq type='get' id='r1' from='alice@example.org/a'><register xmlns='jabber:iq:register'/></iq>`,
			cond: stanza.ServiceUnavailable},
	}
	current := oldPassword
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			st := iq(t, tt.in)
			if st.To.IsZero() {
				st.To = st.From.Bare() // what the router does for a missing 'to'
			}
			res, e := m.handle(ctx, st)
			switch {
			case tt.cond != "":
				if e == nil || e.Condition != tt.cond {
					t.Fatalf("error = %v, want %s", e, tt.cond)
				}
			case tt.sent != nil:
				if e != router.ErrAnswered {
					t.Fatalf("error = %v, want the module to answer", e)
				}
			default:
				if e != nil {
					t.Fatalf("error %v", e)
				}
				got := ""
				if res != nil {
					got = res.String()
				}
				if got != tt.want {
					t.Fatalf("got  %s\nwant %s", got, tt.want)
				}
			}
			got := append(secure.take(), plain.take()...)
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
	db := newDB(t, "alice", "bob")
	r := router.New(domain, nil)
	m := New(db, nil)
	m.Register(r)
	c := &conn{}
	r.Bind(&router.Session{JID: jid.MustParse("alice@example.org/a"), Conn: c, Secure: true})
	var removed []string
	m.OnRemove = func(_ context.Context, user string) {
		// The answer must be queued before the sessions are closed.
		if len(c.sent) == 0 {
			t.Error("OnRemove called before the result was sent")
		}
		removed = append(removed, user)
	}
	st := iq(t, `<iq type='set' id='unreg1' from='alice@example.org/a' to='alice@example.org'><query xmlns='jabber:iq:register'><remove/></query></iq>`)
	if _, e := m.handle(ctx, st); e != router.ErrAnswered {
		t.Fatalf("error = %v, want the module to answer", e)
	}
	if got, want := c.take(), []string{`<iq xmlns="jabber:client" type="result" id="unreg1" to="alice@example.org/a" from="alice@example.org"/>`}; !slices.Equal(got, want) {
		t.Errorf("sent\n%q\nwant\n%q", got, want)
	}
	if !slices.Equal(removed, []string{"alice"}) {
		t.Errorf("OnRemove calls = %q", removed)
	}
	if _, err := db.User(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("alice still exists: %v", err)
	}
	if _, err := db.User(ctx, "bob"); err != nil {
		t.Errorf("bob: %v", err)
	}
	// A second remove (a stale session) finds no account.
	if _, e := m.handle(ctx, st); e != router.ErrAnswered {
		t.Fatalf("error = %v, want the module to answer", e)
	}
	want := `<iq xmlns="jabber:client" id="unreg1" to="alice@example.org/a" from="alice@example.org" type="error"><error type="auth"><registration-required xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`
	if got := c.take(); !slices.Equal(got, []string{want}) {
		t.Errorf("sent\n%q\nwant\n%q", got, want)
	}
}

func TestFeatures(t *testing.T) {
	if got := New(nil, nil).Features(); len(got) != 1 || got[0] != "jabber:iq:register" {
		t.Fatalf("features = %v", got)
	}
}
