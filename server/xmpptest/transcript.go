package xmpptest

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var stepRE = regexp.MustCompile(`(?m)^\s*(\w+) (sends|receives|receives nothing more|receives nothing yet)(:|\s*$)`)

// Play runs a transcript against logged-in clients, one step a line:
//
//	alice sends: <message to='bob@hearth.test'><body>hi</body></message>
//	bob receives: <message from='alice@hearth.test/phone' to='*' ...>...</message>
//	bob receives nothing more
//
// XML may continue over several lines. "receives" waits for a matching
// stanza (see Client.Expect); "receives nothing more" is a Sync barrier;
// "receives nothing yet" checks that nothing arrives for a moment without
// sending anything (a client whose server holds stanzas for it: a Sync's
// answer would release them). Make the sender Sync first, so that what it
// sent was routed.
// Lines starting with # are comments.
func Play(t testing.TB, clients map[string]*Client, script string) {
	t.Helper()
	// Failures belong to the (sub)test that plays the transcript.
	for _, c := range clients {
		old := c.t
		c.t = t
		defer func() { c.t = old }()
	}
	var lines []string
	for _, l := range strings.Split(script, "\n") {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") {
			lines = append(lines, l)
		}
	}
	text := strings.Join(lines, "\n")
	idx := stepRE.FindAllStringSubmatchIndex(text, -1)
	if len(idx) == 0 {
		t.Fatalf("empty transcript")
	}
	for i, m := range idx {
		end := len(text)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		who, verb := text[m[2]:m[3]], text[m[4]:m[5]]
		body := strings.TrimSpace(text[m[1]:end])
		c := clients[who]
		if c == nil {
			t.Fatalf("transcript: unknown client %q", who)
		}
		switch verb {
		case "sends":
			c.Send(body)
		case "receives":
			c.Expect(body)
		case "receives nothing more":
			c.Sync()
		case "receives nothing yet":
			c.Quiet(200 * time.Millisecond)
		}
	}
}
