package ping

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

const domain = "example.org"

func newModule(t *testing.T, users ...string) *Module {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range users {
		c := storage.Credentials{Salt: []byte("salt"), Iters: 1, StoredKey: []byte("s"), ServerKey: []byte("k")}
		if err := db.CreateUser(ctx, storage.User{Name: u, SHA1: c, SHA256: c}); err != nil {
			t.Fatal(err)
		}
	}
	m := New(db, nil)
	m.Register(router.New(domain, nil))
	return m
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

func TestPing(t *testing.T) {
	m := newModule(t, "alice", "bob")
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
			res, e := m.handle(context.Background(), iq(t, tt.in))
			if tt.cond != "" {
				if e == nil || e.Condition != tt.cond {
					t.Fatalf("error = %v, want %s", e, tt.cond)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			if res != nil {
				t.Fatalf("payload %s, want an empty result", res)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(nil, nil).Features(); len(got) != 1 || got[0] != "urn:xmpp:ping" {
		t.Fatalf("features = %v", got)
	}
}
