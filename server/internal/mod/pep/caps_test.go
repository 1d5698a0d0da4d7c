package pep

import (
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// TestCapsCache: one query per verification string however many wait for
// it; an answer counts only from the JID asked, and only when it hashes
// to the verification string; a query unanswered past its time is asked
// again.
func TestCapsCache(t *testing.T) {
	c := newCapsCache()
	ex := capsExamples[0]
	k := capsKey{hash: "sha-1", ver: ex.ver, node: "http://code.google.com/p/exodus"}
	bob := jid.MustParse("bob@example.org/pc")
	carol := jid.MustParse("carol@example.org/pc")
	q := c.want(k, "alice", bob)
	if q == nil {
		t.Fatal("no query for an unknown verification string")
	}
	if c.want(k, "dave", carol) != nil {
		t.Fatal("a second query while one is under way")
	}
	answer := func(from jid.JID, id, typ, query string) (map[string]bool, []waiter, bool) {
		el := stanza.New("iq", stanza.NSClient, "type", typ, "id", id, "from", from.String())
		if query != "" {
			p, err := stream.Unmarshal([]byte(query))
			if err != nil {
				t.Fatal(err)
			}
			el.Append(p)
		}
		return c.answer(&stanza.Stanza{El: el, Kind: stanza.KindIQ, From: from, Type: typ, ID: id})
	}
	if _, _, ok := answer(carol, q.id, "result", ex.query); ok {
		t.Fatal("an answer from another JID was taken")
	}
	if _, _, ok := answer(bob, "other", "result", ex.query); ok {
		t.Fatal("an answer to another id was taken")
	}
	fs, ws, ok := answer(bob, q.id, "result", ex.query)
	if !ok || !fs["http://jabber.org/protocol/muc"] || len(ws) != 2 || ws[1].user != "dave" {
		t.Fatalf("answer: %v %v %v", fs, ws, ok)
	}
	if got, ok := c.features(k); !ok || len(got) != 4 {
		t.Fatalf("cached: %v %v", got, ok)
	}
	// A lie: the features do not hash to ver.
	lie := capsKey{hash: "sha-1", ver: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", node: k.node}
	q = c.want(lie, "alice", bob)
	if fs, _, ok := answer(bob, q.id, "result", ex.query); !ok || fs != nil {
		t.Fatalf("a mismatching answer: %v %v", fs, ok)
	}
	if _, ok := c.features(lie); ok {
		t.Fatal("a mismatching answer was cached")
	}
	// Unanswered past its time: asked again.
	k2 := capsKey{hash: "sha-1", ver: capsExamples[1].ver, node: "http://psi-im.org"}
	q = c.want(k2, "alice", bob)
	q.sent = time.Now().Add(-queryTimeout)
	if q2 := c.want(k2, "alice", carol); q2 == nil || q2.id == q.id {
		t.Fatal("an expired query was not asked again")
	}
	if _, _, ok := answer(bob, q.id, "result", capsExamples[1].query); ok {
		t.Fatal("the answer to an expired query was taken")
	}
}
