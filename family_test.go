package main

import (
	"strings"
	"testing"
)

// TestFamilyCircleCommand: `hearth config set family.circle true` on a
// running server makes its accounts contacts of each other at once (an
// online device gets the roster push), a new account joins them, a
// server started with the circle on takes in an account added while it
// was stopped, and a contact someone removed is not given back at the
// next start.
func TestFamilyCircleCommand(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "silver-kettle-pw", d)
	check(t, e, "", 0, "", "user", "add", "bob", "--password", "copper-lantern-pw", d)
	serve := func() *serveProc {
		s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
		return s
	}
	s := serve()

	alice := login(t, s.c2sTLS, "alice", "silver-kettle-pw")
	defer alice.Close()
	if _, err := alice.Write([]byte(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, alice, "</iq>")

	check(t, e, "", 0, `^$`, "config", "set", "family.circle", "true", d) // live: no restart
	if got := readUntil(t, alice, "</iq>"); !containsAll(got, "bob@test.home", "both", "<group>Family</group>") {
		t.Errorf("alice's roster push: %q", got)
	}
	check(t, e, "", 0, `(?m)^bob@test\.home +- +both +Family$`, "roster", "list", "alice", d)
	check(t, e, "", 0, "", "user", "add", "carol", "--password", "amber-teapot-pw", d)
	check(t, e, "", 0, `(?m)^alice@test\.home +- +both +Family\nbob@test\.home +- +both +Family$`, "roster", "list", "carol", d)
	check(t, e, "", 0, `(?m)^family\.circle +true +false `, "config", "list", d)
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, s.log())
	}

	// Added while no server runs: the next start takes dave in.
	check(t, e, "", 0, "", "user", "add", "dave", "--password", "walnut-harbor-pw", d)
	check(t, e, "", 0, `^CONTACT +NAME +SUBSCRIPTION +GROUPS\n$`, "roster", "list", "dave", d)
	s = serve()
	check(t, e, "", 0, `(?m)^alice@test\.home +- +both +Family\nbob@test\.home +- +both +Family\ncarol@test\.home +- +both +Family$`, "roster", "list", "dave", d)

	// alice removes bob: the next start does not give him back.
	check(t, e, "", 0, "", "roster", "del", "alice", "bob@test.home", d)
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, s.log())
	}
	s = serve()
	check(t, e, "", 0, `(?m)\A[^\n]*\ncarol@test\.home +- +both +Family\ndave@test\.home +- +both +Family\n\z`, "roster", "list", "alice", d)
	if code := s.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM: %d\n%s", code, s.log())
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
