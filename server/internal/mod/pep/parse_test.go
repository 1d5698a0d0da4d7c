package pep

import (
	"slices"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// capsExamples are XEP-0115's own examples (5.2 and 5.3) with the
// verification strings it gives.
var capsExamples = []struct{ query, ver string }{
	{`<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`, "QgayPKawpkPSDYmwT/WM94uAlu0="},
	{`<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>`, "q07IKJEyjvHSyhy//CH0CxmKi8w="},
}

func TestCapsVer(t *testing.T) {
	for _, ex := range capsExamples {
		q, err := stream.Unmarshal([]byte(ex.query))
		if err != nil {
			t.Fatal(err)
		}
		got, err := capsVer(q, "sha-1")
		if err != nil || got != ex.ver {
			t.Errorf("capsVer = %q, %v; want %q", got, err, ex.ver)
		}
	}
	// XEP-0115 5.4: repeated features are not trusted.
	q, _ := stream.Unmarshal([]byte(`<query xmlns='http://jabber.org/protocol/disco#info'><feature var='a'/><feature var='a'/></query>`))
	if _, err := capsVer(q, "sha-1"); err == nil {
		t.Error("repeated feature accepted")
	}
	if _, err := capsVer(q, "md5"); err == nil {
		t.Error("md5 accepted")
	}
}

// FuzzCapsVer: any disco#info answer hashes without a panic, and the
// order of its children does not change the result.
func FuzzCapsVer(f *testing.F) {
	for _, ex := range capsExamples {
		f.Add([]byte(ex.query))
	}
	f.Add([]byte(`<query xmlns='http://jabber.org/protocol/disco#info'><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>a</value></field></x></query>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := stream.Unmarshal(data)
		if err != nil {
			return
		}
		v1, err1 := capsVer(q, "sha-1")
		r := q.Clone()
		slices.Reverse(r.Children)
		v2, err2 := capsVer(r, "sha-1")
		if (err1 == nil) != (err2 == nil) || v1 != v2 {
			t.Fatalf("order changed the result: %q %v / %q %v", v1, err1, v2, err2)
		}
	})
}

var requestSeeds = []struct{ typ, xml string }{
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item id='1'><p xmlns='urn:p'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub>`},
	{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n' max_items='2'><item id='a'/></items></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='n' notify='true'><item id='a'/></retract></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='n'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>max</value></field></x></configure></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>whitelist</value></field></x></configure></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='n'/></pubsub>`},
	{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><affiliations/></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><a xmlns='x'/><b xmlns='x'/></item></publish></pubsub>`},
}

func TestParseRequest(t *testing.T) {
	for _, tt := range []struct {
		typ, xml string
		cond     string // "" for a request
		pcond    string
	}{
		{requestSeeds[0].typ, requestSeeds[0].xml, "", ""},
		{requestSeeds[1].typ, requestSeeds[1].xml, "", ""},
		{requestSeeds[7].typ, requestSeeds[7].xml, stanza.BadRequest, "invalid-payload"},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item><a xmlns='x'/></item></publish></pubsub>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><collection node='n'/></pubsub>`, stanza.FeatureNotImplemented, "unsupported"},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='n'/></pubsub>`, stanza.BadRequest, "item-required"},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create/></pubsub>`, stanza.NotAcceptable, "nodeid-required"},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n' max_items='-1'/></pubsub>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'/>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='a'><item><a xmlns='x'/></item></publish><publish node='b'/></pubsub>`, stanza.BadRequest, ""},
	} {
		p, err := stream.Unmarshal([]byte(tt.xml))
		if err != nil {
			t.Fatal(err)
		}
		_, e := parseRequest(tt.typ, p)
		switch {
		case tt.cond == "" && e != nil:
			t.Errorf("%s: %v", tt.xml, e)
		case tt.cond != "" && (e == nil || e.Condition != tt.cond):
			t.Errorf("%s: error %v, want %s", tt.xml, e, tt.cond)
		case tt.pcond != "" && (e.Extra == nil || e.Extra.Name != tt.pcond):
			t.Errorf("%s: pubsub condition %v, want %s", tt.xml, e.Extra, tt.pcond)
		}
	}
}

// FuzzParseRequest: any payload parses to a request or an error, never a
// panic, and a publish request always has its one payload.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add(s.typ == "set", []byte(s.xml))
	}
	f.Fuzz(func(t *testing.T, set bool, data []byte) {
		p, err := stream.Unmarshal(data)
		if err != nil {
			return
		}
		typ := "get"
		if set {
			typ = "set"
		}
		r, e := parseRequest(typ, p)
		if (r == nil) == (e == nil) {
			t.Fatalf("request %v and error %v", r, e)
		}
		if r != nil && r.Action == "publish" && (len(r.Items) != 1 || r.Items[0].Payload == nil || r.Node == "") {
			t.Fatalf("publish without its item: %+v", r)
		}
		if r != nil && r.Form != nil {
			cfg, _, _ := apply(defaultConfig(r.Node), r.Form)
			configForm(cfg)
		}
	})
}
