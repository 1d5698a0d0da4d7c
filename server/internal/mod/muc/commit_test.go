package muc

import (
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

// eventually waits up to five seconds for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (a *fakeArchive) stored() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// TestCommitOutsideLock: an archived message's commit is waited for with
// no room lock held: while one waits, the room answers and queues the
// next message's write (their commits can be shared), and the messages
// still reach everyone in the order the room took them.
func TestCommitOutsideLock(t *testing.T) {
	a := &fakeArchive{}
	e := newEnv(t, modtest.DB(t, "alice", "bob"), a, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	gate := make(chan struct{})
	a.mu.Lock()
	a.gate = gate
	a.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() {
		e.send("bob", `<message to='tea@conference.example.org' type='groupchat' id='m1'><body>one</body></message>`)
	})
	eventually(t, "the first message is stored", func() bool { return a.stored() == 1 })
	wg.Go(func() {
		e.send("alice", `<message to='tea@conference.example.org' type='groupchat' id='m2'><body>two</body></message>`)
	})
	eventually(t, "the second message is stored while the first waits for its commit", func() bool { return a.stored() == 2 })
	e.send("alice", `<iq type='get' id='d' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	if got := e.take("alice"); !strings.Contains(got, `type="result" id="d"`) || strings.Contains(got, "<body>") {
		t.Errorf("while a commit was under way: %s", got)
	}
	close(gate)
	wg.Wait()
	got := e.take("bob")
	if i, j := strings.Index(got, `id="m1"`), strings.Index(got, `id="m2"`); i < 0 || j < i {
		t.Errorf("out of order: %s", got)
	}
}

// TestCommitFailed: a message whose archiving failed goes to nobody, is
// not in the history, and the sender gets the error.
func TestCommitFailed(t *testing.T) {
	a := &fakeArchive{fail: stanza.NewError(stanza.Wait, stanza.InternalServerError, "disk full")}
	e := newEnv(t, modtest.DB(t, "alice", "bob", "carol"), a, "alice", "bob", "carol")
	e.create("alice", "tea", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.join("bob", "tea", "Bob")
	e.take("alice")
	e.send("bob", `<message to='tea@conference.example.org' type='groupchat' id='m1'><body>lost</body></message>`)
	has(t, e.take("bob"), `type="error"`, `<internal-server-error`)
	if got := e.take("alice"); strings.Contains(got, "lost") {
		t.Errorf("a message not archived went out: %s", got)
	}
	if got := e.join("carol", "tea", "Carol"); strings.Contains(got, "lost") {
		t.Errorf("a message not archived is in the history: %s", got)
	}
}

// TestDestroyReuse: a destroyed room's archive is deleted after the
// destroy is answered; its name stays taken until then (a new room would
// find the old messages), and EnsureRoom waits for it.
func TestDestroyReuse(t *testing.T) {
	g := make(chan struct{})
	a := &fakeArchive{delGate: g}
	e := newEnv(t, modtest.DB(t, "alice", "bob"), a, "alice", "bob")
	e.create("alice", "tea", "Alice", "muc#roomconfig_enablearchiving", "1")
	e.send("alice", `<iq type='set' id='z' to='tea@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy/></query></iq>`)
	has(t, e.take("alice"), `type="result" id="z"`)
	e.send("bob", `<presence to='tea@conference.example.org/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	has(t, e.take("bob"), `type="error"`, `<conflict`)
	ensured := make(chan error)
	go func() { ensured <- e.m.EnsureRoom(t.Context(), "tea", RoomConfig{Persistent: true}) }()
	select {
	case err := <-ensured:
		t.Fatalf("EnsureRoom did not wait for the delete: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g)
	if err := <-ensured; err != nil {
		t.Fatal(err)
	}
	e.m.Close()
	if len(a.deleted) != 1 {
		t.Errorf("deleted: %v", a.deleted)
	}
}
