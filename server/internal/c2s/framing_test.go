package c2s

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/certs"
	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// nsFraming is RFC 7395's namespace for <open/> and <close/>.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// frames is a second framing, written to show that the session logic does
// not depend on TCP's: RFC 7395's XML framing (each element a message of
// its own, in its own namespace; the stream opens with <open/> and ends
// with <close/>), with length-prefixed messages over TLS standing in for
// WebSocket messages over HTTPS.
type frames struct {
	conn   *tls.Conn
	opened bool
	rmu    sync.Mutex
}

func (f *frames) read() (*stanza.Element, error) {
	var n uint32
	if err := binary.Read(f.conn, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	if n > 1<<20 {
		return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "frame too big"}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(f.conn, b); err != nil {
		return nil, err
	}
	return stream.Unmarshal(b)
}

func (f *frames) write(els ...*stanza.Element) error {
	var b bytes.Buffer
	for _, el := range els {
		var m bytes.Buffer
		el.WriteTo(&m, "") // its own root: the namespace is declared
		binary.Write(&b, binary.BigEndian, uint32(m.Len()))
		b.Write(m.Bytes())
	}
	_, err := f.conn.Write(b.Bytes())
	return err
}

func (f *frames) ReadOpen() (stream.Header, error) {
	el, err := f.read()
	if err != nil {
		return stream.Header{}, err
	}
	if el.Name != "open" || el.NS != nsFraming {
		return stream.Header{}, &stream.Error{Condition: stream.InvalidNamespace, Text: "expected <open/>"}
	}
	// RFC 7395 3.3.1: the content namespace is jabber:client.
	return stream.Header{NS: stanza.NSClient, To: el.Attr("to"), Version: el.Attr("version"), Lang: el.Lang()}, nil
}

func (f *frames) WriteOpen(h stream.Header, features []*stanza.Element) error {
	open := stanza.New("open", nsFraming, "from", h.From, "id", h.ID, "version", h.Version)
	fs := stanza.New("features", stanza.NSStream).Append(features...)
	f.opened = true
	return f.write(open, fs)
}

func (f *frames) Opened() bool { return f.opened }

func (f *frames) Next() (*stanza.Element, error) {
	el, err := f.read()
	if err == nil && el.Name == "close" && el.NS == nsFraming {
		return nil, io.EOF
	}
	return el, err
}

func (f *frames) Pending() bool { return false }
func (f *frames) Write(els []*stanza.Element) (int, error) {
	if err := f.write(els...); err != nil {
		return 0, err
	}
	return len(els), nil
}
func (f *frames) Restart()                           { f.opened = false }
func (f *frames) SetLimits(stream.Limits)            {}
func (f *frames) StartTLS(*tls.Config) error         { return errors.New("TLS is below this framing") }
func (f *frames) TLS() *tls.ConnectionState          { st := f.conn.ConnectionState(); return &st }
func (f *frames) SetDeadline(t time.Time) error      { return f.conn.SetDeadline(t) }
func (f *frames) SetWriteDeadline(t time.Time) error { return f.conn.SetWriteDeadline(t) }
func (f *frames) WatchIdle(time.Duration, func(bool) bool) {
	// WebSocket has pings of its own (RFC 7395 3.4); not needed here.
}
func (f *frames) Tap(*tap)           {}
func (f *frames) StopReading()       { _ = f.conn.SetReadDeadline(time.Now()) }
func (f *frames) Drain(time.Time)    {}
func (f *frames) Close() error       { return f.conn.Close() }
func (f *frames) RemoteAddr() string { return "192.0.2.7:4711" }

func (f *frames) End(e *stream.Error) error {
	var els []*stanza.Element
	if e != nil {
		els = append(els, e.Element())
	}
	return f.write(append(els, stanza.New("close", nsFraming))...)
}

// oneAccount is an Accounts with one account.
type oneAccount struct{ user storage.User }

func (a oneAccount) User(_ context.Context, name string) (storage.User, error) {
	if name != a.user.Name {
		return storage.User{}, storage.ErrNotFound
	}
	return a.user, nil
}

// TestSessionOverAnotherFraming runs the unchanged session logic over the
// frames framing: SASL, the restart, binding, a stanza routed back to the
// client, a stream feature and a stream element of a module, and the end.
func TestSessionOverAnotherFraming(t *testing.T) {
	const domain = "hearth.test"
	cm, err := certs.Start(t.Context(), certs.Config{DataDir: t.TempDir(), Domain: domain, Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	c1, c256, err := storage.NewCredentials("alice secret")
	if err != nil {
		t.Fatal(err)
	}
	r := router.New(router.Config{Domain: domain})
	srv := New(Config{
		Domain:   domain,
		TLS:      cm.TLSConfig,
		Router:   r,
		Accounts: oneAccount{storage.User{Name: "alice", SHA1: c1, SHA256: c256}},
		Features: []Feature{
			{Stage: BeforeAuth, Element: stanza.New("register", "http://jabber.org/features/iq-register")},
			{Stage: AfterAuth, Element: stanza.New("hello", "urn:example:module")},
		},
		Elements: []Element{{Name: "ask", NS: "urn:example:module", Handle: func(_ context.Context, s *Stream, el *stanza.Element) error {
			s.Send(stanza.New("answer", "urn:example:module", "for", s.Session().JID.String()))
			return nil
		}}},
	})

	srvRaw, cliRaw := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tc := tls.Server(srvRaw, cm.TLSConfig())
		if err := tc.Handshake(); err != nil {
			t.Errorf("server handshake: %v", err)
			return
		}
		srv.run(ctx, &frames{conn: tc}, time.Now().Add(10*time.Second), nil)
	}()

	pem, err := os.ReadFile(cm.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cli := &frames{conn: tls.Client(cliRaw, &tls.Config{ServerName: domain, RootCAs: roots})}
	_ = cli.conn.SetDeadline(time.Now().Add(10 * time.Second))
	send := func(xml string) {
		t.Helper()
		el, err := stream.Unmarshal([]byte(xml))
		if err != nil {
			t.Fatal(err)
		}
		if err := cli.write(el); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) {
		t.Helper()
		el, err := cli.read()
		if err != nil {
			t.Fatalf("expecting %s: %v", want, err)
		}
		if got := el.String(); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	open := `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='hearth.test' version='1.0'/>`
	opened := func(t *testing.T) {
		t.Helper()
		el, err := cli.read()
		if err != nil || el.Name != "open" || el.Attr("from") != domain {
			t.Fatalf("open: %v %v", el, err)
		}
	}

	send(open)
	opened(t)
	el, err := cli.read()
	if err != nil || el.Name != "features" {
		t.Fatalf("features: %v %v", el, err)
	}
	if f := el.String(); !strings.Contains(f, "SCRAM-SHA-256-PLUS") || !strings.Contains(f, `<register xmlns="http://jabber.org/features/iq-register"/>`) || strings.Contains(f, "starttls") {
		t.Fatalf("features before authentication: %s", f)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00alice secret"))
	send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + plain + `</auth>`)
	expect(`<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>`)
	send(open)
	opened(t)
	expect(`<features xmlns="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session><sm xmlns="urn:xmpp:sm:3"/><hello xmlns="urn:example:module"/></features>`)
	send(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>`)
	expect(`<iq xmlns="jabber:client" type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@hearth.test/web</jid></bind></iq>`)
	send(`<message to='alice@hearth.test/web' id='m1'><body>to myself</body></message>`)
	expect(`<message xmlns="jabber:client" to="alice@hearth.test/web" id="m1" from="alice@hearth.test/web"><body>to myself</body></message>`)
	send(`<ask xmlns='urn:example:module'/>`)
	expect(`<answer xmlns="urn:example:module" for="alice@hearth.test/web"/>`)
	send(`<other xmlns='urn:example:module'/>`) // no handler: the stream ends
	expect(`<error xmlns="http://etherx.jabber.org/streams"><unsupported-stanza-type xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></error>`)
	expect(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
	cliRaw.Close() // not a TLS close: its close_notify would wait for a reader
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	if r.Session(mustJID(t, "alice@hearth.test/web")) != nil {
		t.Error("session still bound after the end")
	}
}

// TestElementHandlersAreUnique: two handlers for one element is a
// programming error.
func TestElementHandlersAreUnique(t *testing.T) {
	h := func(context.Context, *Stream, *stanza.Element) error { return nil }
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "second handler for the element {urn:example:module}ask") {
			t.Fatalf("panic %v", v)
		}
	}()
	New(Config{Elements: []Element{{Name: "ask", NS: "urn:example:module", Handle: h}, {Name: "ask", NS: "urn:example:module", Handle: h}}})
}

func mustJID(t *testing.T, s string) jid.JID {
	t.Helper()
	j, err := jid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
