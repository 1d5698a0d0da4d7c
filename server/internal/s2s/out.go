package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// negotiationLimits bound what a peer may send before its link is
// authenticated: stream features, TLS and SASL elements, dialback.
var negotiationLimits = stream.Limits{MaxStanza: 16 << 10, MaxDepth: 6, MaxElements: 64, MaxAttrs: 16, MaxScope: 16}

// stanzaLimits are the limits once a link is authenticated.
func (f *Federation) stanzaLimits() stream.Limits {
	return stream.Limits{MaxStanza: f.cfg.MaxStanza}.WithDefaults()
}

// runOut sets up an outbound link, then reads from it until it ends.
func (l *link) runOut() {
	ctx, cancel := context.WithTimeout(l.ctx, l.f.cfg.ConnectTimeout)
	err := l.connect(ctx)
	timedOut := ctx.Err() == context.DeadlineExceeded
	cancel()
	if err != nil {
		e := stanza.NewError(stanza.Cancel, stanza.RemoteServerNotFound, "could not reach "+l.remote+": "+err.Error())
		if timedOut {
			e = stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, fmt.Sprintf("%s did not answer within %s: %v", l.remote, l.f.cfg.ConnectTimeout, err))
		}
		l.abort(err, e)
		return
	}
	if !l.up() {
		return // ended meanwhile (federation off, the domain blocked, shutdown)
	}
	l.f.succeeded(l.remote)
	info := l.info()
	l.f.cfg.Log.Info("federation link up", "domain", l.remote, "direction", "out", "auth", info.Auth, "tls", info.TLS, "bidi", info.Direction == "both")
	l.read(context.WithoutCancel(l.f.ctx))
}

// abort ends a link that could not be set up: what waited for it bounces
// with e, and new stanzas for the domain bounce at once for a while.
func (l *link) abort(why error, e *stanza.Error) {
	l.f.failed(l.remote, e, why)
	l.mu.Lock()
	if l.ended { // ended meanwhile (Close, SetPolicy): fail did the rest
		c := l.c
		l.mu.Unlock()
		if c != nil {
			c.close()
		}
		return
	}
	l.ended = true
	l.err = plainLinkError(why)
	q, c, errText := l.q, l.c, l.err
	l.q, l.qbytes = nil, 0
	l.mu.Unlock()
	close(l.done)
	l.cancel()
	l.f.remove(l)
	if c != nil {
		c.end(nil, nil)
	}
	l.f.cfg.Log.Info("could not federate", "domain", l.remote, "why", errText)
	ctx := context.WithoutCancel(l.f.ctx)
	for _, st := range q {
		l.f.bounce(ctx, st, e)
	}
}

// connect reaches the remote domain's server and authenticates this link:
// TLS (STARTTLS, or direct TLS where SRV says so), then SASL EXTERNAL with
// our certificate, or dialback.
func (l *link) connect(ctx context.Context) error {
	nc, cand, err := l.f.dialer.Dial(ctx, l.remote)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	c := newConn(nc, negotiationLimits, l.f.cfg.WriteTimeout)
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		nc.Close()
		return errors.New("the link was ended while it was set up")
	}
	l.c = c
	l.mu.Unlock()
	if cand.DirectTLS {
		if err := c.startTLS(l.f.clientTLS(l.local, l.remote, true), false); err != nil {
			return fmt.Errorf("TLS with %s failed: %w", cand, err)
		}
	}
	h, feats, err := l.f.openOut(c, l.local, l.remote)
	if err != nil {
		return err
	}
	if c.tls == nil {
		if err := l.f.startTLSOut(c, feats, l.local, l.remote); err != nil {
			return err
		}
		if h, feats, err = l.f.openOut(c, l.local, l.remote); err != nil {
			return err
		}
	}
	certErr := VerifyPeer(c.tlsState().PeerCertificates, l.remote, l.f.roots, time.Now())
	l.mu.Lock()
	if certErr != nil {
		l.cert = certErr.Error()
	}
	l.mu.Unlock()
	// XEP-0288: the peer may send its stanzas back on this link only if
	// its certificate proved its domain to us.
	bidi := certErr == nil && feats.Child("bidi", nsBidiFeat) != nil
	if bidi {
		if err := c.send(stanza.New("bidi", nsBidi)); err != nil {
			return err
		}
	}
	auth := ""
	if hasMechanism(feats, "EXTERNAL") {
		ok, err := l.external(c)
		if err != nil {
			return err
		}
		if ok {
			auth = "certificate"
			if h, feats, err = l.f.openOut(c, l.local, l.remote); err != nil {
				return err
			}
		}
	}
	if auth == "" {
		if feats.Child("dialback", nsDialbackFeat) == nil && !declaresDialback(h) {
			if certErr != nil {
				return fmt.Errorf("%s did not accept our certificate and offers no dialback", l.remote)
			}
			return fmt.Errorf("%s offers no way to authenticate that Hearth supports (SASL EXTERNAL or dialback)", l.remote)
		}
		if err := l.dialback(c, h.ID); err != nil {
			return err
		}
		auth = "dialback"
	}
	c.setLimits(l.f.stanzaLimits())
	_ = nc.SetDeadline(time.Time{})
	l.mu.Lock()
	l.auth = auth
	if bidi {
		l.bidi = true
		l.authed[l.remote] = true
	}
	l.mu.Unlock()
	return nil
}

