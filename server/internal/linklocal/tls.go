package linklocal

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// TLS on link-local streams (XEP-0174 8, RFC 6120 5). With Config.TLS
// set, a peer that opens with version 1.0 is offered STARTTLS, and a
// stream we open uses it where the peer offers it. Peers on a LAN have no
// authority to vouch for their certificates: the peer's certificate is
// not checked, so TLS keeps passive listeners out; who the peer is rests
// on the address check, as without TLS.

const (
	proceed  = `<proceed xmlns="` + stanza.NSTLS + `"/>`
	starttls = `<starttls xmlns="` + stanza.NSTLS + `"/>`
)

// clientTLS is the configuration for streams we open.
func (s *Service) clientTLS() *tls.Config {
	cc := s.cfg.TLS.Clone()
	cc.InsecureSkipVerify = true // see above: nothing on a LAN can vouch for a peer's certificate
	if cc.MinVersion < tls.VersionTLS12 {
		cc.MinVersion = tls.VersionTLS12
	}
	return cc
}

// startTLSIn answers a peer's <starttls/>: proceed, the handshake, and the
// stream restarted over TLS with the same names. It runs on the reader.
func (c *conn) startTLSIn() (*stream.Error, string) {
	c.wmu.Lock()
	serr, why, lost := c.secureLocked()
	c.wmu.Unlock()
	if lost {
		c.drop(why)
		return nil, ""
	}
	return serr, why
}

// secureLocked is startTLSIn with wmu held; lost says the connection can
// take no stream error.
func (c *conn) secureLocked() (serr *stream.Error, why string, lost bool) {
	if c.ended {
		return nil, "", false
	}
	if !c.offered || c.isTLS {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "TLS is not offered on this stream"},
			"it asked for TLS where none was offered", false
	}
	if c.dec.Buffered() > 0 {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "nothing may follow <starttls/> before the handshake"},
			"it sent more after asking for TLS", false
	}
	c.wbuf.WriteString(proceed)
	if err := c.flushLocked(); err != nil {
		return nil, "the connection was lost while starting TLS", true
	}
	raw := c.nc
	raw.SetDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	tc := tls.Server(raw, c.s.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		return nil, "the TLS handshake failed: " + err.Error(), true
	}
	c.nc, c.isTLS, c.sentHdr = tc, true, false
	c.secure.Store(true)
	c.dec.Reset(tc)
	h, err := c.dec.Header()
	if err != nil {
		if errors.As(err, &serr) {
			return serr, "it sent something that is not allowed after TLS: " + plainStreamError(serr), false
		}
		return nil, "it sent no stream header after TLS", true
	}
	if h.From != c.peer || h.To != c.local {
		return &stream.Error{Condition: stream.InvalidFrom, Text: "the stream after TLS must have the names it had before"},
			"it changed its names after TLS", false
	}
	c.writeHeaderLocked(c.local, c.peer, true)
	if err := c.flushLocked(); err != nil {
		return nil, "the connection was lost after TLS", true
	}
	tc.SetDeadline(time.Time{})
	c.s.log.Info("link-local stream secured with TLS", "peer", c.peer, "local", c.local,
		"version", tls.VersionName(tc.ConnectionState().Version))
	return nil, "", false
}

// startTLSOut reads the features of a stream we opened to a version 1.0
// peer and, where they offer STARTTLS, secures the stream and restarts
// it. An element that is not features is kept for the reader.
func (c *conn) startTLSOut(ctx context.Context) error {
	nc := c.nc
	nc.SetReadDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Now()) })
	defer stop()
	el, err := c.dec.Next()
	if err != nil {
		return ctxErr(ctx, err)
	}
	if el.NS != stanza.NSStream || el.Name != "features" {
		c.first = el
		return nil
	}
	if el.Child("starttls", stanza.NSTLS) == nil {
		return nil
	}
	c.wmu.Lock()
	c.wbuf.WriteString(starttls)
	err = c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	el, err = c.dec.Next()
	if err != nil {
		return ctxErr(ctx, err)
	}
	if el.NS != stanza.NSTLS || el.Name != "proceed" {
		return errors.New("it refused to start TLS")
	}
	if c.dec.Buffered() > 0 {
		return errors.New("it sent more after agreeing to TLS")
	}
	nc.SetDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	tc := tls.Client(nc, c.s.clientTLS())
	if err := tc.HandshakeContext(ctx); err != nil {
		return errors.New("the TLS handshake failed: " + err.Error())
	}
	c.wmu.Lock()
	if c.ended {
		c.wmu.Unlock()
		return errEnded
	}
	c.nc, c.isTLS, c.sentHdr = tc, true, false
	c.secure.Store(true)
	c.dec.Reset(tc)
	c.writeHeaderLocked(c.local, c.peer, false)
	err = c.flushLocked()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	if _, err := c.readHeader(ctx); err != nil {
		return err
	}
	tc.SetWriteDeadline(time.Time{})
	return nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
