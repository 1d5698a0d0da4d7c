package vcard

import (
	"testing"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
)

func TestVCard(t *testing.T) {
	r := modtest.Registered(New(Deps{DB: modtest.DB(t, "alice", "bob")}))
	const card = `<vCard xmlns='vcard-temp'><FN>Alice &amp; Co</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>` +
		`<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO><DESC xml:lang='en'>Down the
rabbit hole</DESC><x xmlns='urn:example:ext' a='1'/></vCard>`
	const stored = `<vCard xmlns="vcard-temp"><FN>Alice &amp; Co</FN><N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>` +
		`<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO><DESC xml:lang="en">Down the
rabbit hole</DESC><x xmlns="urn:example:ext" a="1"/></vCard>`
	iqs := func(typ, from, to, payload string) string {
		return `<iq type='` + typ + `' id='v1' from='` + from + `' to='` + to + `'>` + payload + `</iq>`
	}
	const empty = `<vCard xmlns='vcard-temp'/>`
	// The steps run in order: later ones see what earlier ones stored.
	steps := []struct {
		name, in string
		want     string // result payload ("" for an empty result), or
		cond     string // error condition
	}{
		{"own, none stored", iqs("get", "alice@example.org/a", "alice@example.org", empty), `<vCard xmlns="vcard-temp"/>`, ""},
		{"other, none stored", iqs("get", "bob@example.org/b", "alice@example.org", empty), "", stanza.ServiceUnavailable},
		{"set own", iqs("set", "alice@example.org/a", "alice@example.org", card), "", ""},
		{"get own", iqs("get", "alice@example.org/b", "alice@example.org", empty), stored, ""},
		{"get other's", iqs("get", "bob@example.org/b", "alice@example.org", empty), stored, ""},
		{"get from remote", iqs("get", "romeo@remote.net/r", "alice@example.org", empty), stored, ""},
		{"set other's", iqs("set", "bob@example.org/b", "alice@example.org", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), "", stanza.Forbidden},
		{"set from remote", iqs("set", "alice@remote.net/r", "alice@example.org", `<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>`), "", stanza.Forbidden},
		{"unchanged", iqs("get", "alice@example.org/a", "alice@example.org", empty), stored, ""},
		{"replace", iqs("set", "alice@example.org/a", "alice@example.org", `<vCard xmlns='vcard-temp'><NICKNAME>al</NICKNAME></vCard>`), "", ""},
		{"replaced", iqs("get", "bob@example.org/b", "alice@example.org", empty), `<vCard xmlns="vcard-temp"><NICKNAME>al</NICKNAME></vCard>`, ""},
		{"clear", iqs("set", "alice@example.org/a", "alice@example.org", empty), "", ""},
		{"cleared", iqs("get", "bob@example.org/b", "alice@example.org", empty), `<vCard xmlns="vcard-temp"/>`, ""},
		{"no such account", iqs("get", "alice@example.org/a", "nobody@example.org", empty), "", stanza.ServiceUnavailable},
		{"server", iqs("get", "alice@example.org/a", "example.org", empty), "", stanza.ItemNotFound},
		{"set server", iqs("set", "alice@example.org/a", "example.org", empty), "", stanza.Forbidden},
		{"unknown element", iqs("get", "alice@example.org/a", "alice@example.org", `<vcard xmlns='vcard-temp'/>`), "", stanza.ServiceUnavailable},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			res, e := modtest.IQ(t, r, tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	if got := New(Deps{}).Features().Server; len(got) != 1 || got[0] != "vcard-temp" {
		t.Fatalf("features = %v", got)
	}
}