// openOut opens a stream to remote and reads its opening and features.
func (f *Federation) openOut(c *conn, local, remote string) (stream.Header, *stanza.Element, error) {
	if err := c.sendOpen(stream.Header{From: local, To: remote}, nil); err != nil {
		return stream.Header{}, nil, err
	}
	h, err := c.readOpen()
	if err != nil {
		return h, nil, fmt.Errorf("%s did not open an XMPP stream: %w", remote, err)
	}
	if h.NS != stanza.NSServer {
		return h, nil, fmt.Errorf("%s answered with a %q stream, not a server-to-server one", remote, h.NS)
	}
	if h.Version == "" {
		return h, nil, fmt.Errorf("%s speaks pre-1.0 XMPP, without TLS; Hearth federates only over TLS", remote)
	}
	el, err := c.next()
	if err != nil {
		return h, nil, err
	}
	if el.Name != "features" || el.NS != stanza.NSStream {
		return h, nil, fmt.Errorf("%s sent <%s/> where its stream features belong", remote, el.Name)
	}
	return h, el, nil
}

// startTLSOut upgrades an outbound stream with STARTTLS.
func (f *Federation) startTLSOut(c *conn, feats *stanza.Element, local, remote string) error {
	if feats.Child("starttls", stanza.NSTLS) == nil {
		return fmt.Errorf("%s does not offer encryption (STARTTLS); Hearth federates only over TLS", remote)
	}
	if err := c.send(stanza.New("starttls", stanza.NSTLS)); err != nil {
		return err
	}
	el, err := c.next()
	if err != nil {
		return err
	}
	if el.Name != "proceed" || el.NS != stanza.NSTLS {
		return fmt.Errorf("%s refused to start TLS", remote)
	}
	if err := c.startTLS(f.clientTLS(local, remote, false), false); err != nil {
		return fmt.Errorf("TLS with %s failed: %w", remote, err)
	}
	return nil
}

// clientTLS is the configuration of an outbound TLS connection: the
// peer's certificate is checked after the handshake by VerifyPeer (a
// certificate that does not verify leaves dialback), ours is offered for
// SASL EXTERNAL.
func (f *Federation) clientTLS(local, remote string, direct bool) *tls.Config {
	base := f.cfg.TLS()
	cfg := &tls.Config{
		ServerName:         asciiDomain(remote),
		InsecureSkipVerify: true, // verified by VerifyPeer, for RFC 6125 and serverAuth-only certificates
		MinVersion:         tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if base.GetCertificate == nil {
				if len(base.Certificates) > 0 {
					return &base.Certificates[0], nil
				}
				return &tls.Certificate{}, nil
			}
			c, err := base.GetCertificate(&tls.ClientHelloInfo{ServerName: local, SignatureSchemes: cri.SignatureSchemes,
				SupportedVersions: []uint16{cri.Version}})
			if err != nil || c == nil {
				return &tls.Certificate{}, nil // no certificate: dialback
			}
			return c, nil
		},
	}
	if direct {
		cfg.NextProtos = []string{alpnServer}
	}
	return cfg
}

