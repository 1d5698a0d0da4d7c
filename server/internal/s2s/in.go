package s2s

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"hearth/server/internal/accept"
	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Serve accepts the servers that connect to ln, until ctx is done or ln
// is closed. One port serves STARTTLS and direct TLS (XEP-0368): a
// connection whose first byte begins a TLS handshake gets TLS at once.
func (f *Federation) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	return accept.Loop(ctx, ln, f.cfg.Log, f.accept)
}

// accept takes a connection from another server, within the cap on links.
func (f *Federation) accept(nc net.Conn) {
	if !f.policy.Load().Enabled || f.ctx.Err() != nil {
		nc.Close()
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		nc.Close()
		return
	}
	key := addressKey(nc.RemoteAddr())
	unauth := 0
	for _, n := range f.unauth {
		unauth += n
	}
	var refuse string
	switch {
	case len(f.in) >= f.cfg.MaxLinks:
		refuse = "this server has as many links from other servers as it allows; try again later"
	case f.inByAddr[key] >= InPerAddress:
		refuse = "this server has as many links from your address as it allows; try again later"
	case f.unauth[key] >= UnauthPerAddress, unauth >= max(f.cfg.MaxLinks/4, UnauthPerAddress):
		refuse = "too many connections are not authenticated yet; try again later"
	}
	if refuse != "" {
		f.mu.Unlock()
		go func() {
			c := newConn(nc, negotiationLimits, f.cfg.WriteTimeout)
			c.end(&stream.Header{From: f.cfg.Domain}, &stream.Error{Condition: stream.ResourceConstraint, Text: refuse})
		}()
		return
	}
	l := newLink(f, dirIn, "", "")
	l.unauthKey, l.addrKey = key, key
	f.unauth[key]++
	f.inByAddr[key]++
	f.in[l] = struct{}{}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		l.runIn(nc)
	}()
}

// Bounds on inbound links by address (an IPv6 /64), so that no one peer
// can take every link: UnauthPerAddress that are not authenticated yet
// (and a quarter of MaxLinks from all addresses), InPerAddress in all (a
// server hosting many domains has one link per domain). Outbound links
// have a budget of their own: our users can always reach other servers.
const (
	UnauthPerAddress = 8
	InPerAddress     = 32
)

// addressKey is what connections are counted by: the IPv4 address, or
// the IPv6 /64.
func addressKey(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if v4 := ta.IP.To4(); v4 != nil {
		return v4.String()
	}
	return ta.IP.Mask(net.CIDRMask(64, 128)).String()
}

// authenticatedLocked stops counting l as unauthenticated; f.mu is held.
func (f *Federation) authenticatedLocked(l *link) {
	if l.unauthKey == "" {
		return
	}
	if f.unauth[l.unauthKey]--; f.unauth[l.unauthKey] <= 0 {
		delete(f.unauth, l.unauthKey)
	}
	l.unauthKey = ""
}

// sniffConn gives back the first byte read to find out whether a
// connection begins with TLS.
type sniffConn struct {
	net.Conn
	first []byte
}

func (s *sniffConn) Read(p []byte) (int, error) {
	if len(s.first) > 0 {
		n := copy(p, s.first)
		s.first = s.first[n:]
		return n, nil
	}
	return s.Conn.Read(p)
}

// runIn negotiates an inbound link and reads it until it ends.
func (l *link) runIn(nc net.Conn) {
	f := l.f
	_ = nc.SetDeadline(time.Now().Add(f.cfg.NegotiateTimeout))
	var first [1]byte
	if _, err := nc.Read(first[:]); err != nil {
		nc.Close()
		l.fail(err, nil)
		return
	}
	c := newConn(&sniffConn{Conn: nc, first: first[:]}, negotiationLimits, f.cfg.WriteTimeout)
	l.mu.Lock()
	l.c = c
	l.mu.Unlock()
	if first[0] == 0x16 { // a TLS handshake record
		if err := c.startTLS(f.serverTLS(), true); err != nil {
			l.fail(fmt.Errorf("TLS handshake failed: %w", err), nil)
			return
		}
	}
	ctx := context.WithoutCancel(f.ctx)
	in := &inbound{l: l, c: c, restart: true}
	for {
		if in.restart {
			if e := in.open(); e != nil {
				l.fail(e, e)
				return
			}
		}
		el, err := c.next()
		if err != nil {
			l.readFailed(err)
			return
		}
		if e := in.element(ctx, el); e != nil {
			l.fail(e, e)
			return
		}
	}
}

