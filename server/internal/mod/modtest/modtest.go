// Package modtest is the unit-test harness of the feature modules under
// mod/: a real SQLite database in t.TempDir(), a router, stanzas parsed as
// a client stream carries them, sessions whose transport records what it
// is sent, and answers compared as XML. Only tests import it.
package modtest

import (
	"context"
	"path/filepath"
	"testing"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Domain is the server's domain in module tests.
const Domain = "example.org"

// DB opens a database in t.TempDir(), closed when the test ends, with an
// account for each of users (see AddUser).
func DB(t testing.TB, users ...string) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range users {
		AddUser(t, db, u)
	}
	return db
}

// AddUser creates an account. Its credentials are placeholders that match
// no password: a test that logs in or checks a password sets real ones with
// storage.NewCredentials.
func AddUser(t testing.TB, db *storage.DB, name string) {
	t.Helper()
	c := storage.Credentials{Salt: []byte("salt"), Iters: 1, StoredKey: []byte("s"), ServerKey: []byte("k")}
	if err := db.CreateUser(context.Background(), storage.User{Name: name, SHA1: c, SHA256: c}); err != nil {
		t.Fatal(err)
	}
}

// Router returns a router for Domain that discards its log.
func Router() *router.Router { return router.New(router.Config{Domain: Domain}) }

// Registrar is a module: it registers its handlers on a mux.
type Registrar interface{ Register(*router.Mux) }

// Registered returns a router (see Router) with m registered on it.
func Registered(m Registrar) *router.Router {
	r := Router()
	m.Register(r.Mux())
	return r
}

// IQ parses xml as a client stream carries it and runs the IQ handler r's
// mux has for it, as the router would, returning the answer instead of
// routing it: the handler's result or error, not-allowed for a payload
// registered for other types only, service-unavailable for an unknown
// one.
func IQ(t testing.TB, r *router.Router, xml string) (*stanza.Element, *stanza.Error) {
	t.Helper()
	return ServeIQ(r, Stanza(t, xml))
}

// ServeIQ is IQ for a stanza parsed already.
func ServeIQ(r *router.Router, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	target := router.ToServer
	switch {
	case st.To.Resource != "":
		target = router.ToFull
	case st.To.Local != "":
		target = router.ToAccount
	}
	return r.Mux().ServeIQ(context.Background(), st, target)
}

// Element parses one element as a client stream carries it: in the
// jabber:client namespace unless it declares another.
func Element(t testing.TB, xml string) *stanza.Element {
	t.Helper()
	el, err := stream.Unmarshal([]byte(xml))
	if err != nil {
		t.Fatalf("parse %s: %v", xml, err)
	}
	return el
}

// Stanza parses a stanza as the router hands it to a handler.
func Stanza(t testing.TB, xml string) *stanza.Stanza {
	t.Helper()
	st, e := stanza.Parse(Element(t, xml))
	if e != nil {
		t.Fatalf("parse %s: %v", xml, e)
	}
	return st
}

// Equal fails the test unless got is the element wantXML describes; an
// empty wantXML stands for no element (an IQ result without payload).
// Both are compared in one canonical form, the server's own serialisation:
// wantXML is parsed (see Element) and written back, so its quoting,
// empty-element form and redundant namespace declarations do not matter,
// while names, namespaces, attributes in their order, and text all do.
func Equal(t testing.TB, got *stanza.Element, wantXML string) {
	t.Helper()
	switch {
	case got == nil && wantXML == "":
		return
	case got == nil:
		t.Fatalf("got  no element\nwant %s", Element(t, wantXML))
	case wantXML == "":
		t.Fatalf("got  %s\nwant no element", got)
	}
	if g, w := got.String(), Element(t, wantXML).String(); g != w {
		t.Fatalf("got  %s\nwant %s", g, w)
	}
}

// Answer checks what an IQ handler returned: with cond set, an error with
// that condition; else no error and the result payload wantXML (see Equal).
func Answer(t testing.TB, res *stanza.Element, e *stanza.Error, wantXML, cond string) {
	t.Helper()
	if cond != "" {
		if e == nil || e.Condition != cond {
			t.Fatalf("error = %v, want %s", e, cond)
		}
		return
	}
	if e != nil {
		t.Fatalf("error %v", e)
	}
	Equal(t, res, wantXML)
}
