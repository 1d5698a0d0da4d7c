package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xdg-go/scram"
)

// Namespaces the client speaks (RFC 6120, RFC 6121, XEP-0199, XEP-0077).
const (
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSM       = "urn:xmpp:sm:3"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsRoster   = "jabber:iq:roster"
	nsPing     = "urn:xmpp:ping"
	nsRegister = "jabber:iq:register"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

const maxElement = 1 << 20 // bytes; the client only reads what it provoked

// dialer opens authenticated client streams. It is shared by all workers of
// a run; its SCRAM clients cache the salted password per account, so the
// client pays PBKDF2 once per account and not once per login.
type dialer struct {
	o       *options
	addr    string
	tls     *tls.Config
	mu      sync.Mutex
	clients map[string]*scram.Client // mechanism + "\x00" + user
}

func newDialer(o *options) (*dialer, error) {
	cfg := &tls.Config{
		ServerName:         o.serverName,
		InsecureSkipVerify: o.insecure,
		MinVersion:         tls.VersionTLS12,
	}
	if !o.pq {
		// Comparable key exchange work across Go and OpenSSL servers: Go
		// would otherwise negotiate the heavier hybrid X25519MLKEM768 with a
		// Go server only.
		cfg.CurvePreferences = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	if o.directTLS {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368
	}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read CA %s: no PEM certificates", o.ca)
		}
		cfg.RootCAs = pool
	}
	return &dialer{
		o:       o,
		addr:    net.JoinHostPort(o.host, strconv.Itoa(o.port)),
		tls:     cfg,
		clients: make(map[string]*scram.Client),
	}, nil
}

// account names the i-th account.
func (d *dialer) user(i int) string { return fmt.Sprintf(d.o.userFmt, i) }

func (d *dialer) password(i int) string {
	if strings.Contains(d.o.password, "%") {
		return fmt.Sprintf(d.o.password, i)
	}
	return d.o.password
}

func (d *dialer) bare(i int) string { return d.user(i) + "@" + d.o.domain }

// Conn is one client stream.
type Conn struct {
	raw net.Conn
	c   net.Conn // raw, or the TLS connection over it
	r   *bufio.Reader
	sc  *scanner
	wmu sync.Mutex
	w   *bufio.Writer
	JID string // full JID after bind

	// Stream management (--sm): the count of stanzas handled, which the
	// reader sends when the server asks.
	sm bool
	h  uint32
}

// open connects and negotiates TLS, leaving the stream ready for features.
func (d *dialer) open(ctx context.Context) (*Conn, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{raw: raw, c: raw}
	c.r = bufio.NewReaderSize(raw, 4096)
	c.sc = newScanner(c.r, maxElement)
	c.w = bufio.NewWriterSize(raw, 4096)
	if d.o.directTLS {
		if err := c.startTLS(ctx, d.tls); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Conn) startTLS(ctx context.Context, cfg *tls.Config) error {
	tc := tls.Client(c.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.c = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	return nil
}

// features restarts the stream (RFC 6120 4.3) and returns the features.
func (c *Conn) features(domain string) ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='"...)
	b = appendEscaped(b, domain)
	b = append(b, "'>"...)
	if err := c.send(b); err != nil {
		return nil, err
	}
	kind, _, err := c.sc.next()
	if err != nil {
		return nil, fmt.Errorf("stream header: %w", err)
	}
	if kind != tokStreamOpen {
		return nil, errors.New("stream header: got an element first")
	}
	el, err := c.expect("features")
	if err != nil {
		return nil, err
	}
	return el, nil
}

// expect reads the next element and checks its local name; a stream error
// is returned as an error.
func (c *Conn) expect(local string) ([]byte, error) {
	for {
		kind, el, err := c.sc.next()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", local, err)
		}
		if kind != tokElement {
			return nil, fmt.Errorf("waiting for %s: unexpected stream header", local)
		}
		name := string(localName(tagName(el)))
		if name == "error" && string(tagName(el)) != "error" {
			return nil, fmt.Errorf("stream error: %s", firstChild(el))
		}
		if name == local {
			return el, nil
		}
		if name == "iq" || name == "message" || name == "presence" {
			continue // stray stanza while waiting for a reply: skip it
		}
		return nil, fmt.Errorf("waiting for %s: got <%s>", local, name)
	}
}

