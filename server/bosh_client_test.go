package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/server/xmpptest"
)

// boshClient is a test's XMPP client over BOSH (XEP-0124, XEP-0206), over
// real HTTPS on loopback: it keeps one request waiting at the server for
// what the server sends, and sends what it has in a request of its own,
// as a web client does. What the server answers arrives, element by
// element, on in.
type boshClient struct {
	t      testing.TB
	hc     *http.Client
	ctx    context.Context // cancelled at the test's end: requests under way stop
	url    string
	domain string
	sid    string
	wait   int

	mu      sync.Mutex
	rid     int64
	waiting int  // requests under way
	ended   bool // a terminate came, or the test stopped it
	polling bool // keep a request waiting at the server

	in    chan *stanza.Element // the elements answered, in order
	terms chan *stanza.Element // <body type='terminate'/> answers
	wg    sync.WaitGroup
	order sync.Mutex // answers are handed on in rid order
	next  int64      // the rid whose answer is handed on next
	cond  *sync.Cond
}

func newBOSHClient(t testing.TB, srv *xmpptest.Server) *boshClient {
	c := &boshClient{t: t, hc: srv.HTTPClient(), url: "https://" + srv.Domain + "/http-bind", domain: srv.Domain,
		wait: 10, rid: 1000 + time.Now().UnixNano()%100000,
		in: make(chan *stanza.Element, 1000), terms: make(chan *stanza.Element, 10)}
	c.cond = sync.NewCond(&c.order)
	ctx, cancel := context.WithCancel(context.Background())
	c.ctx = ctx
	t.Cleanup(func() {
		c.mu.Lock()
		c.ended = true
		c.mu.Unlock()
		cancel()
		c.hc.CloseIdleConnections()
		c.wg.Wait()
	})
	return c
}

// post sends one request of raw XML and returns the answer's root.
func (c *boshClient) post(xml string) (*stanza.Element, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodPost, c.url, strings.NewReader(xml))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &httpError{resp.Status, string(b)}
	}
	return stream.Unmarshal(b)
}

type httpError struct{ status, body string }

func (e *httpError) Error() string { return e.status + ": " + e.body }

// body is a request body with the session's sid and the given rid.
func (c *boshClient) body(rid int64, attrs, payload string) string {
	var b strings.Builder
	b.WriteString(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' rid='` + strconv.FormatInt(rid, 10) + `'`)
	if c.sid != "" {
		b.WriteString(` sid='` + c.sid + `'`)
	}
	if attrs != "" {
		b.WriteString(" " + attrs)
	}
	if payload == "" {
		b.WriteString("/>")
	} else {
		b.WriteString(">" + payload + "</body>")
	}
	return b.String()
}

// create starts the session and returns the answer to the creation
// request: the session's terms and the first features.
func (c *boshClient) create() *stanza.Element {
	c.t.Helper()
	c.mu.Lock()
	rid := c.rid
	c.rid++
	c.mu.Unlock()
	c.next = rid + 1
	el, err := c.post(c.body(rid, `to='`+c.domain+`' xml:lang='en' ver='1.6' wait='`+strconv.Itoa(c.wait)+`' hold='1' xmpp:version='1.0'`, ""))
	if err != nil {
		c.t.Fatalf("session request: %v", err)
	}
	c.sid = el.Attr("sid")
	if c.sid == "" || el.Attr("type") == "terminate" {
		c.t.Fatalf("session request answered %s", el)
	}
	return el
}

// send sends payload (and attrs) in a request of its own; what the
// server answers it with arrives on in. With nothing under way the
// client keeps a request waiting at the server, once polling.
func (c *boshClient) send(attrs, payload string) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	rid := c.rid
	c.rid++
	c.waiting++
	c.mu.Unlock()
	c.wg.Add(1)
	go c.run(rid, c.body(rid, attrs, payload))
}

