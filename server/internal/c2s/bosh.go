package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"hearth/server/internal/stream"
	"hearth/server/internal/web"
)

// XEP-0124 (BOSH) with XEP-0206 (XMPP over BOSH): a client stream whose
// elements ride in the bodies of HTTP requests on the HTTPS listener at
// BOSHPath. The stream runs the same session logic as TCP and WebSocket
// (negotiation, SASL, bind, the session's queue, stream management): a
// BOSH session is one more framing (boshStream), held by a goroutine of
// the listener while its requests come and go.

// BOSHPath is where the HTTPS listener serves BOSH.
const BOSHPath = "/http-bind"

// What a BOSH session may ask for, and what the server gives it.
const (
	// boshMaxWait is the longest a request is held for something to
	// answer it with (XEP-0124 'wait'); a client may ask for less.
	boshMaxWait = 60 * time.Second
	// boshMaxHold is how many requests the server holds at most
	// (XEP-0124 'hold'); 'requests' is one more.
	boshMaxHold = 2
	// boshInactivity is how long a session may have no request held
	// before it is over (XEP-0124 'inactivity'): a session with stream
	// management is then held for resumption, as a lost TCP connection
	// is.
	boshInactivity = 60 * time.Second
	// boshPolling is the shortest time between two empty requests that
	// are both answered empty at once (XEP-0124 'polling', 12).
	boshPolling = 2 * time.Second
	// boshBodyTimeout bounds the reading of one request's body.
	boshBodyTimeout = 30 * time.Second
	// boshVersion is the version of XEP-0124 served.
	boshVersion = "1.11"
)

// Terminal conditions of XEP-0124 17.
const (
	boshBadRequest       = "bad-request"
	boshHostUnknown      = "host-unknown"
	boshItemNotFound     = "item-not-found"
	boshPolicyViolation  = "policy-violation"
	boshRemoteStreamErr  = "remote-stream-error"
	boshSystemShutdown   = "system-shutdown"
	boshUndefinedCondErr = "undefined-condition"
)

// boshTable is the server's BOSH sessions, by sid.
type boshTable struct {
	mu   sync.Mutex
	byID map[string]*boshStream
	mux  *web.Mux // runs the sessions as work of the listener
}

func (t *boshTable) get(sid string) *boshStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byID[sid]
}

func (t *boshTable) add(f *boshStream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID == nil {
		t.byID = make(map[string]*boshStream)
	}
	t.byID[f.sid] = f
}

func (t *boshTable) remove(f *boshStream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byID[f.sid] == f {
		delete(t.byID, f.sid)
	}
}

// newSID returns a session id: 144 random bits, for it is what a request
// shows to belong to the session.
func newSID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Routes adds XMPP over WebSocket and over BOSH to the HTTPS listener and
// lists both in host-meta (XEP-0156).
func (s *Server) Routes(m *web.Mux) {
	m.Handle("GET "+WebSocketPath, http.HandlerFunc(s.serveWebSocket))
	m.Link(web.RelWebSocket, WebSocketPath)
	s.bosh.mux = m
	m.Handle("POST "+BOSHPath, http.HandlerFunc(s.serveBOSH))
	m.Handle("OPTIONS "+BOSHPath, http.HandlerFunc(boshPreflight))
	m.Handle("GET "+BOSHPath, http.HandlerFunc(boshInfo))
	m.Link(web.RelBOSH, BOSHPath)
}

// boshCORS lets a web client on any origin use BOSH: as with WebSocket,
// nothing rides on the browser's cookies or address (every session logs
// in with SASL), so a page elsewhere gains nothing it could not get by
// connecting directly.
func boshCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
}

func boshPreflight(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	boshCORS(h)
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

func boshInfo(w http.ResponseWriter, _ *http.Request) {
	boshCORS(w.Header())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "This address serves XMPP over BOSH (XEP-0124, XEP-0206): an XMPP client POSTs <body/> elements to it.\n")
}