// inbound is the negotiation state of an inbound link.
type inbound struct {
	l        *link
	c        *conn
	h        stream.Header // the peer's latest opening
	from     string        // its from, as a domain ("" if none)
	streamID string        // ours, which dialback keys are bound to
	restart  bool          // a new stream is due
	opened   bool
	bidi     bool // the peer asked for XEP-0288
	authed   bool
	up       bool // the link's writer runs
	// livePending: authenticated by SASL, live once our new opening is out.
	livePending bool
	dbTries     int // dialback keys checked on this stream
}

// open reads the peer's opening and answers with ours and the features.
func (in *inbound) open() *stream.Error {
	l, c, f := in.l, in.c, in.l.f
	in.restart = false
	c.restart()
	h, err := c.readOpen()
	in.streamID = newStreamID()
	ours := stream.Header{From: h.To, To: h.From, ID: in.streamID}
	if err != nil {
		var se *stream.Error
		if !errors.As(err, &se) {
			se = &stream.Error{Condition: stream.BadFormat}
		}
		ours.From = f.cfg.Domain
		c.end(&ours, se)
		return se
	}
	in.h, in.from = h, ""
	fail := func(e *stream.Error) *stream.Error {
		if ours.From == "" || !f.isLocal(ours.From) {
			ours.From = f.cfg.Domain
		}
		c.end(&ours, e)
		return e
	}
	switch {
	case h.NS != stanza.NSServer:
		return fail(&stream.Error{Condition: stream.InvalidNamespace, Text: "this port is for servers (jabber:server); clients connect to port 5222"})
	case !f.isLocal(domainOf(h.To)):
		return fail(&stream.Error{Condition: stream.HostUnknown, Text: h.To + " is not served here"})
	case h.Version == "":
		return fail(&stream.Error{Condition: stream.UnsupportedVersion, Text: "this server needs XMPP 1.0 streams, with TLS"})
	}
	from := ""
	if h.From != "" {
		j, err := jid.Parse(h.From)
		if err != nil || j.Local != "" || j.Resource != "" {
			return fail(&stream.Error{Condition: stream.InvalidFrom, Text: "from is not a domain"})
		}
		from = j.Domain
		in.from = from
		if err := f.policy.Load().check(from); err != nil {
			return fail(&stream.Error{Condition: stream.PolicyViolation, Text: err.Error()})
		}
	}
	l.mu.Lock()
	l.local = domainOf(h.To)
	if l.remote == "" {
		l.remote = from
	}
	l.mu.Unlock()
	ours.From = l.local
	feats := []*stanza.Element{} // sent even when empty: the peer waits for them
	switch {
	case c.tls == nil:
		feats = append(feats, stanza.New("starttls", stanza.NSTLS).Append(stanza.New("required", stanza.NSTLS)))
	case !in.authed:
		if from != "" {
			certErr := VerifyPeer(c.tlsState().PeerCertificates, from, f.roots, time.Now())
			l.mu.Lock()
			l.cert = ""
			if certErr != nil {
				l.cert = certErr.Error()
			}
			l.mu.Unlock()
			if certErr == nil {
				feats = append(feats, stanza.New("mechanisms", stanza.NSSASL).Append(
					stanza.New("mechanism", stanza.NSSASL).AppendText("EXTERNAL")))
			}
		}
		feats = append(feats, stanza.New("dialback", nsDialbackFeat).Append(stanza.New("errors", nsDialbackFeat)),
			stanza.New("bidi", nsBidiFeat))
	}
	if err := c.sendOpen(ours, feats); err != nil {
		return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
	}
	in.opened = true
	if in.livePending {
		in.livePending = false
		in.live()
	}
	return nil
}

// element handles one element from the peer.
func (in *inbound) element(ctx context.Context, el *stanza.Element) *stream.Error {
	l, c, f := in.l, in.c, in.l.f
	switch {
	case el.Name == "starttls" && el.NS == stanza.NSTLS:
		if c.tls != nil {
			return &stream.Error{Condition: stream.PolicyViolation, Text: "TLS is already on"}
		}
		if err := c.send(stanza.New("proceed", stanza.NSTLS)); err != nil {
			return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
		}
		if err := c.startTLS(f.serverTLS(), true); err != nil {
			c.close()
			return &stream.Error{Condition: stream.UndefinedCondition, Text: "TLS handshake failed: " + err.Error()}
		}
		in.restart = true
		return nil
	case c.tls == nil && el.Name != "error":
		return &stream.Error{Condition: stream.PolicyViolation, Text: "start TLS first: this server federates only over TLS"}
	case el.Name == "auth" && el.NS == stanza.NSSASL:
		return in.external(el)
	case el.Name == "bidi" && el.NS == nsBidi:
		in.bidi = true
		return nil
	case el.Name == "result" && el.NS == nsDialback && el.Attr("type") == "":
		return in.dialbackResult(ctx, el)
	case el.Name == "verify" && el.NS == nsDialback && el.Attr("type") == "":
		if err := f.answerVerify(c, el); err != nil {
			return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
		}
		return nil
	case stanza.IsStanzaNS(el.NS) && stanza.KindOf(el) != stanza.KindNone:
		if !in.authed {
			return &stream.Error{Condition: stream.NotAuthorized, Text: "authenticate before sending stanzas"}
		}
		return l.stanza(ctx, el)
	}
	return l.element(ctx, el)
}

