package pep

import (
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// TestCapsCache: one query per verification string however many wait for
// it; an answer counts only when it hashes to the verification string (that
// it comes from the JID asked is router.Request's: TestRequest); a query
// unanswered past its time, or failed, is asked again.
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
	answer := func(q *capsQuery, typ, query string) (map[string]bool, []waiter, bool) {
		el := stanza.New("iq", stanza.NSClient, "type", typ, "id", "req-1", "from", q.to.String())
		if query != "" {
			p, err := stream.Unmarshal([]byte(query))
			if err != nil {
				t.Fatal(err)
			}
			el.Append(p)
		}
		return c.answered(q, &stanza.Stanza{El: el, Kind: stanza.KindIQ, From: q.to, Type: typ, ID: "req-1"})
	}
	fs, ws, ok := answer(q, "result", ex.query)
	if !ok || !fs["http://jabber.org/protocol/muc"] || len(ws) != 2 || ws[1].user != "dave" {
		t.Fatalf("answer: %v %v %v", fs, ws, ok)
	}
	if got, ok := c.features(k); !ok || len(got) != 4 {
		t.Fatalf("cached: %v %v", got, ok)
	}
	// A lie: the features do not hash to ver.
	lie := capsKey{hash: "sha-1", ver: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", node: k.node}
	q = c.want(lie, "alice", bob)
	if fs, _, ok := answer(q, "result", ex.query); !ok || fs != nil {
		t.Fatalf("a mismatching answer: %v %v", fs, ok)
	}
	if _, ok := c.features(lie); ok {
		t.Fatal("a mismatching answer was cached")
	}
	// Unanswered past its time: asked again, and the late answer to the
	// first query is not taken.
	k2 := capsKey{hash: "sha-1", ver: capsExamples[1].ver, node: "http://psi-im.org"}
	q = c.want(k2, "alice", bob)
	q.sent = time.Now().Add(-queryTimeout)
	q2 := c.want(k2, "alice", carol)
	if q2 == nil || q2 == q {
		t.Fatal("an expired query was not asked again")
	}
	if _, _, ok := answer(q, "result", capsExamples[1].query); ok {
		t.Fatal("the answer to an expired query was taken")
	}
	// A query with no answer is given up: the next presence asks again.
	c.failed(q2)
	if c.want(k2, "alice", carol) == nil {
		t.Fatal("a failed query was not asked again")
	}
}
