package version

import (
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

func TestVersion(t *testing.T) {
	withOS := New("1.2.3")
	withOS.OS = "Linux"
	tests := []struct {
		name string
		m    *Module
		in   string
		want string // result payload, or
		cond string // error condition
	}{
		{"server", New("1.2.3"), `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><query xmlns='jabber:iq:version'/></iq>`,
			`<query xmlns="jabber:iq:version"><name>Hearth</name><version>1.2.3</version></query>`, ""},
		{"with OS", withOS, `<iq type='get' id='1' from='other.net' to='example.org'><query xmlns='jabber:iq:version'/></iq>`,
			`<query xmlns="jabber:iq:version"><name>Hearth</name><version>1.2.3</version><os>Linux</os></query>`, ""},
		{"bare JID", New("1.2.3"), `<iq type='get' id='1' from='alice@example.org/a' to='bob@example.org'><query xmlns='jabber:iq:version'/></iq>`,
			"", stanza.ServiceUnavailable},
		{"set", New("1.2.3"), `<iq type='set' id='1' from='alice@example.org/a' to='example.org'><query xmlns='jabber:iq:version'/></iq>`,
			"", stanza.NotAllowed},
		{"unknown element", New("1.2.3"), `<iq type='get' id='1' from='alice@example.org/a' to='example.org'><version xmlns='jabber:iq:version'/></iq>`,
			"", stanza.ServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, modtest.Registered(tt.m), tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New("1").Features().Server; len(got) != 1 || got[0] != "jabber:iq:version" {
		t.Fatalf("features = %v", got)
	}
}
