package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/xdg-go/scram"

	"hearth/server"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// wsClient is a test's XMPP client over WebSocket (RFC 7395), with
// coder/websocket's client: each element a text message of its own.
type wsClient struct {
	t   testing.TB
	c   *websocket.Conn
	ctx context.Context
}

// dialWS opens a WebSocket to the server's /xmpp-websocket asking for the
// subprotocols given.
func dialWS(t testing.TB, srv *xmpptest.Server, protocols ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	c, resp, err := websocket.Dial(ctx, "wss://"+srv.Domain+"/xmpp-websocket", &websocket.DialOptions{
		HTTPClient: srv.HTTPClient(), Subprotocols: protocols,
	})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: t, c: c, ctx: ctx}, resp, nil
}

func (w *wsClient) send(xml string) {
	w.t.Helper()
	if err := w.c.Write(w.ctx, websocket.MessageText, []byte(xml)); err != nil {
		w.t.Fatalf("sending %s: %v", xml, err)
	}
}

func (w *wsClient) next() *stanza.Element {
	w.t.Helper()
	typ, b, err := w.c.Read(w.ctx)
	if err != nil {
		w.t.Fatalf("reading: %v", err)
	}
	if typ != websocket.MessageText {
		w.t.Fatalf("a binary message: %q", b)
	}
	el, err := stream.Unmarshal(b)
	if err != nil {
		w.t.Fatalf("message %q: %v", b, err)
	}
	return el
}

func (w *wsClient) expect(want string) *stanza.Element {
	w.t.Helper()
	got := w.next()
	xmpptest.MustMatch(w.t, want, got)
	return got
}

// open sends <open/> and reads the server's <open/> and features.
func (w *wsClient) open(domain string) *stanza.Element {
	w.t.Helper()
	w.send(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='` + domain + `' version='1.0'/>`)
	o := w.next()
	if o.Name != "open" || o.NS != "urn:ietf:params:xml:ns:xmpp-framing" || o.Attr("from") != domain || o.Attr("version") != "1.0" || o.Attr("id") == "" {
		w.t.Fatalf("open: %s", o)
	}
	f := w.next()
	if f.Name != "features" || f.NS != stanza.NSStream {
		w.t.Fatalf("features: %s", f)
	}
	return f
}

// login logs in with SCRAM-SHA-256 and binds resource.
func (w *wsClient) login(domain, user, pass, resource string) {
	w.t.Helper()
	w.auth(domain, user, pass)
	w.send(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`)
	w.expect(`<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>` + user + `@` + domain + `/` + resource + `</jid></bind></iq>`)
}

// auth logs in with SCRAM-SHA-256 and opens the stream again.
func (w *wsClient) auth(domain, user, pass string) {
	w.t.Helper()
	f := w.open(domain)
	if s := f.String(); !strings.Contains(s, "SCRAM-SHA-256") || strings.Contains(s, "starttls") {
		w.t.Fatalf("features before login: %s", s)
	}
	cl, err := scram.SHA256.NewClient(user, pass, "")
	if err != nil {
		w.t.Fatal(err)
	}
	conv := cl.NewConversation()
	first, _ := conv.Step("")
	w.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	for done := false; !done; {
		el := w.next()
		data, _ := base64.StdEncoding.DecodeString(el.Content())
		switch el.Name {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				w.t.Fatal(err)
			}
			w.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				w.t.Fatalf("the server's signature: %v", err)
			}
			done = true
		default:
			w.t.Fatalf("SASL: %s", el)
		}
	}
	f = w.open(domain)
	if s := f.String(); !strings.Contains(s, `<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>`) || !strings.Contains(s, `<sm xmlns="urn:xmpp:sm:3"/>`) {
		w.t.Fatalf("features after login: %s", s)
	}
}

