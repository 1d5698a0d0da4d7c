package xmpptest

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Endpoint is where the server's clients connect (STARTTLS).
func (s *Server) Endpoint() Endpoint {
	return Endpoint{Addr: s.Addr, Domain: s.Domain, TLS: s.TLSConfig()}
}

// Endpoint is where a client connects: the STARTTLS port of any XMPP
// server, Hearth or a peer (Peer.Endpoint).
type Endpoint struct {
	Addr   string      // host:port
	Domain string      // the stream's 'to', and the name the certificate is checked for
	TLS    *tls.Config // nil: the system's roots; ServerName is set to Domain if empty
}

// LoginTo connects to ep over STARTTLS, authenticates with the best SCRAM
// it offers (SCRAM-SHA-256, else SCRAM-SHA-1) and binds the resource; the
// client is closed when the test ends.
func LoginTo(t testing.TB, ep Endpoint, local, password, resource string) *Client {
	t.Helper()
	c, err := DialTo(ep, "", local, password, resource)
	if err != nil {
		t.Fatalf("login %s@%s: %v", local, ep.Domain, err)
	}
	c.t = t
	c.Name = local
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// DialTo is LoginTo without a test, from the local address from ("" for
// any), returning the error.
func DialTo(ep Endpoint, from, local, password, resource string) (*Client, error) {
	c, err := AuthenticateTo(ep, from, local, password)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(resource); err != nil {
		return nil, err
	}
	return c, nil
}

// AuthenticateTo connects to ep from the local address from ("" for
// any), takes the stream through STARTTLS and SCRAM (SCRAM-SHA-256 if
// offered, else SCRAM-SHA-1) and opens the stream after authentication;
// the client binds a resource with Bind.
func AuthenticateTo(ep Endpoint, from, local, password string) (*Client, error) {
	c, features, err := startTLS(ep, from)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Client, error) { c.conn.Close(); return nil, err }
	mech, err := scramMechanism(features)
	if err != nil {
		return fail(err)
	}
	if err := c.scram(mech, local, password); err != nil {
		return fail(err)
	}
	c.dec.Reset(nil)
	if _, err := c.open(ep.Domain); err != nil {
		return fail(err)
	}
	return c, nil
}

// startTLS connects to ep from the local address from ("" for any) and
// takes the stream through STARTTLS, returning the features offered
// after it.
func startTLS(ep Endpoint, from string) (*Client, *stanza.Element, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", ep.Addr)
	if err != nil {
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &Client{conn: nc}
	fail := func(err error) (*Client, *stanza.Element, error) { nc.Close(); return nil, nil, err }
	c.dec = stream.NewDecoder(nc, stream.Limits{MaxStanza: 1 << 20})
	if _, err := c.open(ep.Domain); err != nil {
		return fail(err)
	}
	c.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	if el, err := c.dec.Next(); err != nil || el.Name != "proceed" {
		return fail(fmt.Errorf("starttls: %v %v", el, err))
	}
	cfg := ep.TLS.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ep.Domain
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return fail(err)
	}
	c.conn = tc
	c.gate = NewGate(tc)
	c.dec = stream.NewDecoder(c.gate, stream.Limits{MaxStanza: 1 << 20})
	features, err := c.open(ep.Domain)
	if err != nil {
		return fail(err)
	}
	return c, features, nil
}

// scramMechanisms are the SASL mechanisms the client speaks, best first.
var scramMechanisms = []struct {
	name string
	hash scram.HashGeneratorFcn
}{{"SCRAM-SHA-256", scram.SHA256}, {"SCRAM-SHA-1", scram.SHA1}}

// scramMechanism picks the best mechanism the server offers in features.
func scramMechanism(features *stanza.Element) (string, error) {
	var offered []string
	if m := features.Child("mechanisms", stanza.NSSASL); m != nil {
		for _, el := range m.Elements() {
			if el.Name == "mechanism" {
				offered = append(offered, strings.TrimSpace(el.Content()))
			}
		}
	}
	for _, m := range scramMechanisms {
		if slices.Contains(offered, m.name) {
			return m.name, nil
		}
	}
	return "", fmt.Errorf("the server offers none of SCRAM-SHA-256 and SCRAM-SHA-1, only %q", offered)
}