func (c *boshClient) run(rid int64, xml string) {
	defer c.wg.Done()
	el, err := c.post(xml)
	// Answers are handed on in the order of their requests.
	c.order.Lock()
	for c.next != rid {
		c.cond.Wait()
	}
	c.next++
	c.cond.Broadcast()
	if err != nil {
		c.mu.Lock()
		ended := c.ended
		c.ended = true
		c.mu.Unlock()
		if !ended {
			c.t.Errorf("BOSH request %d: %v", rid, err)
		}
		c.order.Unlock()
		return
	}
	if el.Name != "body" || el.NS != "http://jabber.org/protocol/httpbind" {
		c.t.Errorf("answer %s", el)
	}
	for _, ch := range el.Elements() {
		c.in <- ch
	}
	c.order.Unlock()
	c.mu.Lock()
	c.waiting--
	if el.Attr("type") == "terminate" {
		c.ended = true
		c.terms <- el
	}
	again := c.polling && !c.ended && c.waiting == 0
	c.mu.Unlock()
	if again {
		c.send("", "")
	}
}

// poll keeps a request waiting at the server from now on.
func (c *boshClient) poll() {
	c.mu.Lock()
	c.polling = true
	idle := c.waiting == 0
	c.mu.Unlock()
	if idle {
		c.send("", "")
	}
}

// sendXML sends stanzas (or other elements) in a request.
func (c *boshClient) sendXML(payload string) { c.send("", payload) }

func (c *boshClient) nextEl() *stanza.Element {
	c.t.Helper()
	select {
	case el := <-c.in:
		return el
	case <-time.After(20 * time.Second):
		c.t.Fatal("BOSH: nothing came in 20 s")
		return nil
	}
}

func (c *boshClient) expect(want string) *stanza.Element {
	c.t.Helper()
	got := c.nextEl()
	xmpptest.MustMatch(c.t, want, got)
	return got
}

// terminated waits for the session's end and returns it.
func (c *boshClient) terminated() *stanza.Element {
	c.t.Helper()
	select {
	case el := <-c.terms:
		return el
	case <-time.After(20 * time.Second):
		c.t.Fatal("BOSH: no terminate in 20 s")
		return nil
	}
}

// login creates a session, logs in with SCRAM-SHA-256, restarts and
// binds resource; from then on a request waits at the server.
func (c *boshClient) login(user, pass, resource string) {
	c.t.Helper()
	c.auth(user, pass)
	c.sendXML(`<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`)
	c.expect(`<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>` + user + `@` + c.domain + `/` + resource + `</jid></bind></iq>`)
	c.poll()
}

// auth creates a session, logs in with SCRAM-SHA-256 and restarts the
// stream (XEP-0206 5).
func (c *boshClient) auth(user, pass string) {
	c.t.Helper()
	first := c.create()
	feats := first.Child("features", stanza.NSStream)
	if feats == nil || !strings.Contains(feats.String(), "SCRAM-SHA-256") || strings.Contains(feats.String(), "starttls") {
		c.t.Fatalf("features before login: %s", first)
	}
	cl, err := scram.SHA256.NewClient(user, pass, "")
	if err != nil {
		c.t.Fatal(err)
	}
	conv := cl.NewConversation()
	step, _ := conv.Step("")
	c.sendXML(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>` + base64.StdEncoding.EncodeToString([]byte(step)) + `</auth>`)
	for done := false; !done; {
		el := c.nextEl()
		data, _ := base64.StdEncoding.DecodeString(el.Content())
		switch el.Name {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				c.t.Fatal(err)
			}
			c.sendXML(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				c.t.Fatalf("the server's signature: %v", err)
			}
			done = true
		default:
			c.t.Fatalf("SASL: %s", el)
		}
	}
	c.send(`to='`+c.domain+`' xml:lang='en' xmpp:restart='true'`, "")
	f := c.nextEl()
	if s := f.String(); f.Name != "features" || !strings.Contains(s, `<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/>`) || !strings.Contains(s, `<sm xmlns="urn:xmpp:sm:3"/>`) {
		c.t.Fatalf("features after login: %s", s)
	}
}

// rawPost sends a request of raw XML outside the client's rid order.
func rawPost(t testing.TB, hc *http.Client, url, xml string) *stanza.Element {
	t.Helper()
	resp, err := hc.Post(url, "text/xml", bytes.NewReader([]byte(xml)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", resp.Status, b)
	}
	el, err := stream.Unmarshal(b)
	if err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return el
}