// awaitIQ reads until the reply to the IQ with the given id, answering
// requests and skipping other stanzas that arrive meanwhile.
func (c *Conn) awaitIQ(id string) ([]byte, error) {
	for {
		el, err := c.expect("iq")
		if err != nil {
			return nil, err
		}
		switch attrString(el, "type") {
		case "result", "error":
			if attrString(el, "id") == id {
				return el, nil
			}
		default:
			if err := c.answerIQ(el); err != nil {
				return nil, err
			}
		}
	}
}

// firstChild names the first child of el, which is how stream errors,
// SASL failures and stanza errors carry their condition.
func firstChild(el []byte) string {
	root := true
	var name string
	eachTag(el, func(tag, _ []byte) bool {
		if root {
			root = false
			return true
		}
		name = string(localName(tagName(tag)))
		return false
	})
	return name
}

// errorCondition returns the defined condition of a stanza error.
func errorCondition(el []byte) string {
	inErr := false
	var cond string
	eachTag(el, func(tag, _ []byte) bool {
		n := string(localName(tagName(tag)))
		if n == "error" {
			inErr = true
			return true
		}
		if inErr && n != "text" {
			cond = n
			return false
		}
		return true
	})
	if cond == "" {
		return "unknown error"
	}
	return cond
}

// send writes b and flushes.
func (c *Conn) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.w.Flush()
}

