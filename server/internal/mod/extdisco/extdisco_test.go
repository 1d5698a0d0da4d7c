package extdisco

import (
	"testing"
	"time"

	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// fixed offers the services a LAN server would, with credentials that
// name the account.
type fixed struct{ on bool }

func (f fixed) Running() bool { return f.on }

func (f fixed) For(user string) []Service {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return []Service{
		{Type: "stun", Host: "192.0.2.7", Port: 3478, Transport: "udp"},
		{Type: "turn", Host: "192.0.2.7", Port: 3478, Transport: "udp", Restricted: true, Username: "1893553445:" + user, Password: "pw-" + user, Expires: exp},
		{Type: "turn", Host: "192.0.2.7", Port: 3478, Transport: "tcp", Restricted: true, Username: "1893553445:" + user, Password: "pw-" + user, Expires: exp},
		{Type: "turns", Host: "example.org", Port: 5349, Transport: "tcp", Restricted: true, Username: "1893553445:" + user, Password: "pw-" + user, Expires: exp},
	}
}

const (
	stun  = `<service xmlns="urn:xmpp:extdisco:2" type="stun" host="192.0.2.7" port="3478" transport="udp"/>`
	turnU = `<service xmlns="urn:xmpp:extdisco:2" type="turn" host="192.0.2.7" port="3478" transport="udp" restricted="1" username="1893553445:alice@example.org" password="pw-alice@example.org" expires="2030-01-02T03:04:05Z"/>`
	turnT = `<service xmlns="urn:xmpp:extdisco:2" type="turn" host="192.0.2.7" port="3478" transport="tcp" restricted="1" username="1893553445:alice@example.org" password="pw-alice@example.org" expires="2030-01-02T03:04:05Z"/>`
	turns = `<service xmlns="urn:xmpp:extdisco:2" type="turns" host="example.org" port="5349" transport="tcp" restricted="1" username="1893553445:alice@example.org" password="pw-alice@example.org" expires="2030-01-02T03:04:05Z"/>`
)

func TestRequests(t *testing.T) {
	iq := func(from, payload string) string {
		return `<iq type='get' id='1' from='` + from + `' to='example.org'>` + payload + `</iq>`
	}
	const alice = "alice@example.org/phone"
	tests := []struct {
		name, in, want, cond string
		off                  bool
	}{
		{"all", iq(alice, `<services xmlns='urn:xmpp:extdisco:2'/>`),
			`<services xmlns="urn:xmpp:extdisco:2">` + stun + turnU + turnT + turns + `</services>`, "", false},
		{"turn only", iq(alice, `<services xmlns='urn:xmpp:extdisco:2' type='turn'/>`),
			`<services xmlns="urn:xmpp:extdisco:2" type="turn">` + turnU + turnT + `</services>`, "", false},
		{"a type not offered", iq(alice, `<services xmlns='urn:xmpp:extdisco:2' type='ftp'/>`),
			`<services xmlns="urn:xmpp:extdisco:2" type="ftp"/>`, "", false},
		{"credentials", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='example.org' type='turns'/></credentials>`),
			`<credentials xmlns="urn:xmpp:extdisco:2">` + turns + `</credentials>`, "", false},
		{"credentials by port", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='192.0.2.7' type='turn' port='3478'/></credentials>`),
			`<credentials xmlns="urn:xmpp:extdisco:2">` + turnU + turnT + `</credentials>`, "", false},
		{"credentials of an unknown host", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.example.net' type='turn'/></credentials>`),
			"", stanza.ItemNotFound, false},
		{"credentials of STUN (it needs none)", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='192.0.2.7' type='stun'/></credentials>`),
			"", stanza.ItemNotFound, false},
		{"credentials of nothing", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'/>`), "", stanza.BadRequest, false},
		{"credentials without a host", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service type='turn'/></credentials>`), "", stanza.BadRequest, false},
		{"a bad port", iq(alice, `<credentials xmlns='urn:xmpp:extdisco:2'><service host='192.0.2.7' type='turn' port='99999'/></credentials>`), "", stanza.BadRequest, false},
		{"another server's user", iq("mallory@example.net/x", `<services xmlns='urn:xmpp:extdisco:2'/>`), "", stanza.Forbidden, false},
		{"another server", iq("example.net", `<services xmlns='urn:xmpp:extdisco:2'/>`), "", stanza.Forbidden, false},
		{"not running", iq(alice, `<services xmlns='urn:xmpp:extdisco:2'/>`), "", stanza.ServiceUnavailable, true},
		{"set", `<iq type='set' id='1' from='alice@example.org/phone' to='example.org'><services xmlns='urn:xmpp:extdisco:2'/></iq>`, "", stanza.NotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Deps{Domain: "example.org", Services: fixed{on: !tt.off}})
			res, e := modtest.IQ(t, modtest.Registered(m), tt.in)
			modtest.Answer(t, res, e, tt.want, tt.cond)
		})
	}
}

func TestFeatures(t *testing.T) {
	for _, on := range []bool{true, false} {
		f := New(Deps{Services: fixed{on: on}}).Features()
		if len(f.Server) != 1 || f.Server[0] != NS || f.On() != on {
			t.Errorf("running %v: features %v, on %v", on, f.Server, f.On())
		}
	}
}

var requestSeeds = []string{
	`<services xmlns='urn:xmpp:extdisco:2'/>`,
	`<services xmlns='urn:xmpp:extdisco:2' type='stun'/>`,
	`<credentials xmlns='urn:xmpp:extdisco:2'><service host='h' type='turn' port='3478'/></credentials>`,
	`<credentials xmlns='urn:xmpp:extdisco:2'><service host='h' type='turn'/><service host='i' type='turn'/></credentials>`,
	`<credentials xmlns='urn:xmpp:extdisco:2'><service xmlns='other' host='h' type='turn'/></credentials>`,
	`<credentials xmlns='urn:xmpp:extdisco:2'><service host='h' type='turn' port='-1'/></credentials>`,
	`<services xmlns='urn:xmpp:extdisco:1'/>`,
	`<other xmlns='urn:xmpp:extdisco:2'/>`,
}

// FuzzParseRequest: any payload is a request or a bad-request error, never
// a panic; a credentials request always names a host and a type.
func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := stream.Unmarshal(data)
		if err != nil {
			return
		}
		r, e := parseRequest(el)
		if e != nil {
			if e.Condition != stanza.BadRequest {
				t.Fatalf("%s: %v", data, e)
			}
			return
		}
		if r.name == "credentials" && (r.host == "" || r.typ == "" || r.port < 0 || r.port > 65535) {
			t.Fatalf("%s: %+v", data, r)
		}
		for _, s := range (fixed{}).For("a@b") {
			r.match(s)
		}
	})
}