// Bind binds the resource on an authenticated client ("" for one the
// server picks) and starts reading its stanzas. On failure the connection
// is closed and the error says what the server sent.
func (c *Client) Bind(resource string) error {
	res := ""
	if resource != "" {
		res = "<resource>" + resource + "</resource>"
	}
	c.write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>` + res + `</bind></iq>`)
	el, err := c.dec.Next()
	if err != nil {
		c.conn.Close()
		return err
	}
	if b := el.ChildNS(stanza.NSBind); b != nil {
		c.JID = b.ChildText("jid", "")
	}
	if c.JID == "" {
		c.conn.Close()
		return fmt.Errorf("bind failed: %s", el)
	}
	c.startReading()
	return nil
}

// startReading starts reading the stanzas of a bound stream.
func (c *Client) startReading() {
	_ = c.conn.SetDeadline(time.Time{})
	c.in = make(chan *stanza.Element, 1024)
	c.errc = make(chan error, 1)
	go c.read()
}

// ResumeSM asks to resume the stream management session previd (XEP-0198)
// as a client that handled h stanzas, on a client that logged in and has
// not bound, and returns the server's answer. After <resumed/> the client
// reads as a bound one (its JID is full); after <failed/> it may Bind.
func (c *Client) ResumeSM(full, previd, h string) (*stanza.Element, error) {
	c.write(`<resume xmlns='urn:xmpp:sm:3' previd='` + previd + `' h='` + h + `'/>`)
	el, err := c.dec.Next()
	if err != nil {
		c.conn.Close()
		return nil, err
	}
	if el.Name == "resumed" {
		c.JID = full
		c.startReading()
	}
	return el, nil
}

// open sends a stream header and reads the server's header and features.
func (c *Client) open(domain string) (*stanza.Element, error) {
	c.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` + domain + `' version='1.0'>`)
	if _, err := c.dec.Header(); err != nil {
		return nil, err
	}
	f, err := c.dec.Next()
	if err != nil {
		return nil, err
	}
	if f.Name != "features" {
		return nil, fmt.Errorf("expected features, got %s", f)
	}
	return f, nil
}

func (c *Client) scram(mechanism, user, pass string) error {
	var hash scram.HashGeneratorFcn
	for _, m := range scramMechanisms {
		if m.name == mechanism {
			hash = m.hash
		}
	}
	cl, err := hash.NewClient(user, pass, "")
	if err != nil {
		return err
	}
	conv := cl.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		return err
	}
	c.write(`<auth xmlns='` + stanza.NSSASL + `' mechanism='` + mechanism + `'>` + base64.StdEncoding.EncodeToString([]byte(first)) + `</auth>`)
	for {
		el, err := c.dec.Next()
		if err != nil {
			return err
		}
		data, _ := base64.StdEncoding.DecodeString(el.Content())
		switch el.Name {
		case "challenge":
			resp, err := conv.Step(string(data))
			if err != nil {
				return err
			}
			c.write(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>` + base64.StdEncoding.EncodeToString([]byte(resp)) + `</response>`)
		case "success":
			if _, err := conv.Step(string(data)); err != nil {
				return fmt.Errorf("server signature: %w", err)
			}
			return nil
		default:
			return fmt.Errorf("sasl: %s", el)
		}
	}
}

// Guest connects to the server and takes the stream through STARTTLS
// without logging in, for what a client may do before (in-band
// registration); it returns the client, reading, and the features
// offered. The client is closed when the test ends.
func (s *Server) Guest(t testing.TB, name string) (*Client, *stanza.Element) {
	t.Helper()
	c, features, err := startTLS(s.Endpoint(), "")
	if err != nil {
		t.Fatalf("guest: %v", err)
	}
	c.t = t
	c.Name = name
	t.Cleanup(func() { c.conn.Close() })
	c.startReading()
	return c, features
}
