package server_test

import (
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"hearth/server"
	"hearth/server/internal/c2s"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// TestBOSH: a client logs in over BOSH (XEP-0206: session request,
// SCRAM, restart, bind) on the HTTPS listener, chats with a TCP client
// both ways, turns on stream management, and ends the session with a
// terminate request carrying its last presence.
func TestBOSH(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")

	c := newBOSHClient(t, srv)
	first := c.create()
	for name, want := range map[string]string{"hold": "1", "requests": "2", "wait": "10", "ver": "1.6", "from": "hearth.test", "secure": "true", "polling": "2", "inactivity": "60"} {
		if got := first.Attr(name); got != want {
			t.Errorf("session answer %s=%q, want %q: %s", name, got, want, first)
		}
	}
	if first.Attr("authid") == "" || !strings.Contains(first.String(), `version="1.0"`) {
		t.Errorf("session answer: %s", first)
	}
	// A second client logs in with the whole dance.
	a := newBOSHClient(t, srv)
	a.login("alice", secret("alice"), "web")
	// The XML console sees a BOSH stream's elements, not its bodies.
	frames, err := srv.Admin.Console(t.Context(), "alice@hearth.test/web")
	if err != nil {
		t.Fatal(err)
	}

	a.sendXML(`<message xmlns='jabber:client' to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello over BOSH</body></message>`)
	bob.Expect(`<message from='alice@hearth.test/web' to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello over BOSH</body></message>`)
	bob.Send(`<message to='alice@hearth.test/web' id='m2' type='chat'><body>hello from the laptop</body></message>`)
	a.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/web' id='m2' type='chat'><body>hello from the laptop</body></message>`)
	for _, want := range []string{"in hello over BOSH", "out hello from the laptop"} {
		dir, text, _ := strings.Cut(want, " ")
		for seen := false; !seen; {
			select {
			case fr := <-frames:
				if strings.Contains(fr.XML, "httpbind") {
					t.Fatalf("console shows a body: %+v", fr)
				}
				seen = fr.Dir == dir && strings.Contains(fr.XML, text)
			case <-time.After(10 * time.Second):
				t.Fatalf("console: no frame for %s", want)
			}
		}
	}

	a.sendXML(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := a.nextEl()
	if en.Name != "enabled" || en.Attr("resume") != "true" || en.Attr("id") == "" {
		t.Fatalf("enable: %s", en)
	}
	bob.Send(`<message to='alice@hearth.test/web' id='m3' type='chat'><body>counted</body></message>`)
	a.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/web' id='m3' type='chat'><body>counted</body></message>`)
	a.expect(`<r xmlns='urn:xmpp:sm:3'/>`)
	a.sendXML(`<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>`)
	a.expect(`<a xmlns='urn:xmpp:sm:3' h='0'/>`)

	// Several stanzas in one request, several in one answer.
	a.sendXML(`<iq xmlns='jabber:client' type='get' id='p1' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq><iq xmlns='jabber:client' type='get' id='p2' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	a.expect(`<iq xmlns='jabber:client' type='result' id='p1' from='hearth.test' to='alice@hearth.test/web'/>`)
	a.expect(`<iq xmlns='jabber:client' type='result' id='p2' from='hearth.test' to='alice@hearth.test/web'/>`)

	a.send(`type='terminate'`, `<presence xmlns='jabber:client' type='unavailable'/>`)
	if end := a.terminated(); end.Attr("condition") != "" {
		t.Fatalf("terminate answered %s", end)
	}
	bob.Send(`<message to='alice@hearth.test/web' id='m4' type='chat'><body>gone?</body></message>`)
	srv.WaitOffline(t, "alice", 1)
}

// TestBOSHRules: the terminal conditions of XEP-0124 17 for requests
// that break a session's rules, and a request sent again getting the
// answer it had (14.3).
func TestBOSHRules(t *testing.T) {
	srv := xmpptest.Start(t)
	hc := srv.HTTPClient()
	url := "https://" + srv.Domain + "/http-bind"
	cond := func(t *testing.T, el interface{ Attr(string) string }, want string) {
		t.Helper()
		if el.Attr("type") != "terminate" || el.Attr("condition") != want {
			t.Fatalf("answer %v, want terminate %s", el, want)
		}
	}
	t.Run("unknown sid", func(t *testing.T) {
		cond(t, rawPost(t, hc, url, `<body xmlns='http://jabber.org/protocol/httpbind' rid='5' sid='nope'/>`), "item-not-found")
	})
	t.Run("not a body", func(t *testing.T) {
		cond(t, rawPost(t, hc, url, `<bodyy xmlns='http://jabber.org/protocol/httpbind' rid='5'/>`), "bad-request")
		cond(t, rawPost(t, hc, url, `<body xmlns='http://jabber.org/protocol/httpbind' rid='5' to='hearth.test'`), "bad-request")
		cond(t, rawPost(t, hc, url, `<body xmlns='http://jabber.org/protocol/httpbind' to='hearth.test'/>`), "bad-request")
	})
	t.Run("unknown host", func(t *testing.T) {
		cond(t, rawPost(t, hc, url, `<body xmlns='http://jabber.org/protocol/httpbind' rid='5' to='elsewhere.test' wait='5' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`), "host-unknown")
	})
	t.Run("too big before login", func(t *testing.T) {
		c := newBOSHClient(t, srv)
		c.create()
		big := `<message xmlns='jabber:client'><body>` + strings.Repeat("x", 12<<10) + `</body></message>`
		cond(t, rawPost(t, hc, url, c.body(c.rid, "", big)), "policy-violation")
		// The session is over.
		cond(t, rawPost(t, hc, url, c.body(c.rid+1, "", "")), "item-not-found")
	})
	t.Run("rid out of window", func(t *testing.T) {
		c := newBOSHClient(t, srv)
		c.create()
		cond(t, rawPost(t, hc, url, c.body(c.rid+5, "", "")), "item-not-found")
		cond(t, rawPost(t, hc, url, c.body(c.rid, "", "")), "item-not-found")
	})
	t.Run("repeated rid", func(t *testing.T) {
		c := newBOSHClient(t, srv)
		first := c.create()
		again := rawPost(t, hc, url, c.body(c.rid-1, `to='hearth.test' wait='5' hold='1'`, ""))
		if again.String() != first.String() {
			t.Fatalf("the session's creation sent again:\n%s\nfirst:\n%s", again, first)
		}
		ping := `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='NOPE'/>`
		a := rawPost(t, hc, url, c.body(c.rid, "", ping))
		b := rawPost(t, hc, url, c.body(c.rid, "", ping))
		if a.String() != b.String() {
			t.Fatalf("a request sent again:\n%s\nfirst:\n%s", b, a)
		}
	})
	t.Run("CORS", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", "https://web.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("preflight: %s %v", resp.Status, resp.Header)
		}
	})
}

// TestBOSHResume: stream management over BOSH (XEP-0198): a session whose
// BOSH session broke (a request out of its window ends it with
// item-not-found) is held; what comes meanwhile waits, and a new BOSH
// session resumes it and gets it.
func TestBOSHResume(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	a := newBOSHClient(t, srv)
	a.login("alice", secret("alice"), "web")
	a.sendXML(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := a.nextEl()
	id := en.Attr("id")
	if en.Name != "enabled" || id == "" {
		t.Fatalf("enable: %s", en)
	}
	a.sendXML(`<presence xmlns='jabber:client' to='bob@hearth.test/laptop'/>`)
	bob.Expect(`<presence from='alice@hearth.test/web' to='bob@hearth.test/laptop'/>`)
	end := rawPost(t, srv.HTTPClient(), a.url, a.body(a.rid+10, "", ""))
	if end.Attr("condition") != "item-not-found" {
		t.Fatalf("out of the window: %s", end)
	}
	a.terminated()
	bob.Send(`<message to='alice@hearth.test/web' id='held' type='chat'><body>while you were away</body></message>`)

	a2 := newBOSHClient(t, srv)
	a2.auth("alice", secret("alice"))
	a2.sendXML(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	r := a2.nextEl()
	if r.Name != "resumed" || r.Attr("previd") != id {
		t.Fatalf("resume: %s", r)
	}
	a2.poll()
	a2.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/web' id='held' type='chat'><body>while you were away</body></message>`)
	a2.sendXML(`<message xmlns='jabber:client' to='bob@hearth.test/laptop' id='back' type='chat'><body>back</body></message>`)
	bob.Expect(`<message from='alice@hearth.test/web' to='bob@hearth.test/laptop' id='back' type='chat'><body>back</body></message>`)
}

// TestBOSHAdmission: BOSH sessions count as connections do, with TCP's:
// too many logging in from one address are refused (policy-violation for
// a BOSH session, a stream error on TCP), and one that does not log in
// within the time given is ended with connection-timeout in its waiting
// request.
func TestBOSHAdmission(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) {
		c.Conns = c2s.ConnLimits{UnauthPerAddress: 2}
		c.AuthTimeout = 500 * time.Millisecond
	})
	a := newBOSHClient(t, srv)
	a.create()
	b := newBOSHClient(t, srv)
	b.create()
	third := rawPost(t, srv.HTTPClient(), a.url, `<body xmlns='http://jabber.org/protocol/httpbind' rid='7' to='hearth.test' wait='5' hold='1' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>`)
	if third.Attr("type") != "terminate" || third.Attr("condition") != "policy-violation" {
		t.Fatalf("a third session logging in: %s", third)
	}
	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := streamErr(t, nc); got != stream.PolicyViolation {
		t.Fatalf("a TCP connection beside them: %s", got)
	}
	// a waits at the server; the login time runs out.
	a.send("", "")
	end := a.terminated()
	if end.Attr("condition") != "remote-stream-error" || !strings.Contains(end.String(), "connection-timeout") {
		t.Fatalf("not logged in in time: %s", end)
	}
}