// TestWebSocket: a client logs in over WebSocket (SCRAM, restart, bind),
// chats with a TCP client both ways, turns on stream management, and
// closes the stream with <close/>, which the server answers.
func TestWebSocket(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")

	w, resp, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "xmpp" {
		t.Fatalf("subprotocol %q", p)
	}
	w.login(srv.Domain, "alice", secret("alice"), "browser")
	// The XML console sees the WebSocket stream as it sees TCP's.
	frames, err := srv.Admin.Console(t.Context(), "alice@hearth.test/browser")
	if err != nil {
		t.Fatal(err)
	}

	w.send(`<message xmlns='jabber:client' to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello from the browser</body></message>`)
	bob.Expect(`<message from='alice@hearth.test/browser' to='bob@hearth.test/laptop' id='m1' type='chat'><body>hello from the browser</body></message>`)
	bob.Send(`<message to='alice@hearth.test/browser' id='m2' type='chat'><body>hello from the laptop</body></message>`)
	w.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/browser' id='m2' type='chat'><body>hello from the laptop</body></message>`)
	// (The bind result may be shown too: the watch can begin before the
	// server's writer has told the console of it.)
	for _, want := range []string{"in hello from the browser", "out hello from the laptop"} {
		dir, body, _ := strings.Cut(want, " ")
		for seen := false; !seen; {
			select {
			case fr := <-frames:
				seen = fr.Dir == dir && strings.Contains(fr.XML, body)
				if !seen && !strings.Contains(fr.XML, "<bind ") {
					t.Fatalf("console: %+v, want %s", fr, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("console: no frame for %s", want)
			}
		}
	}
	w.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := w.next()
	if en.Name != "enabled" || en.Attr("resume") != "true" || en.Attr("id") == "" {
		t.Fatalf("enable: %s", en)
	}
	bob.Send(`<message to='alice@hearth.test/browser' id='m3' type='chat'><body>counted</body></message>`)
	w.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/browser' id='m3' type='chat'><body>counted</body></message>`)
	w.expect(`<r xmlns='urn:xmpp:sm:3'/>`)
	w.send(`<a xmlns='urn:xmpp:sm:3' h='1'/>`)
	w.send(`<iq xmlns='jabber:client' type='get' id='p1' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	w.expect(`<iq xmlns='jabber:client' type='result' id='p1' from='hearth.test' to='alice@hearth.test/browser'/>`)
	w.expect(`<r xmlns='urn:xmpp:sm:3'/>`)
	w.send(`<a xmlns='urn:xmpp:sm:3' h='2'/>`)
	w.send(`<r xmlns='urn:xmpp:sm:3'/>`)
	w.expect(`<a xmlns='urn:xmpp:sm:3' h='1'/>`)

	w.send(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)
	w.expect(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)
	if _, _, err := w.c.Read(w.ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after <close/>: %v", err)
	}
	bob.Send(`<message to='alice@hearth.test/browser' id='m4' type='chat'><body>gone?</body></message>`)
	srv.WaitOffline(t, "alice", 1)
}

// TestWebSocketResume: stream management over WebSocket works end to end
// (XEP-0198): a browser whose connection drops without <close/> keeps its
// session; what comes meanwhile waits, and a new WebSocket resumes it and
// gets it.
func TestWebSocketResume(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	w, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.login(srv.Domain, "alice", secret("alice"), "browser")
	w.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
	en := w.next()
	id := en.Attr("id")
	if en.Name != "enabled" || id == "" {
		t.Fatalf("enable: %s", en)
	}
	w.send(`<presence xmlns='jabber:client' to='bob@hearth.test/laptop'/>`)
	bob.Expect(`<presence from='alice@hearth.test/browser' to='bob@hearth.test/laptop'/>`)
	w.c.CloseNow() // the tab's network went away: no <close/>
	bob.Send(`<message to='alice@hearth.test/browser' id='held' type='chat'><body>while you were away</body></message>`)

	w2, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w2.auth(srv.Domain, "alice", secret("alice"))
	w2.send(`<resume xmlns='urn:xmpp:sm:3' previd='` + id + `' h='0'/>`)
	r := w2.next()
	if r.Name != "resumed" || r.Attr("previd") != id || r.Attr("h") != "1" {
		t.Fatalf("resume: %s", r)
	}
	w2.expect(`<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/browser' id='held' type='chat'><body>while you were away</body></message>`)
	w2.expect(`<r xmlns='urn:xmpp:sm:3'/>`)
	w2.send(`<a xmlns='urn:xmpp:sm:3' h='1'/>`)
	w2.send(`<message xmlns='jabber:client' to='bob@hearth.test/laptop' id='back' type='chat'><body>back</body></message>`)
	bob.Expect(`<message from='alice@hearth.test/browser' to='bob@hearth.test/laptop' id='back' type='chat'><body>back</body></message>`)
}

// TestWebSocketIdle: a silent WebSocket client is pinged with WebSocket's
// own ping (RFC 7395 3.4; no XMPP whitespace, no XEP-0199 iq for a
// browser to answer): one that answers keeps its session through many
// idle periods; one that does not (it reads nothing, so its WebSocket
// answers nothing) is ended with connection-timeout.
func TestWebSocketIdle(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.IdleTimeout = 200 * time.Millisecond })
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	alive, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	alive.login(srv.Domain, "alice", secret("alice"), "alive")
	got := make(chan *stanza.Element, 1)
	go func() { // reading: pongs go out meanwhile
		defer close(got)
		if _, b, err := alive.c.Read(alive.ctx); err == nil {
			el, _ := stream.Unmarshal(b)
			got <- el
		}
	}()
	dead, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	dead.login(srv.Domain, "bob", secret("bob"), "dead") // then never reads
	time.Sleep(time.Second)                              // five idle periods
	// (A TCP client that does not answer XEP-0199 pings would be gone too.)
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	bob.Send(`<message to='alice@hearth.test/alive' id='still' type='chat'><body>still there?</body></message>`)
	xmpptest.MustMatch(t, `<message xmlns='jabber:client' from='bob@hearth.test/laptop' to='alice@hearth.test/alive' id='still' type='chat'><body>still there?</body></message>`, <-got)
	sessions, err := srv.Admin.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.JID == "bob@hearth.test/dead" {
			t.Fatalf("the silent WebSocket client is still bound: %+v", sessions)
		}
	}
	e := dead.next() // what the server wrote before it gave up
	if e.Name != "error" || e.Child("connection-timeout", stanza.NSStreams) == nil {
		t.Fatalf("the silent client got %s", e)
	}
}