// answerBOSH writes a response body.
func answerBOSH(w http.ResponseWriter, b []byte) {
	h := w.Header()
	boshCORS(h)
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// serveBOSH answers one BOSH request: a new session, or one of a
// session's requests, held until there is something to answer it with.
func (s *Server) serveBOSH(w http.ResponseWriter, r *http.Request) {
	// The largest body any session may send; each is held to its
	// session's limits below (a small one before login).
	most := max(s.limits.Load().WithDefaults().MaxStanza, stream.PreAuth.MaxStanza) + bodySlack
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(boshBodyTimeout))
	raw, err := io.ReadAll(io.LimitReader(r.Body, int64(most)+1))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		s.cfg.Log.Debug("BOSH request not read", "addr", r.RemoteAddr, "err", err)
		return // the client is gone or too slow; nobody reads an answer
	}
	sid := bodySID(raw)
	if sid == "" {
		s.createBOSH(w, r, raw)
		return
	}
	f := s.bosh.get(sid)
	if f == nil {
		// XEP-0124 17.1: an unknown (or ended) session.
		answerBOSH(w, terminateBody(boshItemNotFound))
		return
	}
	lim := f.limits()
	if len(raw) > lim.MaxStanza+bodySlack {
		answerBOSH(w, f.kill(boshPolicyViolation, "a BOSH request was larger than "+strconv.Itoa(lim.MaxStanza+bodySlack)+" bytes"))
		return
	}
	bd, err := parseBody(raw, lim)
	if err != nil || bd.sid != sid {
		why := "a BOSH request was not a valid <body/>"
		if err != nil {
			why += ": " + err.Error()
		}
		answerBOSH(w, f.kill(boshBadRequest, why))
		return
	}
	answerBOSH(w, f.request(r.Context(), bd))
}

// createBOSH starts a session (XEP-0124 7.1, XEP-0206 4): admitted as a
// TCP connection is, with the same limits on addresses and logins; its
// stream runs in a goroutine of the listener.
func (s *Server) createBOSH(w http.ResponseWriter, r *http.Request, raw []byte) {
	if len(raw) > stream.PreAuth.MaxStanza+bodySlack {
		answerBOSH(w, terminateBody(boshPolicyViolation))
		return
	}
	bd, err := parseBody(raw, stream.PreAuth)
	if err != nil {
		s.cfg.Log.Debug("BOSH session request refused", "addr", r.RemoteAddr, "err", err)
		answerBOSH(w, terminateBody(boshBadRequest))
		return
	}
	if bd.to != s.cfg.Domain {
		answerBOSH(w, terminateBody(boshHostUnknown))
		return
	}
	if bd.sid != "" || bd.typ == "terminate" || bd.restart || len(bd.children) > 0 {
		answerBOSH(w, terminateBody(boshBadRequest))
		return
	}
	f := newBOSH(s, r, bd)
	t, why := s.admission.admit(f.RemoteAddr(), func() { f.Close() })
	if t == nil {
		s.cfg.Log.Info("connection refused", "addr", f.RemoteAddr(), "why", why, "transport", "BOSH")
		answerBOSH(w, terminateBody(boshPolicyViolation))
		return
	}
	s.bosh.add(f)
	req := f.first(bd)
	// Unauthenticated streams get AuthTimeout in all (RFC 6120 13.14).
	deadline := time.Now().Add(s.cfg.AuthTimeout)
	started := s.bosh.mux.Go(func(ctx context.Context) {
		defer t.release()
		defer s.bosh.remove(f)
		f.setStopping(ctx.Done())
		s.run(ctx, f, deadline, t)
		f.Close()
	})
	if !started {
		t.release()
		s.bosh.remove(f)
		f.Close()
		answerBOSH(w, terminateBody(boshSystemShutdown))
		return
	}
	answerBOSH(w, f.await(r.Context(), req))
}

// boshVer is the version of XEP-0124 both sides know: the client's, if
// older than ours.
func boshVer(client string) string {
	maj, min, ok := strings.Cut(client, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a < 1 {
		return boshVersion
	}
	if a == 1 && b < 11 {
		return "1." + strconv.Itoa(b)
	}
	return boshVersion
}
