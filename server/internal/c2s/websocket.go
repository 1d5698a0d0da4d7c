package c2s

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// RFC 7395: XMPP over WebSocket. A client stream on the HTTPS listener at
// WebSocketPath runs the same session logic as TCP: only the framing
// differs. Each WebSocket message is one whole element; the stream
// opens with <open/> and ends with <close/> (RFC 7395 3.3), both in
// NSFraming; there is no STARTTLS (the listener's TLS is below).

// NSFraming is RFC 7395's namespace for <open/> and <close/>.
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// WebSocketPath is where the HTTPS listener serves XMPP over WebSocket.
const WebSocketPath = "/xmpp-websocket"

// serveWebSocket runs one client stream over WebSocket, inside the HTTP
// handler (the listener waits for its handlers at shutdown).
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !offersXMPP(r.Header) {
		// RFC 7395 3.2: the subprotocol is "xmpp"; a handshake without it
		// is no XMPP stream, so it is refused rather than half-opened.
		http.Error(w, `This address serves XMPP over WebSocket (RFC 7395): the client must ask for the subprotocol "xmpp".`, http.StatusBadRequest)
		return
	}
	cw := &corkWriter{ResponseWriter: w}
	c, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		Subprotocols: []string{"xmpp"},
		// Any origin may connect: a web client is served from wherever
		// its user keeps it (Converse on another host, a file, an app),
		// and nothing is granted by the browser's cookies or address:
		// every stream must log in with SASL as a TCP client does, so a
		// page on another site that opens a stream gains nothing it
		// could not get by connecting directly.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept answered the request already.
		s.cfg.Log.Debug("WebSocket handshake failed", "addr", r.RemoteAddr, "err", err)
		return
	}
	f := newWS(c, cw.nc, r, s.cfg.Domain, stream.PreAuth)
	defer f.finish()
	t, why := s.admission.admit(f.RemoteAddr(), func() { f.Close() })
	if t == nil {
		s.cfg.Log.Info("connection refused", "addr", f.RemoteAddr(), "why", why, "transport", "WebSocket")
		_ = f.SetWriteDeadline(time.Now().Add(time.Second))
		_ = f.End(&stream.Error{Condition: stream.PolicyViolation, Text: why})
		f.Close()
		return
	}
	defer t.release()
	// Unauthenticated streams get AuthTimeout in all (RFC 6120 13.14).
	s.run(r.Context(), f, time.Now().Add(s.cfg.AuthTimeout), t)
}

// offersXMPP says whether the handshake asks for the subprotocol xmpp.
func offersXMPP(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(p) == "xmpp" {
				return true
			}
		}
	}
	return false
}

// ws is the framing of RFC 7395 on a WebSocket connection.
//
// A goroutine of its own reads the messages (coder/websocket ends the
// connection when a read's context ends, so a read cannot be given up
// and taken up again): Next waits for what it hands over, for a
// deadline, the idle check or StopReading, and the transport stays open
// for the writer (a stopping server still writes its queue and the
// stream's end).
type ws struct {
	c      *websocket.Conn
	nc     *corkConn // under c: a burst is one write
	state  *tls.ConnectionState
	addr   string
	domain string
	limit  atomic.Int64 // the largest message, in bytes (MaxStanza)

	// The reader's (Next's) own.
	md     *msgDecoder
	rerr   error // the error that ended the reading goroutine
	timer  *time.Timer
	idle   time.Duration
	onIdle func(pinged bool) bool
	tap    *tap

	// The writer's own.
	opened bool
	wbuf   bytes.Buffer
	ends   []int // scratch: message ends in wbuf, then in the burst

	msgs       chan wsMsg    // from the reading goroutine
	readerDone chan struct{} // closed when it returned
	stop       chan struct{} // closed by StopReading
	stopOnce   sync.Once
	stopCtx    context.Context // ends with StopReading (a ping under way)
	stopCancel context.CancelFunc
	closed     chan struct{} // closed by Close
	closeOnce  sync.Once

	mu      sync.Mutex
	rdl     time.Time          // read deadline
	wdl     time.Time          // write deadline
	wcancel context.CancelFunc // ends the write under way, if any
	ended   bool               // <close/> was written: Close does the closing handshake
}