// authenticated records that the peer proved domain on this link.
func (in *inbound) authenticated(domain, how string) {
	l, f := in.l, in.l.f
	first := !in.authed
	in.authed = true
	l.mu.Lock()
	l.authed[domain] = true
	if l.auth == "" {
		l.auth = how
	}
	if l.remote == "" {
		l.remote = domain
	}
	if in.bidi {
		l.bidi = true
	}
	bidi := l.bidi
	l.mu.Unlock()
	if first {
		f.mu.Lock()
		f.authenticatedLocked(l)
		f.mu.Unlock()
		in.c.setLimits(f.stanzaLimits())
		_ = in.c.raw.SetDeadline(time.Time{})
		f.cfg.Log.Info("federation link up", "domain", domain, "direction", "in", "auth", how, "bidi", bidi)
	}
	if in.restart {
		// After SASL our stanzas may go out only after our new opening
		// (open calls live once it is sent).
		in.livePending = true
		return
	}
	in.live()
}

// live lets the link carry our stanzas too, where the peer asked for
// bidi: its writer starts, and it is registered for each domain the peer
// proved (while the link still stands).
func (in *inbound) live() {
	l, f := in.l, in.l.f
	if !in.up {
		in.up = true
		if !l.up() {
			return
		}
	}
	l.mu.Lock()
	local, bidi := l.local, l.bidi
	var domains []string
	for d := range l.authed {
		domains = append(domains, d)
	}
	l.mu.Unlock()
	if !bidi {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.in[l]; !ok || l.isEnded() {
		return
	}
	for _, d := range domains {
		if f.bidi[pair{local, d}] == nil {
			f.bidi[pair{local, d}] = l
		}
	}
}

// external handles SASL EXTERNAL (XEP-0178): the peer's certificate must
// be valid for the domain it opened the stream from.
func (in *inbound) external(el *stanza.Element) *stream.Error {
	c, f := in.c, in.l.f
	failure := func(cond, text string) *stream.Error {
		e := stanza.New("failure", stanza.NSSASL).Append(stanza.New(cond, stanza.NSSASL))
		if text != "" {
			e.Append(stanza.New("text", stanza.NSSASL).AppendText(text))
		}
		if err := c.send(e); err != nil {
			return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
		}
		return nil
	}
	if in.authed {
		return &stream.Error{Condition: stream.PolicyViolation, Text: "this link is authenticated already"}
	}
	if el.Attr("mechanism") != "EXTERNAL" {
		return failure("invalid-mechanism", "")
	}
	domain := in.from
	if v := strings.TrimSpace(el.Content()); v != "" && v != "=" {
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return failure("incorrect-encoding", "")
		}
		if authz := domainOf(string(raw)); authz != domain {
			return failure("invalid-authzid", "the authorization identity must be the domain the stream was opened from")
		}
	}
	if domain == "" {
		return failure("not-authorized", "open the stream with from set to your domain")
	}
	if err := f.policy.Load().check(domain); err != nil {
		return failure("not-authorized", err.Error())
	}
	if err := VerifyPeer(c.tlsState().PeerCertificates, domain, f.roots, time.Now()); err != nil {
		return failure("not-authorized", err.Error())
	}
	if err := c.send(stanza.New("success", stanza.NSSASL)); err != nil {
		return &stream.Error{Condition: stream.UndefinedCondition, Text: err.Error()}
	}
	in.restart = true
	in.authenticated(domain, "certificate")
	return nil
}

// domainOf returns s as a domain in its normal form (RFC 7622), or "" if
// it is not one.
func domainOf(s string) string {
	j, err := jid.Parse(s)
	if err != nil || !j.IsDomain() {
		return ""
	}
	return j.Domain
}
