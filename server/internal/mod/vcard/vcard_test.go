package vcard

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
	m.Register(router.New("example.org", nil))
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

func TestVCard(t *testing.T) {
	m := newModule(t, "alice", "bob")
	const card = `<vCard xmlns='vcard-temp'><FN>Alice &amp; Co</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>` +
		`<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO><DESC xml:lang='en'>Down the
rabbit hole</DESC><x xmlns='urn:example:ext' a='1'/></vCard>`
	const stored = `<vCard xmlns="vcard-temp"><FN>Alice &amp; Co</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>` +
		`<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO><DESC xml:lang="en">Down the
rabbit hole</DESC><x xmlns="urn:example:ext" a="1"/></vCard>`
	iqs := func(typ, from, to, payload string) string {
		return `<iq type='` + typ + `' id='v1' from='` + from + `' to='` + to + `'>` + payload + `</iq>`
	}
	const empty = `<vCard xmlns='vcard-temp'/>`
	// The steps run in order: later ones see what earlier ones stored.
	steps := []struct {
		name, in string
		want     string // result payload ("" for an empty result), or
		cond     string // error condition
	}{
		{"own, none stored", iqs("get", "alice@example.org/a", "alice@example.org", empty), `<vCard xmlns="vcard-temp"/>`, ""},
		{"other, none stored", iqs("get", "bob@example.org/b", "alice@example.org", empty), "", stanza.ServiceUnavailable},
		{"set own", iqs("set", "alice@example.org/a", "alice@example.org", card), "", ""},
		{"get own", iqs("get", "alice@example.org/b", "alice@example.org", empty), stored, ""},
		{"get other's", iqs("get", "bob@example.org/b", "alice@example.org", empty), stored, ""},
		{"get from remote", iqs("get", "romeo@remote.net/r", "alice@example.org", empty), stored, ""},
		{"set other's", iqs("set", "bob@example.org/b", "alice@example.org", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), "", stanza.Forbidden},
		{"set from remote", iqs("set", "alice@remote.net/r", "alice@example.org", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), "", stanza.Forbidden},
		{"unchanged", iqs("get", "alice@example.org/a", "alice@example.org", empty), stored, ""},
		{"replace", iqs("set", "alice@example.org/a", "alice@example.org", `<vCard xmlns='vcard-temp'><NICKNAME>al</NICKNAME></vCard>`), "", ""},
		{"replaced", iqs("get", "bob@example.org/b", "alice@example.org", empty), `<vCard xmlns="vcard-temp"><NICKNAME>al</NICKNAME></vCard>`, ""},
		{"clear", iqs("set", "alice@example.org/a", "alice@example.org", empty), "", ""},
		{"cleared", iqs("get", "bob@example.org/b", "alice@example.org", empty), `<vCard xmlns="vcard-temp"/>`, ""},
		{"no such account", iqs("get", "alice@example.org/a", "nobody@example.org", empty), "", stanza.ServiceUnavailable},
		{"server", iqs("get", "alice@example.org/a", "example.org", empty), "", stanza.ItemNotFound},
		{"set server", iqs("set", "alice@example.org/a", "example.org", empty), "", stanza.Forbidden},
		{"unknown element", iqs("get", "alice@example.org/a", "alice@example.org", `<vcard xmlns='vcard-temp'/>`), "", stanza.ServiceUnavailable},
	}
	for _, tt := range steps {
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
			got := ""
			if res != nil {
				got = res.String()
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(nil, nil).Features(); len(got) != 1 || got[0] != "vcard-temp" {
		t.Fatalf("features = %v", got)
	}
}