type wsMsg struct {
	b   []byte
	err error
}

func newWS(c *websocket.Conn, nc *corkConn, r *http.Request, domain string, lim stream.Limits) *ws {
	f := &ws{c: c, nc: nc, state: r.TLS, addr: r.RemoteAddr, domain: domain,
		msgs: make(chan wsMsg, 1), readerDone: make(chan struct{}), stop: make(chan struct{}), closed: make(chan struct{})}
	f.stopCtx, f.stopCancel = context.WithCancel(context.Background())
	// The framing bounds messages itself, so that one too big gets a
	// stream error rather than a bare close.
	c.SetReadLimit(-1)
	f.setLimit(lim)
	f.md = newMsgDecoder(lim)
	go f.read()
	return f
}

func (f *ws) setLimit(l stream.Limits) { f.limit.Store(int64(l.WithDefaults().MaxStanza)) }

// read hands the messages over to Next until the connection ends or a
// message breaks the rules.
func (f *ws) read() {
	defer close(f.readerDone)
	for {
		typ, r, err := f.c.Reader(context.Background())
		if err != nil {
			f.hand(wsMsg{err: err})
			return
		}
		lim := f.limit.Load()
		b, err := io.ReadAll(io.LimitReader(r, lim+1))
		switch {
		case err != nil:
		case int64(len(b)) > lim:
			err = &stream.Error{Condition: stream.PolicyViolation, Text: "stanza too big: this server takes at most " + strconv.FormatInt(lim, 10) + " bytes in one"}
		case typ != websocket.MessageText:
			err = &stream.Error{Condition: stream.BadFormat, Text: "XMPP over WebSocket is sent in text messages (RFC 7395 3.2)"}
		}
		if err != nil {
			f.hand(wsMsg{err: err})
			return
		}
		if !f.hand(wsMsg{b: b}) {
			return
		}
	}
}

// hand passes m to Next; false once the framing is closed.
func (f *ws) hand(m wsMsg) bool {
	select {
	case f.msgs <- m:
		return true
	case <-f.closed:
		return false
	}
}

// message waits for the next message that is not only whitespace, the
// read deadline, the idle check's end, or StopReading.
func (f *ws) message() ([]byte, error) {
	pinged := false
	for {
		if f.rerr != nil {
			return nil, f.rerr
		}
		f.mu.Lock()
		dl := f.rdl
		f.mu.Unlock()
		wait, idleWait := time.Duration(-1), false
		if !dl.IsZero() {
			wait = time.Until(dl)
			if wait <= 0 {
				return nil, os.ErrDeadlineExceeded
			}
		}
		if f.idle > 0 && (wait < 0 || f.idle < wait) {
			wait, idleWait = f.idle, true
		}
		var tc <-chan time.Time
		if wait >= 0 {
			if f.timer == nil {
				f.timer = time.NewTimer(wait)
			} else {
				f.timer.Reset(wait)
			}
			tc = f.timer.C
		}
		select {
		case m := <-f.msgs:
			if f.timer != nil {
				f.timer.Stop()
			}
			if m.err != nil {
				f.rerr = wsReadError(m.err)
				return nil, f.rerr
			}
			pinged = false
			if stream.IsSpace(m.b) {
				continue // any message is life; whitespace carries nothing
			}
			return m.b, nil
		case <-f.stop:
			if f.timer != nil {
				f.timer.Stop()
			}
			return nil, errStopped
		case <-tc:
			if !idleWait {
				return nil, os.ErrDeadlineExceeded
			}
			if !pinged {
				// RFC 7395 3.4: WebSocket's own ping; every browser
				// answers it without the client's code.
				if f.ping() {
					continue
				}
				pinged = true
			}
			if len(f.msgs) > 0 {
				continue // something came while the ping waited
			}
			if f.onIdle == nil || !f.onIdle(true) {
				return nil, os.ErrDeadlineExceeded
			}
		}
	}
}