// TestWebSocketShutdown: a stopping server ends a WebSocket session with
// system-shutdown and <close/>, and waits for it: a message the browser
// sent just before is stored (offline) by the time the server has
// stopped, and is there after the restart.
func TestWebSocketShutdown(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	srv.AddUser(t, "bob", secret("bob"))
	w, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.login(srv.Domain, "alice", secret("alice"), "browser")
	w.send(`<message xmlns='jabber:client' to='bob@hearth.test' id='late' type='chat'><body>before the stop</body></message>`)
	w.send(`<iq xmlns='jabber:client' type='get' id='p1' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>`)
	w.expect(`<iq xmlns='jabber:client' type='result' id='p1' from='hearth.test' to='alice@hearth.test/browser'/>`)
	ended := make(chan *stanza.Element, 1)
	go func() { // the server's last words, read while it stops
		_, b, err := w.c.Read(w.ctx)
		if err != nil {
			close(ended)
			return
		}
		el, _ := stream.Unmarshal(b)
		ended <- el
		// Then it reads no more: the server does not wait long for
		// its closing handshake.
	}()
	srv = srv.Restart(t)
	e := <-ended
	if e == nil || e.Name != "error" || e.Child("system-shutdown", stanza.NSStreams) == nil {
		t.Fatalf("at shutdown: %v", e)
	}
	bob := srv.Login(t, "bob", secret("bob"), "laptop")
	bob.Send(`<presence/>`)
	bob.ExpectLike(`<message from='alice@hearth.test/browser' to='bob@hearth.test/laptop' id='late' type='chat'><body>before the stop</body></message>`, 10*time.Second)
}

// TestWebSocketRefused: a handshake without the subprotocol xmpp is
// refused (RFC 7395 3.2), and so is a plain GET.
func TestWebSocketRefused(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, protos := range [][]string{nil, {"chat"}, {"xmpp-framing", "mqtt"}} {
		_, resp, err := dialWS(t, srv, protos...)
		if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("subprotocols %q: %v, %v", protos, resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `the subprotocol "xmpp"`) {
			t.Errorf("refusal says %q", b)
		}
	}
	resp, err := srv.HTTPClient().Get("https://" + srv.Domain + "/xmpp-websocket")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: %s", resp.Status)
	}
}

