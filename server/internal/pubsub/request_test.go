package pubsub

import (
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

var seeds = []struct{ typ, xml string }{
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n' jid='a@b/c'/><options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#subscribe_options</value></field><field var='pubsub#deliver'><value>0</value></field></x></options></pubsub>`},
	{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n' max_items='3'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>x</after></set></pubsub>`},
	{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='n' jid='a@b' subid='s'/></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='n' jid='a@b'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver'><value>1</value></field></x></options></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='n'><affiliation jid='a@b' affiliation='member'/><affiliation jid='c@d' affiliation='none'/></affiliations></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions node='n'><subscription jid='a@b' subscription='subscribed'/></subscriptions></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>authorize</value></field><field var='pubsub#roster_groups_allowed'><value>A</value><value>B</value></field></x></configure></pubsub>`},
	{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='n'><item id='1'><entry xmlns='http://www.w3.org/2005/Atom'><title>t</title></entry></item></publish></pubsub>`},
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		typ, xml string
		cond     string // "" for a request
		pcond    string
	}{
		{seeds[0].typ, seeds[0].xml, "", ""},
		{seeds[1].typ, seeds[1].xml, "", ""},
		{seeds[5].typ, seeds[5].xml, "", ""},
		{seeds[7].typ, seeds[7].xml, "", ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n'/></pubsub>`, stanza.BadRequest, "jid-required"},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='n' jid='@@'/></pubsub>`, stanza.BadRequest, "invalid-jid"},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe jid='a@b'/></pubsub>`, stanza.BadRequest, "nodeid-required"},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></pubsub>`, stanza.BadRequest, ""},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/><set xmlns='http://jabber.org/protocol/rsm'><after>a</after><before>b</before></set></pubsub>`, stanza.BadRequest, ""},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='n'/><set xmlns='http://jabber.org/protocol/rsm'><index>1</index></set></pubsub>`, stanza.FeatureNotImplemented, "unsupported"},
		{"get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscriptions/><set xmlns='http://jabber.org/protocol/rsm'/></pubsub>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='n'><affiliation jid='a@b' affiliation='king'/></affiliations></pubsub>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='n'/></pubsub>`, stanza.BadRequest, ""},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><subscriptions><subscription jid='a@b' subscription='subscribed'/></subscriptions></pubsub>`, stanza.BadRequest, "nodeid-required"},
		{"set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='n' jid='a@b'/></pubsub>`, stanza.BadRequest, ""},
	} {
		p, err := stream.Unmarshal([]byte(tt.xml))
		if err != nil {
			t.Fatal(err)
		}
		_, e := Parse(tt.typ, p)
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

// service is a profile like the service's.
var service = Profile{Access: []string{AccessOpen, AccessPresence, AccessRoster, AccessAuthorize, AccessWhitelist},
	SendLast: []string{SendNever, SendOnSub}, Fixed: FixedWith(nil), Service: true, MaxItems: func() int { return 100 }}

// FuzzParse: any payload parses to a request or an error, never a panic;
// what parses has the parts its action needs, and its form applies to a
// node's configuration within the profile and renders.
func FuzzParse(f *testing.F) {
	for _, s := range seeds {
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
		r, e := Parse(typ, p)
		if (r == nil) == (e == nil) {
			t.Fatalf("request %v and error %v", r, e)
		}
		if r == nil {
			return
		}
		switch r.Action {
		case "publish":
			if len(r.Items) != 1 || r.Items[0].Payload == nil || r.Node == "" {
				t.Fatalf("publish without its item: %+v", r)
			}
		case "subscribe", "unsubscribe", "options":
			if r.JID.IsZero() || r.Node == "" {
				t.Fatalf("%s without its jid or node: %+v", r.Action, r)
			}
		}
		if r.Page != nil && (r.Page.Max > MaxPage || (r.Page.After != "" && r.Page.HasBefore)) {
			t.Fatalf("page out of bounds: %+v", r.Page)
		}
		if r.Form != nil {
			cfg := storage.PubsubNode{Node: r.Node, Access: AccessOpen, MaxItems: 10, SendLast: SendOnSub, PublishModel: "publishers"}
			c, _, e := service.Apply(cfg, r.Form)
			if e == nil && (c.MaxItems < 1 || c.MaxItems > 100 || !contains(service.Access, c.Access)) {
				t.Fatalf("configuration out of the profile: %+v", c)
			}
			service.Form(c)
		}
	})
}
