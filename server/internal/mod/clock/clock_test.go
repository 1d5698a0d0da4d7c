package clock

import (
	"context"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

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

func TestTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 17, 58, 35, 123456789, time.UTC)
	const get = `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><time xmlns='urn:xmpp:time'/></iq>`
	tests := []struct {
		name string
		loc  *time.Location
		in   string
		want string
		cond string
	}{
		{"UTC", time.UTC, get,
			`<time xmlns="urn:xmpp:time"><tzo>+00:00</tzo><utc>2026-03-01T17:58:35.123Z</utc></time>`, ""},
		{"west", time.FixedZone("x", -6*3600), get,
			`<time xmlns="urn:xmpp:time"><tzo>-06:00</tzo><utc>2026-03-01T17:58:35.123Z</utc></time>`, ""},
		{"half hour", time.FixedZone("x", 5*3600+1800), get,
			`<time xmlns="urn:xmpp:time"><tzo>+05:30</tzo><utc>2026-03-01T17:58:35.123Z</utc></time>`, ""},
		{"bare JID", time.UTC, `<iq type='get' id='1' from='alice@example.org/a' to='bob@example.org'><time xmlns='urn:xmpp:time'/></iq>`,
			"", stanza.ServiceUnavailable},
		{"set", time.UTC, `<iq type='set' id='1' from='alice@example.org/a' to='example.org'><time xmlns='urn:xmpp:time'/></iq>`,
			"", stanza.NotAllowed},
		{"unknown element", time.UTC, `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><clock xmlns='urn:xmpp:time'/></iq>`,
			"", stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.Location = tt.loc
			m.now = func() time.Time { return now }
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
			if got := res.String(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New().Features(); len(got) != 1 || got[0] != "urn:xmpp:time" {
		t.Fatalf("features = %v", got)
	}
}