// serverTLS is the configuration of an inbound TLS connection: the peer's
// certificate is asked for, not required, and checked by VerifyPeer.
func (f *Federation) serverTLS() *tls.Config {
	cfg := f.cfg.TLS().Clone()
	cfg.NextProtos = []string{alpnServer}
	cfg.ClientAuth = tls.RequestClientCert
	cfg.VerifyPeerCertificate = nil
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// external authenticates with SASL EXTERNAL (XEP-0178): our certificate
// proves our domain. False: the peer refused, dialback may follow.
func (l *link) external(c *conn) (bool, error) {
	auth := stanza.New("auth", stanza.NSSASL, "mechanism", "EXTERNAL").AppendText(base64.StdEncoding.EncodeToString([]byte(l.local)))
	if err := c.send(auth); err != nil {
		return false, err
	}
	el, err := c.next()
	if err != nil {
		return false, err
	}
	switch {
	case el.Name == "success" && el.NS == stanza.NSSASL:
		c.restart()
		return true, nil
	case el.Name == "failure" && el.NS == stanza.NSSASL:
		l.f.cfg.Log.Debug("SASL EXTERNAL refused; trying dialback", "domain", l.remote, "why", saslFailure(el))
		return false, nil
	}
	return false, fmt.Errorf("%s answered SASL with <%s/>", l.remote, el.Name)
}

func saslFailure(el *stanza.Element) string {
	why := ""
	for _, c := range el.Elements() {
		if c.Name == "text" {
			why += " " + c.Content()
		} else {
			why = c.Name + why
		}
	}
	return why
}

// dialback proves our domain with a dialback key (XEP-0220): the peer asks
// our server whether the key is ours.
func (l *link) dialback(c *conn, streamID string) error {
	if streamID == "" {
		return fmt.Errorf("%s gave its stream no ID, which dialback needs", l.remote)
	}
	key := l.f.cfg.Dialback.Key(l.remote, l.local, streamID)
	done := l.f.expectVerify(l.remote, streamID, l.local)
	defer done()
	if err := c.sendDialback("result", l.local, l.remote, "", "", key); err != nil {
		return err
	}
	for {
		el, err := c.next()
		if err != nil {
			return err
		}
		switch {
		case el.NS == nsDialback && el.Name == "result" && el.Attr("type") != "":
			switch el.Attr("type") {
			case "valid":
				return nil
			case "invalid":
				return fmt.Errorf("%s did not accept our dialback key (it could not check it with this server: is port 5269 of this server reachable from the internet?)", l.remote)
			default:
				return fmt.Errorf("%s refused dialback: %s", l.remote, dialbackError(el))
			}
		case el.NS == nsDialback && el.Name == "verify" && el.Attr("type") == "":
			if err := l.f.answerVerify(c, el); err != nil {
				return err
			}
		case el.Name == "error" && el.NS == stanza.NSStream:
			return streamErrorOf(el)
		}
	}
}

func dialbackError(el *stanza.Element) string {
	if e := el.Child("error", stanza.NSClient); e != nil {
		for _, c := range e.Elements() {
			if c.NS == nsStanzasErrors && c.Name != "text" {
				return c.Name
			}
		}
	}
	return "no reason given"
}

// streamErrorOf turns a received <stream:error/> into an error.
func streamErrorOf(el *stanza.Element) error {
	e := &stream.Error{Condition: stream.UndefinedCondition}
	for _, c := range el.Elements() {
		if c.NS != stanza.NSStreams {
			continue
		}
		if c.Name == "text" {
			e.Text = c.Content()
		} else {
			e.Condition = c.Name
		}
	}
	return e
}

func hasMechanism(feats *stanza.Element, name string) bool {
	m := feats.Child("mechanisms", stanza.NSSASL)
	if m == nil {
		return false
	}
	for _, c := range m.Elements() {
		if c.Name == "mechanism" && c.Content() == name {
			return true
		}
	}
	return false
}

// declaresDialback: a stream whose opening declares the dialback
// namespace supports it even without the feature (older servers).
func declaresDialback(h stream.Header) bool {
	for _, a := range h.Attrs {
		if a.Name.Space == "xmlns" && a.Value == nsDialback {
			return true
		}
	}
	return false
}

// read reads an established link until it ends.
func (l *link) read(ctx context.Context) {
	for {
		el, err := l.c.next()
		if err != nil {
			l.readFailed(err)
			return
		}
		if e := l.element(ctx, el); e != nil {
			l.fail(e, e)
			return
		}
	}
}

// element handles one element of an established link.
func (l *link) element(ctx context.Context, el *stanza.Element) *stream.Error {
	switch {
	case stanza.IsStanzaNS(el.NS) && stanza.KindOf(el) != stanza.KindNone:
		return l.stanza(ctx, el)
	case el.NS == nsDialback && el.Name == "verify" && el.Attr("type") == "":
		if err := l.f.answerVerify(l.c, el); err != nil {
			return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
		}
	case el.NS == nsDialback:
		// Answers to nothing we asked on this link: ignored.
	case el.Name == "error" && el.NS == stanza.NSStream:
		l.mu.Lock()
		l.err = plainLinkError(streamErrorOf(el))
		l.mu.Unlock()
		return nil
	default:
		return &stream.Error{Condition: stream.UnsupportedStanzaType, Text: "<" + el.Name + "/> is not expected here"}
	}
	return nil
}