// ping sends a WebSocket ping and waits up to the idle time for its pong.
func (f *ws) ping() bool {
	ctx, cancel := context.WithTimeout(f.stopCtx, f.idle)
	defer cancel()
	return f.c.Ping(ctx) == nil
}

// wsReadError says how reading ended: the peer's close without <close/>
// is a lost connection (a session with stream management is held for
// its client to resume).
func wsReadError(err error) error {
	var se *stream.Error
	switch {
	case errors.As(err, &se):
		return se
	case websocket.CloseStatus(err) != -1, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return io.EOF
	}
	return err
}

// decode reads the one element a message holds, and shows it to the
// XML console's tap.
func (f *ws) decode(msg []byte) (*stanza.Element, error) {
	el, err := f.md.decode(msg)
	if f.tap != nil {
		if err != nil {
			f.tap.failed()
		} else {
			f.tap.clean = true
			f.tap.read(msg)
		}
	}
	return el, err
}

func (f *ws) ReadOpen() (stream.Header, error) {
	msg, err := f.message()
	if err != nil {
		return stream.Header{}, err
	}
	el, err := f.decode(msg)
	if err != nil {
		return stream.Header{}, err
	}
	if el.Name != "open" || el.NS != NSFraming {
		return stream.Header{}, &stream.Error{Condition: stream.InvalidNamespace, Text: "open the stream with <open xmlns='" + NSFraming + "'/> (RFC 7395 3.3.1)"}
	}
	// RFC 7395 3.3.1: the content namespace is jabber:client.
	return stream.Header{NS: stanza.NSClient, To: el.Attr("to"), Version: el.Attr("version"), Lang: el.Lang()}, nil
}

func (f *ws) WriteOpen(h stream.Header, features []*stanza.Element) error {
	open := stanza.New("open", NSFraming, "from", h.From, "id", h.ID, "version", h.Version)
	if h.Lang != "" {
		open.Attrs = append(open.Attrs, stanza.Attr{Space: stanza.NSXML, Name: "lang", Value: h.Lang})
	}
	fs := stanza.New("features", stanza.NSStream).Append(features...)
	f.opened = true
	_, err := f.Write([]*stanza.Element{open, fs})
	return err
}

func (f *ws) Opened() bool { return f.opened }

func (f *ws) Next() (*stanza.Element, error) {
	msg, err := f.message()
	if err != nil {
		return nil, err
	}
	el, err := f.decode(msg)
	if err != nil {
		return nil, err
	}
	if el.Name == "close" && el.NS == NSFraming {
		return nil, stream.ErrClosed
	}
	if el.Name == "open" && el.NS == NSFraming {
		return nil, &stream.Error{Condition: stream.PolicyViolation, Text: "the stream is open already; a new <open/> comes only after authentication"}
	}
	return el, nil
}

// Pending: a message is one element; nothing can follow one unread.
func (f *ws) Pending() bool { return false }

// Write sends each element as a message of its own, the burst in one
// write to the connection.
func (f *ws) Write(els []*stanza.Element) (int, error) {
	ctx, done, err := f.writeContext()
	if err != nil {
		return 0, err
	}
	defer done()
	b := &f.wbuf
	b.Reset()
	ends := f.ends[:0] // where each message ends in b, and in the burst
	for _, el := range els {
		encodeRoot(b, el)
		ends = append(ends, b.Len())
	}
	f.nc.cork()
	sent := ends[len(ends):] // where each message's frame ends in the burst
	start, werr := 0, error(nil)
	for _, end := range ends {
		if werr = f.c.Write(ctx, websocket.MessageText, b.Bytes()[start:end]); werr != nil {
			break
		}
		sent = append(sent, f.nc.held())
		start = end
	}
	n, err := f.nc.uncork()
	whole := len(sent)
	if err != nil {
		whole = sort.SearchInts(sent, n+1)
	} else if werr != nil {
		err = werr
	}
	if f.tap != nil && whole > 0 {
		f.tap.wrote(b.Bytes()[:ends[whole-1]])
	}
	if b.Cap() > 64<<10 {
		f.wbuf = bytes.Buffer{}
	}
	if cap(ends) <= 1024 {
		f.ends = ends
	}
	return whole, err
}