// TestBOSHSASL2: the modern login over BOSH, as on TCP: SASL2 with
// PLAIN in the first request (no restart), Bind 2 with stream management
// inline, then a message to a TCP client.
func TestBOSHSASL2(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	a := newBOSHClient(t, srv)
	first := a.create()
	if f := first.String(); !strings.Contains(f, `<authentication xmlns="urn:xmpp:sasl:2">`) || strings.Contains(f, "-PLUS") {
		t.Fatalf("features: %s", f)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + secret("alice")))
	a.sendXML(`<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'><initial-response>` + plain + `</initial-response>` +
		`<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'><software>test</software></user-agent>` +
		`<bind xmlns='urn:xmpp:bind:0'><tag>web</tag><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind></authenticate>`)
	ok := a.nextEl()
	if ok.Name != "success" || ok.NS != "urn:xmpp:sasl:2" || !strings.HasPrefix(ok.ChildText("authorization-identifier", "urn:xmpp:sasl:2"), "alice@hearth.test/web") {
		t.Fatalf("SASL2: %s", ok)
	}
	if b := ok.Child("bound", "urn:xmpp:bind:0"); b == nil || b.Child("enabled", "urn:xmpp:sm:3") == nil {
		t.Fatalf("Bind 2 with stream management: %s", ok)
	}
	full := ok.ChildText("authorization-identifier", "urn:xmpp:sasl:2")
	a.poll()
	a.sendXML(`<message xmlns='jabber:client' to='bob@hearth.test/laptop' id='s2' type='chat'><body>hello after SASL2</body></message>`)
	bob.Expect(`<message from='` + full + `' to='bob@hearth.test/laptop' id='s2' type='chat'><body>hello after SASL2</body></message>`)
}
