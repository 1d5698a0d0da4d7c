package clock

import (
	"testing"
	"time"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

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
			res, e := modtest.IQ(t, modtest.Registered(m), tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New().Features().Server; len(got) != 1 || got[0] != "urn:xmpp:time" {
		t.Fatalf("features = %v", got)
	}
}