// writeContext is the context of one burst of writes: it ends at the
// write deadline, or when the deadline is moved to now (a client cut
// off). coder/websocket drops the connection when it ends mid-write.
func (f *ws) writeContext() (context.Context, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.wdl.IsZero() && !time.Now().Before(f.wdl) {
		return nil, nil, os.ErrDeadlineExceeded
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if f.wdl.IsZero() {
		ctx, cancel = context.WithCancel(context.Background())
	} else {
		ctx, cancel = context.WithDeadline(context.Background(), f.wdl)
	}
	f.wcancel = cancel
	return ctx, func() {
		f.mu.Lock()
		f.wcancel = nil
		f.mu.Unlock()
		cancel()
	}, nil
}

func (f *ws) End(e *stream.Error) error {
	var els []*stanza.Element
	if !f.opened {
		// As on TCP (RFC 6120 4.9.1.1): an error before our opening
		// still comes after one.
		els = append(els, stanza.New("open", NSFraming, "from", f.domain, "id", newID(), "version", "1.0"))
	}
	if e != nil {
		els = append(els, e.Element())
	}
	els = append(els, stanza.New("close", NSFraming))
	_, err := f.Write(els)
	f.mu.Lock()
	f.ended = err == nil
	f.mu.Unlock()
	return err
}

// Restart: the client sends a new <open/> (RFC 7395 3.5); the decoder
// goes on, each message standing alone.
func (f *ws) Restart() { f.opened = false }

func (f *ws) SetLimits(l stream.Limits) {
	f.setLimit(l)
	f.md.dec.SetLimits(l)
}

func (f *ws) StartTLS(*tls.Config) error {
	return errors.New("a WebSocket stream is encrypted by the HTTPS listener")
}

func (f *ws) TLS() *tls.ConnectionState { return f.state }

func (f *ws) SetDeadline(t time.Time) error {
	f.mu.Lock()
	f.rdl = t
	f.mu.Unlock()
	return f.SetWriteDeadline(t)
}

func (f *ws) SetWriteDeadline(t time.Time) error {
	// The burst's one write is the connection's (see corkConn).
	_ = f.nc.SetWriteDeadline(t)
	f.mu.Lock()
	f.wdl = t
	cancel := f.wcancel
	f.mu.Unlock()
	if cancel != nil && !t.IsZero() && !time.Now().Before(t) {
		cancel()
	}
	return nil
}

func (f *ws) WatchIdle(idle time.Duration, onIdle func(pinged bool) bool) {
	f.idle, f.onIdle = idle, onIdle
}

func (f *ws) StopReading() {
	f.stopOnce.Do(func() {
		close(f.stop)
		f.stopCancel()
	})
}

func (f *ws) Tap(t *tap) {
	t.clean = true
	f.tap = t
}

// Drain has nothing to do: Close's closing handshake (RFC 6455 7.1.2)
// waits for the client's close frame, which comes after everything it
// read, so nothing written is lost to a reset.
func (f *ws) Drain(time.Time) {}

// wsCloseWait bounds WebSocket's closing handshake.
const wsCloseWait = 2 * time.Second

// Close ends the connection: with WebSocket's closing handshake once the
// stream's end was written, at once otherwise.
func (f *ws) Close() error {
	f.closeOnce.Do(func() {
		close(f.closed)
		f.mu.Lock()
		ended := f.ended
		f.mu.Unlock()
		if ended {
			// A client that reads no more gets wsCloseWait, not
			// coder/websocket's 5 s for each half of the handshake.
			t := time.AfterFunc(wsCloseWait, func() { _ = f.nc.Conn.Close() })
			_ = f.c.Close(websocket.StatusNormalClosure, "")
			t.Stop()
		} else {
			_ = f.c.CloseNow()
		}
	})
	return nil
}

// finish closes the connection and waits for the reading goroutine.
func (f *ws) finish() {
	f.Close()
	f.StopReading()
	<-f.readerDone
}

func (f *ws) RemoteAddr() string { return f.addr }
