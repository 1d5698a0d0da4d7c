package s2s

import (
	"bytes"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"net"
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Namespaces of server-to-server streams.
const (
	nsDialback      = "jabber:server:dialback"     // XEP-0220 elements (db:result, db:verify)
	nsDialbackFeat  = "urn:xmpp:features:dialback" // XEP-0220 stream feature
	nsBidi          = "urn:xmpp:bidi"              // XEP-0288 request
	nsBidiFeat      = "urn:xmpp:features:bidi"     // XEP-0288 stream feature
	alpnServer      = "xmpp-server"                // XEP-0368 ALPN
	nsStanzasErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
)

// dbDecl declares the db: prefix on every stream header: dialback
// elements are written with it, since some servers (ejabberd) match the
// prefixed name.
var dbDecl = []xml.Attr{{Name: xml.Name{Space: "xmlns", Local: "db"}, Value: nsDialback}}

// conn is one server-to-server stream on a TCP connection (RFC 6120 4):
// the opening each side sends, top-level elements, TLS and the end. Reads
// happen on one goroutine; writes are serialised by wmu.
type conn struct {
	raw net.Conn // the socket
	nc  net.Conn // raw, or TLS over it
	tls *tls.Conn
	dec *stream.Decoder
	lim stream.Limits

	wmu  sync.Mutex
	wbuf bytes.Buffer
	wt   time.Duration // how long one write may take
	once sync.Once
}

func newConn(nc net.Conn, lim stream.Limits, writeTimeout time.Duration) *conn {
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	return &conn{raw: nc, nc: nc, lim: lim, dec: stream.NewDecoder(nc, lim), wt: writeTimeout}
}

// newStreamID returns a stream ID that cannot be guessed (dialback keys
// are bound to it, XEP-0185).
func newStreamID() string { return stanza.RandomID(16) }

func (c *conn) readOpen() (stream.Header, error) { return c.dec.Header() }

func (c *conn) next() (*stanza.Element, error) { return c.dec.Next() }

// sendOpen writes the opening of a stream in jabber:server, with the db:
// prefix declared, and the features (nil: none; the initiating side sends
// none).
func (c *conn) sendOpen(h stream.Header, features []*stanza.Element) error {
	h.NS, h.Version, h.Attrs = stanza.NSServer, "1.0", dbDecl
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := &c.wbuf
	b.Reset()
	stream.AppendHeader(b, h)
	if features != nil {
		stream.AppendFeatures(b, stanza.NSServer, features...)
	}
	return c.flush()
}

// send writes elements in one write.
func (c *conn) send(els ...*stanza.Element) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := &c.wbuf
	b.Reset()
	for _, el := range els {
		el.Encode(b, stanza.NSServer)
	}
	return c.flush()
}

// sendDialback writes a db:result or db:verify with the db: prefix.
func (c *conn) sendDialback(name, from, to, typ, id, key string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := &c.wbuf
	b.Reset()
	appendDialback(b, name, from, to, typ, id, key)
	return c.flush()
}

func appendDialback(b *bytes.Buffer, name, from, to, typ, id, key string) {
	b.WriteString("<db:" + name)
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"type", typ}, {"id", id}} {
		if a[1] != "" {
			b.WriteString(" " + a[0] + `="`)
			stanza.EscapeAttr(b, a[1])
			b.WriteByte('"')
		}
	}
	if key == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	stanza.EscapeText(b, key)
	b.WriteString("</db:" + name + ">")
}

// write writes what b holds (the link's writer builds it itself).
func (c *conn) write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.wt))
	return c.nc.Write(b)
}

// flush writes wbuf; every write has a deadline, so that a peer that
// reads nothing cannot hold a writer (and wmu) for ever.
func (c *conn) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.wt))
	_, err := c.nc.Write(c.wbuf.Bytes())
	if c.wbuf.Cap() > 64<<10 {
		c.wbuf = bytes.Buffer{}
	}
	return err
}

// restart begins a new stream on the same transport (after SASL).
func (c *conn) restart() { c.dec.Reset(nil) }

func (c *conn) setLimits(l stream.Limits) {
	c.lim = l
	c.dec.SetLimits(l)
}

// startTLS upgrades the connection in place: as the server when cfg is a
// server configuration, else as the client; the stream restarts.
func (c *conn) startTLS(cfg *tls.Config, server bool) error {
	if c.tls != nil {
		return errors.New("TLS is already on")
	}
	var tc *tls.Conn
	if server {
		tc = tls.Server(c.raw, cfg)
	} else {
		tc = tls.Client(c.raw, cfg)
	}
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.wmu.Lock()
	c.tls, c.nc = tc, tc
	c.wmu.Unlock()
	c.dec = stream.NewDecoder(tc, c.lim)
	return nil
}

func (c *conn) tlsState() *tls.ConnectionState {
	c.wmu.Lock()
	tc := c.tls
	c.wmu.Unlock()
	if tc == nil {
		return nil
	}
	st := tc.ConnectionState()
	return &st
}

// end sends the stream error e (nil: none) and the end of the stream,
// then closes the connection after giving the peer a moment to answer.
func (c *conn) end(h *stream.Header, e *stream.Error) {
	c.once.Do(func() {
		// A write under way gets a moment to finish; one that does not
		// (a peer that reads nothing) loses its connection.
		deadline := time.Now().Add(200 * time.Millisecond)
		for !c.wmu.TryLock() {
			if time.Now().After(deadline) {
				c.raw.Close()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		b := &c.wbuf
		b.Reset()
		if h != nil {
			// An error before our opening still needs one (RFC 6120 4.9.1.1).
			hh := *h
			hh.NS, hh.Version, hh.Attrs = stanza.NSServer, "1.0", dbDecl
			stream.AppendHeader(b, hh)
		}
		if e != nil {
			stream.AppendError(b, e)
		}
		b.WriteString(stream.Close)
		_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, _ = c.nc.Write(b.Bytes())
		nc := c.nc
		c.wmu.Unlock()
		if hc, ok := nc.(interface{ CloseWrite() error }); ok {
			_ = hc.CloseWrite()
		}
		// The peer answers with its own end; the reader sees it (or
		// the deadline) and the connection is closed then.
		_ = c.raw.SetReadDeadline(time.Now().Add(2 * time.Second))
		time.AfterFunc(3*time.Second, func() { c.raw.Close() })
	})
}

func (c *conn) close() { c.raw.Close() }