// TestWebSocketLimits: a message larger than the stream's limit (10 KiB
// before login) ends the stream with policy-violation and <close/>; two
// elements in one message are not-well-formed.
func TestWebSocketLimits(t *testing.T) {
	srv := xmpptest.Start(t)
	for _, tc := range []struct{ msg, cond string }{
		{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + strings.Repeat("A", 20<<10) + `</auth>`, "policy-violation"},
		{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>`, "not-well-formed"},
		{`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>`, "not-well-formed"},
	} {
		w, _, err := dialWS(t, srv, "xmpp")
		if err != nil {
			t.Fatal(err)
		}
		w.open(srv.Domain)
		w.send(tc.msg)
		e := w.next()
		if e.Name != "error" || e.NS != stanza.NSStream || e.Child(tc.cond, stanza.NSStreams) == nil {
			t.Fatalf("%.60s...: %s", tc.msg, e)
		}
		w.expect(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)
	}
}

// TestWebSocketAdmission: WebSocket streams count against the same
// per-address limits as TCP ones; one over them gets policy-violation
// before it can send a thing.
func TestWebSocketAdmission(t *testing.T) {
	srv := xmpptest.Start(t, func(c *server.Config) { c.Conns.UnauthPerAddress = 1 })
	first := srv.Raw(t) // a TCP connection that has not logged in
	defer first.Close()
	// Once the server answers it, it is counted.
	if _, err := io.WriteString(first, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='hearth.test' version='1.0'>`); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	w, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.expect(`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='hearth.test' id='*' version='1.0'/>`)
	e := w.next()
	if e.Name != "error" || e.Child("policy-violation", stanza.NSStreams) == nil {
		t.Fatalf("over the limit: %s", e)
	}
	w.expect(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)
}

// TestWebSocketGuard: password guessing over WebSocket meets the same
// login guard as over TCP: after five wrong passwords the address must
// wait, and the stream ends.
func TestWebSocketGuard(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", secret("alice"))
	wrong := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00not-her-password"))
	w, _, err := dialWS(t, srv, "xmpp")
	if err != nil {
		t.Fatal(err)
	}
	w.open(srv.Domain)
	failures := 0
	for {
		w.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + wrong + `</auth>`)
		f := w.next()
		if f.Name == "failure" && f.Child("not-authorized", stanza.NSSASL) != nil && failures < 5 {
			failures++
			continue
		}
		if f.Name == "failure" && f.Child("temporary-auth-failure", stanza.NSSASL) != nil {
			f = w.next()
		}
		if failures < 5 || f.Name != "error" || f.Child("policy-violation", stanza.NSStreams) == nil {
			t.Fatalf("after %d failures: %s", failures, f)
		}
		break
	}
	w.expect(`<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`)
}

// TestHostMeta: XEP-0156's host-meta and host-meta.json list the
// WebSocket and BOSH endpoints at the listener's address, readable from
// any origin.
func TestHostMeta(t *testing.T) {
	srv := xmpptest.Start(t)
	_, port, _ := net.SplitHostPort(srv.HTTPAddr)
	want := "wss://hearth.test:" + port + "/xmpp-websocket"
	wantBOSH := "https://hearth.test:" + port + "/http-bind"
	get := func(path string) (string, http.Header) {
		t.Helper()
		resp, err := srv.HTTPClient().Get("https://" + srv.Domain + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %s %v", path, resp.Status, resp.Header)
		}
		return string(b), resp.Header
	}
	xrd, h := get("/.well-known/host-meta")
	if !strings.HasPrefix(h.Get("Content-Type"), "application/xrd+xml") ||
		!strings.Contains(xrd, `<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">`) ||
		!strings.Contains(xrd, `<Link rel="urn:xmpp:alt-connections:websocket" href="`+want+`"/>`) ||
		!strings.Contains(xrd, `<Link rel="urn:xmpp:alt-connections:xbosh" href="`+wantBOSH+`"/>`) {
		t.Fatalf("host-meta: %s\n%s", h, xrd)
	}
	js, h := get("/.well-known/host-meta.json")
	var jrd struct {
		Links []struct{ Rel, Href string }
	}
	if err := json.Unmarshal([]byte(js), &jrd); err != nil || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("host-meta.json: %v %s", err, js)
	}
	if len(jrd.Links) != 2 || jrd.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || jrd.Links[0].Href != want ||
		jrd.Links[1].Rel != "urn:xmpp:alt-connections:xbosh" || jrd.Links[1].Href != wantBOSH {
		t.Fatalf("host-meta.json: %s", js)
	}
	// The public URL, once set, is the address given.
	if _, err := srv.Admin.SetSetting(context.Background(), "http.public_url", "https://chat.example.org/xmpp"); err != nil {
		t.Fatal(err)
	}
	if js, _ := get("/.well-known/host-meta.json"); !strings.Contains(js, `"href":"wss://chat.example.org/xmpp/xmpp-websocket"`) ||
		!strings.Contains(js, `"href":"https://chat.example.org/xmpp/http-bind"`) {
		t.Fatalf("with a public URL: %s", js)
	}
}