// login opens an authenticated, bound stream for account i.
func (d *dialer) login(ctx context.Context, i int, resource string) (*Conn, error) {
	c, feats, err := d.negotiate(ctx, func(c *Conn, feats []byte) ([]byte, error) {
		if err := d.auth(c, feats, i); err != nil {
			return nil, err
		}
		return c.features(d.o.domain)
	})
	if err != nil {
		return nil, err
	}
	defer c.raw.SetDeadline(time.Time{})
	needSession := hasChild(feats, "session") && !hasChild(feats, "optional")
	if !hasChild(feats, "bind") {
		c.Close()
		return nil, errors.New("server offers no resource binding")
	}
	b := make([]byte, 0, 256)
	b = append(b, "<iq type='set' id='bind'><bind xmlns='"+nsBind+"'><resource>"...)
	b = appendEscaped(b, resource)
	b = append(b, "</resource></bind></iq>"...)
	if err := c.send(b); err != nil {
		c.Close()
		return nil, err
	}
	el, err := c.awaitIQ("bind")
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bind: %w", err)
	}
	if attrString(el, "type") != "result" {
		c.Close()
		return nil, fmt.Errorf("bind: %s", errorCondition(el))
	}
	c.JID, _ = childText(el, "jid")
	if needSession { // RFC 3921 3; obsolete, but some servers still require it
		if err := c.send([]byte("<iq type='set' id='sess'><session xmlns='" + nsSession + "'/></iq>")); err != nil {
			c.Close()
			return nil, err
		}
		el, err := c.awaitIQ("sess")
		if err != nil || attrString(el, "type") != "result" {
			c.Close()
			if err == nil {
				err = errors.New(errorCondition(el))
			}
			return nil, fmt.Errorf("session: %w", err)
		}
	}
	if d.o.sm {
		if err := c.enableSM(); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// enableSM turns stream management (XEP-0198) on, as phones do.
func (c *Conn) enableSM() error {
	if err := c.send([]byte("<enable xmlns='" + nsSM + "' resume='true'/>")); err != nil {
		return err
	}
	if _, err := c.expect("enabled"); err != nil {
		return fmt.Errorf("stream management: %w", err)
	}
	c.sm = true
	return nil
}

// negotiate connects, secures the stream and hands the TLS stream's
// features to then, all within the login timeout; the connection's deadline
// stays set for the caller to clear. It returns what then returns, which is
// valid until the next read.
func (d *dialer) negotiate(ctx context.Context, then func(*Conn, []byte) ([]byte, error)) (*Conn, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	c, err := d.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	c.raw.SetDeadline(deadline)
	feats, err := c.features(d.o.domain)
	if err == nil && !d.o.directTLS {
		if !hasChild(feats, "starttls") {
			err = errors.New("server offers no STARTTLS")
		} else if err = c.send([]byte("<starttls xmlns='" + nsTLS + "'/>")); err == nil {
			if _, err = c.expect("proceed"); err == nil {
				if err = c.startTLS(ctx, d.tls); err == nil {
					feats, err = c.features(d.o.domain)
				}
			}
		}
	}
	if err == nil {
		feats, err = then(c, feats)
	}
	if err != nil {
		c.raw.Close()
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, err
	}
	return c, feats, nil
}

// Close ends the stream (RFC 6120 4.4) without waiting for the server.
func (c *Conn) Close() error {
	c.raw.SetWriteDeadline(time.Now().Add(time.Second))
	c.send([]byte("</stream:stream>"))
	return c.c.Close()
}

// closeWait ends the stream and waits up to d for the server to close its
// side, as a client logging out politely does.
func (c *Conn) closeWait(d time.Duration) error {
	c.raw.SetDeadline(time.Now().Add(d))
	err := c.send([]byte("</stream:stream>"))
	for err == nil {
		_, _, err = c.sc.next()
	}
	c.c.Close()
	if errors.Is(err, errStreamEnd) || errors.Is(err, io.EOF) {
		return nil // a server may close the connection without closing the stream
	}
	return fmt.Errorf("logout: %w", err)
}

// serve reads stanzas until the stream ends, answering IQ requests
// (RFC 6120 8.2.3: every get or set gets a reply) and handing everything
// else to handle. It runs on the connection's reader goroutine; handle
// must not keep el.
func (c *Conn) serve(handle func(el []byte)) error {
	for {
		kind, el, err := c.sc.next()
		if err != nil {
			return err
		}
		if kind != tokElement {
			continue
		}
		if c.sm {
			switch string(tagName(el)) {
			case "r":
				if err := c.send([]byte("<a xmlns='" + nsSM + "' h='" + strconv.FormatUint(uint64(c.h), 10) + "'/>")); err != nil {
					return err
				}
				continue
			case "message", "presence", "iq":
				c.h++
			}
		}
		if len(el) > 3 && string(el[:3]) == "<iq" && isSpace(el[3]) {
			if t := attrString(el, "type"); t == "get" || t == "set" {
				if err := c.answerIQ(el); err != nil {
					return err
				}
				continue
			}
		}
		if name := tagName(el); len(name) > 6 && string(name[len(name)-6:]) == ":error" {
			return fmt.Errorf("stream error: %s", firstChild(el))
		}
		if handle != nil {
			handle(el)
		}
	}
}

func (c *Conn) answerIQ(el []byte) error {
	b := make([]byte, 0, 256)
	b = append(b, "<iq type='"...)
	ns := childNS(el)
	switch {
	case ns == nsPing || (ns == nsRoster && attrString(el, "type") == "set"):
		b = append(b, "result"...)
	default:
		b = append(b, "error"...)
	}
	b = append(b, "' id='"...)
	b = appendEscaped(b, attrString(el, "id"))
	if from := attrString(el, "from"); from != "" {
		b = append(b, "' to='"...)
		b = appendEscaped(b, from)
	}
	if b[len("<iq type='")] == 'e' {
		b = append(b, "'><error type='cancel'><service-unavailable xmlns='"+nsStanzas+"'/></error></iq>"...)
	} else {
		b = append(b, "'/>"...)
	}
	return c.send(b)
}

// childNS returns the xmlns of the first child of el.
func childNS(el []byte) string {
	root := true
	var ns string
	eachTag(el, func(tag, _ []byte) bool {
		if root {
			root = false
			return true
		}
		ns = attrString(tag, "xmlns")
		return false
	})
	return ns
}

// shrink gives an idle stream small buffers, so that ten thousand of them
// cost the load client little memory. It keeps the reader if it holds
// unread bytes.
func (c *Conn) shrink() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w.Buffered() == 0 {
		c.w = bufio.NewWriterSize(c.c, 256)
	}
	if c.r.Buffered() == 0 {
		c.r = bufio.NewReaderSize(c.c, 512)
		c.sc = newScanner(c.r, maxElement)
	}
}
