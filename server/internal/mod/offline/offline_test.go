package offline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// closingConn is the transport of a stream that is closing: no room, and
// Send refuses. gate, if set, holds the first Room call until closed.
type closingConn struct {
	gate chan struct{}
	once sync.Once
}

func (c *closingConn) Send(*stanza.Element, func(bool)) bool { return false }
func (c *closingConn) Room() (int, int) {
	c.once.Do(func() {
		if c.gate != nil {
			<-c.gate
		}
	})
	return 0, 0
}
func (c *closingConn) Close(string, string) {}

// refuser has room but refuses: a stream that closed after Room.
type refuser struct{}

func (*refuser) Send(*stanza.Element, func(bool)) bool { return false }
func (*refuser) Room() (int, int)                      { return 4096, 4 << 20 }
func (*refuser) Close(string, string)                  {}

// store stores n messages for bob directly in the database, as a previous
// run of the server would have.
func store(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := range n {
		xml := fmt.Sprintf(`<message xmlns="jabber:client" type="chat" from="alice@%s/r" to="bob@%s" id="m%d"><body>%d</body></message>`, modtest.Domain, modtest.Domain, i, i)
		if _, err := s.db.StoreOffline(context.Background(), "bob", "alice@"+modtest.Domain+"/r", []byte(xml), 0); err != nil {
			t.Fatal(err)
		}
	}
}

func available(t *testing.T, sess *router.Session) {
	t.Helper()
	sess.SetPresence(modtest.Element(t, `<presence xmlns="jabber:client"/>`), 0)
}

func bind(t *testing.T, r *router.Router, resource string, c router.Conn) *router.Session {
	t.Helper()
	j, err := jid.Parse("bob@" + modtest.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	sess := &router.Session{JID: j, Conn: c}
	r.Bind(sess)
	available(t, sess)
	return sess
}

// waitStored waits for bob to have n messages stored.
func waitStored(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.db.CountOffline(context.Background(), "bob")
		if err != nil {
			t.Fatal(err)
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob has %d messages stored, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHandOverToWaitingSession: a session that asks for its messages while
// a delivery to a closing session is under way gets them when that one
// ends, not at its next login.
func TestHandOverToWaitingSession(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain})
	store(t, s, 5)
	closing := &closingConn{gate: make(chan struct{})}
	s1 := bind(t, r, "one", closing)
	s2, c2 := modtest.Bind(t, r, "bob@"+modtest.Domain+"/two")
	s.Flush(t.Context(), s1)
	available(t, s2)
	s.Flush(t.Context(), s2) // the presence module's call for s2
	close(closing.gate)
	s.flushers.Wait()
	if c2.Len() != 5 {
		t.Errorf("the waiting session got %d of 5 messages", c2.Len())
	}
	waitStored(t, s, 0)
}

// TestHandOverSkipsClosingSession: when a session refuses a message, the
// delivery goes on with another available session, never with the one
// that is closing.
func TestHandOverSkipsClosingSession(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain})
	store(t, s, 5)
	s1 := bind(t, r, "one", &refuser{})
	s2, c2 := modtest.Bind(t, r, "bob@"+modtest.Domain+"/two")
	available(t, s2)
	s.Flush(t.Context(), s1)
	s.flushers.Wait()
	if c2.Len() != 5 {
		t.Errorf("the other session got %d of 5 messages", c2.Len())
	}
	waitStored(t, s, 0)
}

// TestNoRedeliveryWhileDeleteCommits: a page read while the delete of
// delivered messages commits does not hand them out again.
func TestNoRedeliveryWhileDeleteCommits(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain})
	sess, _ := modtest.Bind(t, r, "bob@"+modtest.Domain+"/two")
	again := 0
	for range 200 {
		store(t, s, 20)
		page, err := db.OfflinePage(t.Context(), "bob", 0, 100, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		s.mu.Lock()
		a := s.acct("bob")
		if a.delivered == nil {
			a.delivered = map[int64]bool{}
		}
		for _, m := range page {
			ids = append(ids, m.ID)
			a.delivered[m.ID] = true
		}
		s.mu.Unlock()
		s.delete("bob", a, ids) // queued, not waited for, as after a write
		f := &flush{s: s, a: a, user: "bob", sess: sess, ctx: t.Context()}
		out, err := f.read(0)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 {
			again++
		}
		waitStored(t, s, 0)
	}
	if again > 0 {
		t.Errorf("delivered messages handed out again in %d of 200 rounds", again)
	}
}

// TestCountsBeforeFirstStore: the quota's counts are read before anything
// counts, so a delivery at the first login after a restart leaves them
// right.
func TestCountsBeforeFirstStore(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	store(t, New(Deps{DB: db, Router: r, Domain: modtest.Domain}), 50) // before the restart
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain, Max: 60})
	sess, c := modtest.Bind(t, r, "bob@"+modtest.Domain+"/two")
	available(t, sess)
	s.Flush(t.Context(), sess)
	s.flushers.Wait()
	st := modtest.Stanza(t, `<message xmlns="jabber:client" type="chat" from="bob@`+modtest.Domain+`/two" to="alice@`+modtest.Domain+`"><body>x</body></message>`)
	if _, e := s.Store(t.Context(), "alice", st); e != nil {
		t.Fatal(e)
	}
	waitStored(t, s, 0)
	s.mu.Lock()
	count := s.accounts["bob"].count
	s.mu.Unlock()
	if c.Len() != 50 || count != 0 {
		t.Errorf("bob got %d of 50; the quota counts %d stored, want 0", c.Len(), count)
	}
}

// TestLargeStoredMessage: a message accepted at the node limit, and
// stamped with a delay on top, is delivered, not dropped as unreadable.
func TestLargeStoredMessage(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain})
	xml := `<message xmlns="jabber:client" type="chat" from="alice@` + modtest.Domain + `/r" to="bob@` + modtest.Domain + `"><body>big</body>` +
		strings.Repeat("<x/>", 4092) + `</message>`
	st := modtest.Stanza(t, xml)
	d, e := s.Store(t.Context(), "bob", st)
	if e != nil {
		t.Fatal(e)
	}
	<-d.Done()
	if e := d.Failed(); e != nil {
		t.Fatal(e)
	}
	sess, c := modtest.Bind(t, r, "bob@"+modtest.Domain+"/two")
	available(t, sess)
	s.Flush(t.Context(), sess)
	s.flushers.Wait()
	if c.Len() != 1 {
		t.Fatalf("got %d messages, want the one stored", c.Len())
	}
	waitStored(t, s, 0)
}

// TestRecount: messages written without the store (an import) count
// against the quota once Recount read them.
func TestRecount(t *testing.T) {
	db := modtest.DB(t, "alice", "bob")
	r := modtest.Router()
	s := New(Deps{DB: db, Router: r, Domain: modtest.Domain, Max: 3})
	st := modtest.Stanza(t, `<message xmlns="jabber:client" type="chat" from="bob@`+modtest.Domain+`/two" to="alice@`+modtest.Domain+`"><body>x</body></message>`)
	if _, e := s.Store(t.Context(), "alice", st); e != nil {
		t.Fatal(e)
	}
	waitStored(t, s, 0)
	for range 2 {
		if _, err := db.StoreOffline(t.Context(), "alice", "bob@"+modtest.Domain, st.El.Bytes(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Recount(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, e := s.Store(t.Context(), "alice", st); e == nil {
		t.Error("a fourth message was taken past a quota of three")
	}
}
