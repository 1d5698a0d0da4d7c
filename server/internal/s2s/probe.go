package s2s

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Step is one step of a federation test, with its verdict in words.
type Step struct {
	Name   string // DNS, Connect, TLS, Authentication, Round trip
	OK     bool
	Detail string
	// Advice says what to do about a step that failed.
	Advice string
}

// stepAdvice is what to do when a step fails.
var stepAdvice = map[string]string{
	"DNS": "check the spelling of the domain; if it is right, its DNS names no XMPP server " +
		"(an _xmpp-server._tcp SRV record, or an address for the domain itself), or this machine cannot reach a DNS server",
	"Connect": "this server could not reach the other one: check the spelling of the domain, that its server runs, " +
		"and that no firewall keeps its federation port closed; if every domain fails here, this machine cannot reach the internet on that port",
	"TLS": "the other server answered, but no secure connection could be made with it: " +
		"its TLS setup is broken, or something between the two servers interferes",
	"Authentication": "the two servers could not prove who they are to each other: check that federation is on and the domain is not blocked, " +
		"that other servers can reach this server's federation port (5269) from the internet (they call back to check it), " +
		"and that the domain is this server's public name",
	"Round trip": "the link works, but the other server did not answer the test query as expected; messages may still get through",
}

// Probe tests federation with domain step by step, as an admin would:
// where DNS says its server is, whether it answers, its TLS and
// certificate, whether a link authenticates both ways, and a disco#info
// round trip over the links the server really uses. It stops at the
// first step that fails, saying what to do where it can.
func (f *Federation) Probe(ctx context.Context, domain string) []Step {
	var steps []Step
	add := func(name string, ok bool, format string, args ...any) bool {
		st := Step{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)}
		if !ok {
			st.Advice = stepAdvice[name]
		}
		steps = append(steps, st)
		return ok
	}
	j, err := jid.Parse(domain)
	if err != nil || !j.IsDomain() {
		add("DNS", false, "%q is not a domain name such as example.org", domain)
		return steps
	}
	domain = j.Domain
	if f.isLocal(domain) {
		add("DNS", false, "%s is this server's own domain", domain)
		return steps
	}

	// DNS: the candidates and their addresses.
	r := f.dialer.Resolver
	if r == nil {
		r = defaultResolver
	}
	cands, err := Candidates(ctx, r, asciiDomain(domain), nil)
	if err != nil {
		add("DNS", false, "%v", err)
		return steps
	}
	var where []string
	found := 0
	for _, c := range cands {
		addrs, err := r.LookupHost(ctx, c.Host)
		if err != nil {
			where = append(where, fmt.Sprintf("%s: no address (%v)", c, plainNetError(err)))
			continue
		}
		found++
		where = append(where, fmt.Sprintf("%s at %s", c, strings.Join(addrs, ", ")))
	}
	srv := "no SRV records, so the domain itself on port 5269"
	if !(len(cands) == 1 && cands[0].Host == domain && cands[0].Port == DefaultPort && !cands[0].DirectTLS) {
		srv = "SRV records"
	}
	if !add("DNS", found > 0, "%s: %s", srv, strings.Join(where, "; ")) {
		return steps
	}

	// Connect, and TLS with the certificate's names.
	nc, cand, err := f.dialer.Dial(ctx, domain)
	if err != nil {
		add("Connect", false, "%v. Check that the other server runs and that its port is open to the internet", err)
		return steps
	}
	add("Connect", true, "connected to %s (%s)", cand, nc.RemoteAddr())
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	c := newConn(nc, negotiationLimits, f.cfg.WriteTimeout)
	state, err := f.probeTLS(c, cand, domain)
	stop()
	c.end(nil, nil)
	if err != nil {
		add("TLS", false, "%v", err)
		return steps
	}
	leaf := state.PeerCertificates[0]
	names := slices.Clone(leaf.DNSNames)
	if certErr := VerifyPeer(state.PeerCertificates, domain, f.roots, time.Now()); certErr != nil {
		add("TLS", true, "%s; the certificate (names %s, issued by %s) is not valid for %s: %v; links can still authenticate by dialback",
			tls.VersionName(state.Version), strings.Join(names, ", "), leaf.Issuer.CommonName, domain, certErr)
	} else {
		add("TLS", true, "%s; the certificate (names %s, issued by %s, valid until %s) is valid for %s",
			tls.VersionName(state.Version), strings.Join(names, ", "), leaf.Issuer.CommonName, day(leaf.NotAfter), domain)
	}

	// Authentication and a round trip, over the links the server uses.
	if err := f.policy.Load().check(domain); err != nil {
		add("Authentication", false, "%v; change it in the settings (federation.enabled, federation.allow, federation.block)", err)
		return steps
	}
	// A test tries again now, even if the domain failed a moment ago (the
	// admin may just have fixed what made it fail).
	f.succeeded(domain)
	id := "hearth-test-" + newStreamID() // no peer can guess it to answer for another
	iq := stanza.New("iq", stanza.NSClient, "type", "get", "id", id, "from", f.cfg.Domain, "to", domain).
		Append(stanza.New("query", stanza.NSDiscoInfo))
	answer := f.await(id, domain)
	defer f.unawait(id)
	start := time.Now()
	if serr := f.Route(ctx, &stanza.Stanza{El: iq, Kind: stanza.KindIQ, Type: "get", ID: id,
		From: jid.JID{Domain: f.cfg.Domain}, To: jid.JID{Domain: domain}}); serr != nil {
		add("Authentication", false, "%s", errorText(serr))
		return steps
	}
	var got *stanza.Stanza
	select {
	case got = <-answer:
	case <-ctx.Done():
		add("Authentication", false, "no answer in time")
		return steps
	}
	out, in := f.linkAuth(domain)
	switch {
	case got.Type == "error" && out == "":
		add("Authentication", false, "%s", errorText(stanza.ErrorOf(got.El)))
		return steps
	case in == "":
		add("Authentication", true, "this server authenticated to %s by %s; %s has not connected back (answers came over a bidirectional link)", domain, out, domain)
	default:
		add("Authentication", true, "this server authenticated to %s by %s, and %s to this server by %s", domain, authWords(out), domain, authWords(in))
	}
	if got.Type == "error" {
		add("Round trip", false, "%s answered the service discovery query with an error: %s", domain, errorText(stanza.ErrorOf(got.El)))
		return steps
	}
	var software []string
	if q := got.El.Child("query", stanza.NSDiscoInfo); q != nil {
		for _, id := range q.Elements() {
			if id.Name == "identity" && id.Attr("name") != "" {
				software = append(software, id.Attr("name"))
			}
		}
	}
	what := ""
	if len(software) > 0 {
		what = " (it calls itself " + strings.Join(software, ", ") + ")"
	}
	add("Round trip", true, "%s answered service discovery in %s%s", domain, time.Since(start).Round(time.Millisecond), what)
	return steps
}

