package server_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
	"hearth/storage/storagetest"
)

// The tests of this file count messages: each carries id m<N>, and a
// sender counts it acknowledged once the server has answered a ping the
// sender wrote after it. Nothing acknowledged may be lost, nothing
// delivered twice, whatever happens to the recipient's stream.

// flood sends n messages of about size bytes from c to to, a ping after
// every chunk of them, and waits for the answer to each ping. It returns
// the ids of the messages that came back as errors, and the error of one.
func flood(t *testing.T, c *xmpptest.Client, to string, n, size, chunk int) (bounced map[string]bool, sample string) {
	t.Helper()
	pad := strings.Repeat("x", max(0, size-40))
	bounced = make(map[string]bool)
	var b strings.Builder
	for i := 0; i < n; {
		b.Reset()
		for j := 0; j < chunk && i < n; j, i = j+1, i+1 {
			fmt.Fprintf(&b, "<message to='%s' type='chat' id='m%d'><body>m%d %s</body></message>", to, i, i, pad)
		}
		ping := "p" + strconv.Itoa(i)
		fmt.Fprintf(&b, "<iq type='get' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", ping)
		c.Send(b.String())
		for {
			el := c.Next()
			if el.Name == "iq" && el.Attr("id") == ping {
				break
			}
			if el.Name == "message" && el.Attr("type") == "error" {
				bounced[el.Attr("id")] = true
				if sample == "" {
					sample = el.String()
					if i := strings.Index(sample, "<error"); i > 0 {
						sample = sample[i:] // not the body
					}
				}
			}
		}
	}
	return bounced, sample
}

// tally counts the messages m<N> among els into got; it returns how many
// arrived a second time.
func tally(els []*stanzaLike, got map[string]int) (dups int) {
	for _, el := range els {
		if el.name != "message" || !strings.HasPrefix(el.id, "m") {
			continue
		}
		got[el.id]++
		if got[el.id] == 2 {
			dups++
		}
	}
	return dups
}

// stanzaLike is what tally needs of a stanza.
type stanzaLike struct{ name, id string }

// collect keeps the name and id of what c receives until quiet, and
// nothing else (a backlog of large messages would weigh on the heap).
func collect(c *xmpptest.Client, quiet time.Duration) []*stanzaLike {
	var out []*stanzaLike
	c.Receive(quiet, func(el *stanza.Element) {
		out = append(out, &stanzaLike{name: el.Name, id: el.Attr("id")})
	})
	return out
}

// check fails unless every message m0..m<n-1> arrived exactly once or
// was bounced, and none both.
func check(t *testing.T, n int, got map[string]int, bounced map[string]bool) {
	t.Helper()
	var lost, dup, both []string
	for i := range n {
		id := "m" + strconv.Itoa(i)
		switch k := got[id]; {
		case k == 0 && !bounced[id]:
			lost = append(lost, id)
		case k > 1:
			dup = append(dup, id)
		case k > 0 && bounced[id]:
			both = append(both, id)
		}
	}
	delivered := 0
	for range got {
		delivered++
	}
	t.Logf("%d sent: %d delivered, %d refused", n, delivered, len(bounced))
	if len(lost)+len(dup)+len(both) > 0 {
		t.Errorf("lost %d %s, delivered twice %d %s, delivered and refused %d %s",
			len(lost), first(lost), len(dup), first(dup), len(both), first(both))
	}
}

func first(ids []string) string {
	if len(ids) > 5 {
		ids = ids[:5]
	}
	return fmt.Sprint(ids)
}

// heap samples the live heap (as the last collection found it) until stop
// is called and returns the most it saw above what it was at the start.
func heap() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestBacklogInOneLogin: a backlog larger than a session's queue reaches
// a slow reader in one login, in pages, with the server's memory bounded
// by a page and the queue, not by the backlog.
func TestBacklogInOneLogin(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int
		size  int
		rate  int    // the reader's bytes a second
		bound uint64 // the most the heap may grow while delivering
	}{
		{"5000 messages", 5000, 2000, 4 << 20, 16 << 20},
		{"100 messages of 200 KB", 100, 200 << 10, 8 << 20, 16 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := xmpptest.Start(t, func(c *server.Config) { c.OfflineMax = tt.n + 1 })
			srv.AddUser(t, "alice", secret("alice"))
			srv.AddUser(t, "bob", secret("bob"))
			alice := srv.Login(t, "alice", secret("alice"), "phone")
			if bounced, sample := flood(t, alice, "bob@hearth.test", tt.n, tt.size, 100); len(bounced) > 0 {
				t.Fatalf("%d messages refused: %s", len(bounced), sample)
			}
			srv.WaitOffline(t, "bob", tt.n)

			stop := heap()
			bob := srv.Login(t, "bob", secret("bob"), "pc")
			bob.Throttle(tt.rate)
			start := time.Now()
			bob.Send(`<presence/>`)
			got := map[string]int{}
			els := collect(bob, 2*time.Second)
			peak := stop()
			dups := tally(els, got)
			t.Logf("%d of %d messages in one login in %s, %d twice; heap grew by at most %.1f MiB (backlog %.1f MiB)",
				len(got), tt.n, time.Since(start).Round(time.Millisecond), dups, float64(peak)/(1<<20), float64(tt.n*tt.size)/(1<<20))
			check(t, tt.n, got, nil)
			if peak > tt.bound {
				t.Errorf("the heap grew by %.1f MiB, more than %.0f MiB", float64(peak)/(1<<20), float64(tt.bound)/(1<<20))
			}
			srv.WaitOffline(t, "bob", 0)
		})
	}
}

