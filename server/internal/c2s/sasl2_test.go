package c2s

import (
	"testing"

	"hearth/server/internal/stream"
)

func TestParseAuthenticate(t *testing.T) {
	for _, tt := range []struct {
		name, xml string
		fail      saslFailure // "" for none
		check     func(*sasl2Request) bool
	}{
		{"full", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><initial-response>AAAA</initial-response>
			<user-agent id='u-1'><software>Dino</software><device>phone</device></user-agent>
			<bind xmlns='urn:xmpp:bind:0'><tag> Dino </tag><enable xmlns='urn:xmpp:carbons:2'/><inactive xmlns='urn:xmpp:csi:0'/></bind>
			<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-EXPR'/><fast xmlns='urn:xmpp:fast:0' count='3' invalidate='1'/>
			<resume xmlns='urn:xmpp:sm:3' previd='x' h='1'/></authenticate>`, "",
			func(r *sasl2Request) bool {
				return r.mech == "HT-SHA-256-NONE" && r.initial == "AAAA" && r.agentID == "u-1" && r.software == "Dino" && r.device == "phone" &&
					r.bind != nil && r.bind.tag == "Dino" && len(r.bind.inline) == 2 && r.requestToken == "HT-SHA-256-EXPR" &&
					r.fast != nil && r.fast.count == 3 && r.fast.invalidate && r.resume != nil
			}},
		{"bare", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'/>`, "",
			func(r *sasl2Request) bool { return r.bind == nil && r.fast == nil && r.agentID == "" }},
		{"no count", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><fast xmlns='urn:xmpp:fast:0'/></authenticate>`, "",
			func(r *sasl2Request) bool { return r.fast.count == -1 && !r.fast.invalidate }},
		{"no mechanism", `<authenticate xmlns='urn:xmpp:sasl:2'/>`, "invalid-mechanism", nil},
		{"negative count", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><fast xmlns='urn:xmpp:fast:0' count='-1'/></authenticate>`, "malformed-request", nil},
		{"bad invalidate", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><fast xmlns='urn:xmpp:fast:0' invalidate='yes'/></authenticate>`, "malformed-request", nil},
		{"empty agent id", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><user-agent/></authenticate>`, "malformed-request", nil},
		{"two binds", `<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><bind xmlns='urn:xmpp:bind:0'/><bind xmlns='urn:xmpp:bind:0'/></authenticate>`, "malformed-request", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			el, err := stream.Unmarshal([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			r, f := parseAuthenticate(el)
			switch {
			case tt.fail != "":
				if f == nil || f.cond != tt.fail || f.counted {
					t.Fatalf("failure %+v, want uncounted %s", f, tt.fail)
				}
			case f != nil:
				t.Fatalf("refused: %+v", f)
			case !tt.check(r):
				t.Fatalf("parsed %+v", r)
			}
		})
	}
}

// FuzzParseAuthenticate: any <authenticate/> is read without a panic, and
// what is taken keeps the bounds the rest relies on.
func FuzzParseAuthenticate(f *testing.F) {
	f.Add(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='SCRAM-SHA-256'><initial-response>biwsbj1hbGljZQ==</initial-response><user-agent id='a'><software>S</software></user-agent><bind xmlns='urn:xmpp:bind:0'><tag>T</tag><enable xmlns='urn:xmpp:carbons:2'/></bind><request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/></authenticate>`)
	f.Add(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='HT-SHA-256-NONE'><fast xmlns='urn:xmpp:fast:0' count='99999999999999999999'/></authenticate>`)
	f.Add(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X'><user-agent id=''/></authenticate>`)
	f.Add(`<authenticate xmlns='urn:xmpp:sasl:2'/>`)
	f.Fuzz(func(t *testing.T, s string) {
		el, err := stream.Unmarshal([]byte(s))
		if err != nil {
			return
		}
		r, fail := parseAuthenticate(el)
		if fail != nil {
			if r != nil || fail.counted {
				t.Fatalf("a refusal with a request, or counted: %+v", fail)
			}
			return
		}
		if r.mech == "" || len(r.agentID) > maxAgentID || (r.fast != nil && r.fast.count < -1) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