// defaultResolver is the system's DNS, as the dialer uses it.
var defaultResolver Resolver = net.DefaultResolver

// probeTLS brings a probe connection to TLS and returns its state.
func (f *Federation) probeTLS(c *conn, cand Candidate, domain string) (*tls.ConnectionState, error) {
	if cand.DirectTLS {
		if err := c.startTLS(f.clientTLS(f.cfg.Domain, domain, true), false); err != nil {
			return nil, fmt.Errorf("the TLS handshake failed: %v", err)
		}
	} else {
		_, feats, err := f.openOut(c, f.cfg.Domain, domain)
		if err != nil {
			return nil, err
		}
		if err := f.startTLSOut(c, feats, f.cfg.Domain, domain); err != nil {
			return nil, err
		}
	}
	st := c.tlsState()
	if len(st.PeerCertificates) == 0 {
		return nil, fmt.Errorf("%s sent no certificate", domain)
	}
	return st, nil
}

func authWords(how string) string {
	if how == "certificate" {
		return "certificate (SASL EXTERNAL)"
	}
	return how
}

// linkAuth returns how the links with domain authenticated, each way.
func (f *Federation) linkAuth(domain string) (out, in string) {
	for _, l := range f.Links() {
		if l.Remote != domain || l.Since.IsZero() {
			continue
		}
		switch l.Direction {
		case "out":
			out = l.Auth
		case "in":
			in = l.Auth
		case "both":
			out, in = l.Auth, l.Auth
		}
	}
	return out, in
}

// waiter waits for the answer to one of the server's own IQs, from the
// domain it asked.
type waiter struct {
	ch   chan *stanza.Stanza
	from string
}

// await registers a waiter for the answer from domain to the server's own
// IQ id.
func (f *Federation) await(id, domain string) <-chan *stanza.Stanza {
	ch := make(chan *stanza.Stanza, 1)
	f.mu.Lock()
	if f.waiters == nil {
		f.waiters = map[string]waiter{}
	}
	f.waiters[id] = waiter{ch, domain}
	f.mu.Unlock()
	return ch
}

func (f *Federation) unawait(id string) {
	f.mu.Lock()
	delete(f.waiters, id)
	f.mu.Unlock()
}

// answered hands an IQ result or error for the server's own domain to
// its waiter; false if nobody waits for it.
func (f *Federation) answered(st *stanza.Stanza) bool {
	if st.Kind != stanza.KindIQ || (st.Type != "result" && st.Type != "error") || st.To != (jid.JID{Domain: f.cfg.Domain}) {
		return false
	}
	f.mu.Lock()
	w, ok := f.waiters[st.ID]
	if ok && st.From == (jid.JID{Domain: w.from}) {
		delete(f.waiters, st.ID)
	} else {
		ok = false
	}
	f.mu.Unlock()
	if !ok {
		return false
	}
	w.ch <- st
	return true
}

// bounce answers st with e, or hands the error to the server's own
// waiter when st was one of its IQs.
func (f *Federation) bounce(ctx context.Context, st *stanza.Stanza, e *stanza.Error) {
	if st.Kind == stanza.KindIQ && st.From == (jid.JID{Domain: f.cfg.Domain}) {
		reply := st.ErrorReply(e)
		if f.answered(&stanza.Stanza{El: reply, Kind: stanza.KindIQ, Type: "error", ID: st.ID, From: st.To, To: st.From}) {
			return
		}
	}
	f.cfg.Inbound.Bounce(ctx, st, e)
}

func errorText(e *stanza.Error) string {
	if e.Text != "" {
		return e.Text
	}
	return strings.ReplaceAll(e.Condition, "-", " ")
}