// TestFloodToSlowReader: a client that stops reading is cut off when its
// queue is full; what it was sent but did not take goes back to offline
// storage past the quota (it was acknowledged), and what comes after, once
// the quota is full, goes back to the sender as an error. Nothing is lost
// and nothing arrives twice.
func TestFloodToSlowReader(t *testing.T) {
	const n = 6000
	srv := xmpptest.Start(t, func(c *server.Config) {
		c.OfflineMax = 500
		c.QueueLimit = 200
	})
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	bob := online(t, srv, "bob", "pc", 0)
	bob.Pause()
	bounced, sample := flood(t, alice, "bob@hearth.test", n, 4000, 50)
	bob.TrySend("<iq type='get' id='late'><ping xmlns='urn:xmpp:ping'/></iq>") // unread: see TestWriteFailureNoDuplicate
	if len(bounced) == 0 {
		t.Fatal("nothing was refused: the quota did not apply")
	}
	if !strings.Contains(sample, "service-unavailable") || !strings.Contains(sample, "too many messages") {
		t.Errorf("refusal: %s", sample)
	}
	got := map[string]int{}
	bob.Resume()
	// What reached bob's socket before it was cut off.
	dups := tally(collect(bob, 2*time.Second), got)
	first := len(got)
	bob2 := online(t, srv, "bob", "pc", 0)
	dups += tally(collect(bob2, time.Second), got)
	t.Logf("bob read %d on the stream that was cut off, %d after logging in again; %d twice", first, len(got)-first, dups)
	check(t, n, got, bounced)
	srv.WaitOffline(t, "bob", 0)
}

// TestWriteFailureNoDuplicate: when a write to a client fails part way
// (the client stopped reading and the write timed out), only the
// messages that did not reach the socket go back to storage: the client
// reads the others from its socket and gets each message once.
func TestWriteFailureNoDuplicate(t *testing.T) {
	const n = 3000
	srv := xmpptest.Start(t, func(c *server.Config) {
		c.OfflineMax = n
		c.WriteTimeout = 300 * time.Millisecond
		c.QueueLimit = 1 << 20
		c.QueueBytes = 1 << 30
	})
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	bob := online(t, srv, "bob", "pc", 0)
	bob.Pause()
	if bounced, sample := flood(t, alice, "bob@hearth.test", n, 4000, 100); len(bounced) > 0 {
		t.Fatalf("%d refused: %s", len(bounced), sample)
	}
	// The writer times out on bob's full socket and gives up. bob still
	// sends: the server must read that before it closes the socket, or
	// the kernel resets the connection and drops what was written.
	for range 10 {
		bob.TrySend("<iq type='get' id='late'><ping xmlns='urn:xmpp:ping'/></iq>")
		time.Sleep(100 * time.Millisecond)
	}
	got := map[string]int{}
	bob.Resume()
	dups := tally(collect(bob, 2*time.Second), got)
	first := len(got)
	if first == n {
		t.Fatal("bob's socket took everything: no write failed")
	}
	bob2 := online(t, srv, "bob", "pc", 0)
	dups += tally(collect(bob2, time.Second), got)
	t.Logf("bob read %d from the stream whose write failed, %d after logging in again; %d twice", first, len(got)-first, dups)
	check(t, n, got, nil)
}

// TestFailedDeleteNoDuplicate: when the delete after a delivery fails
// (here another program holds the database's write lock), the messages
// are not delivered again at the next login, and the delete is retried.
func TestFailedDeleteNoDuplicate(t *testing.T) {
	const n = 200
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	srv.AddUser(t, "carol", secret("carol"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	if bounced, sample := flood(t, alice, "bob@hearth.test", n, 200, 50); len(bounced) > 0 {
		t.Fatalf("%d refused: %s", len(bounced), sample)
	}
	release := storagetest.HoldWriteLock(t, filepath.Join(srv.DataDir, "hearth.db"))
	got := map[string]int{}
	bob := online(t, srv, "bob", "pc", 0)
	dups := tally(collect(bob, time.Second), got)
	bob.Close()
	// The delete waits for the lock (the busy timeout) and fails; so does
	// a message for carol, who is offline: its sender is told, not kept
	// waiting without a word.
	start := time.Now()
	alice.Send(`<message to='carol@hearth.test' type='chat' id='locked'><body>later</body></message><iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>`)
	el := alice.NextWithin(15 * time.Second) // the busy timeout, twice at most
	t.Logf("a store under another program's lock was refused after %s: %s", time.Since(start).Round(time.Millisecond), el)
	if el.Attr("id") != "locked" || el.Attr("type") != "error" || !strings.Contains(el.String(), "internal-server-error") {
		t.Errorf("a message that could not be stored got %s", el)
	}
	alice.Expect(`<iq type='result' id='after' from='alice@hearth.test' to='alice@hearth.test/phone'/>`)
	bob2 := online(t, srv, "bob", "pc", 0)
	dups += tally(collect(bob2, time.Second), got)
	check(t, n, got, nil)
	release()
	bob2.Close()
	srv.WaitOffline(t, "bob", 0) // the retry
}
