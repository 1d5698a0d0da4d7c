// Package linklocal carries serverless link-local chat (XEP-0174): XML
// streams straight between two machines on the LAN, with no SASL and no
// resource binding, addressed by the names people announce over mDNS
// (`user@host`). It knows nothing about mDNS: what it needs of the
// announcements comes through Directory. It knows nothing about the router
// either: stanzas that arrive go to a Handler, stanzas to send come through
// Send, both with announcement names.
package linklocal

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Directory is what the stream layer needs of the mDNS side.
type Directory interface {
	// Peer returns the addresses and the port (TXT port.p2pj, or the SRV
	// port) announced for the link-local peer name (an instance name such
	// as "bob@laptop"); ok is false when no such peer is announced now.
	// IPv6 link-local addresses carry their zone (the interface they were
	// seen on).
	Peer(name string) (addrs []netip.Addr, port uint16, ok bool)
	// Local reports whether name is one of our own announced instances.
	Local(name string) bool
}

// Handler takes a stanza that arrived from the link-local peer to our
// instance local. The stanza's from and to are removed (they were checked
// against the stream's names): the integrator gives it addresses of its
// own. It runs on the stream's reader: a slow handler slows that peer
// only.
type Handler func(peer, local string, st *stanza.Stanza)

// Defaults for Config.
const (
	DefaultHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultDialTimeout   = 5 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxPerPeer    = 4
	DefaultMaxStreams    = 256
	DefaultMaxPending    = 4
	DefaultAnnounceWait  = 3 * time.Second
)

// Config configures a Service; the zero values of the durations and
// counts take the defaults.
type Config struct {
	Directory Directory
	Handler   Handler
	Log       *slog.Logger
	// TLS, when set, is offered to peers that open with version 1.0 and
	// used where a peer we dial offers it (see tls.go: the peer's
	// certificate is not checked). It needs a certificate.
	TLS *tls.Config
	// Limits apply to stanzas once a stream is accepted; the header is
	// read under stream.PreAuth.
	Limits stream.Limits
	// HeaderTimeout is how long a peer has to send its stream header.
	HeaderTimeout time.Duration
	// AnnounceWait is how long an inbound stream from a name or address
	// not announced (yet) waits for the announcement before it is refused.
	AnnounceWait time.Duration
	// IdleTimeout closes a stream with no stanza either way for this long.
	IdleTimeout time.Duration
	// DialTimeout bounds each connection attempt to a peer's address.
	DialTimeout time.Duration
	// WriteTimeout bounds one write to a peer.
	WriteTimeout time.Duration
	// MaxPerPeer bounds the streams with one peer, both ways.
	MaxPerPeer int
	// MaxStreams bounds all streams, those still waiting for their header
	// included.
	MaxStreams int
	// MaxPending bounds the connections from one address that have not
	// sent their header yet.
	MaxPending int
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.HeaderTimeout, DefaultHeaderTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.AnnounceWait, DefaultAnnounceWait)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	defInt(&c.MaxPerPeer, DefaultMaxPerPeer)
	defInt(&c.MaxStreams, DefaultMaxStreams)
	defInt(&c.MaxPending, DefaultMaxPending)
	c.Limits = c.Limits.WithDefaults()
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Handler == nil {
		c.Handler = func(string, string, *stanza.Stanza) {}
	}
	return c
}

// Errors from Send.
var (
	ErrUnknownPeer  = errors.New("no link-local peer by that name is announced on the network")
	ErrNotLocal     = errors.New("the sender is not one of the names this server announces on the network")
	ErrUnreachable  = errors.New("the link-local peer could not be reached at any address it announces")
	ErrClosed       = errors.New("link-local chat is stopped")
	ErrTooManyLinks = errors.New("too many link-local streams are open; try again in a moment")
)

// pair names a stream's two ends: one of our instances and a peer.
type pair struct{ local, peer string }

// Service accepts and opens XEP-0174 streams.
type Service struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // done at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	ln      net.Listener
	all     map[*conn]struct{} // every stream, negotiating or open
	open    map[pair]*conn     // a stream per pair that stanzas to the peer go on
	dialing map[pair]*dialing  // outbound streams being opened
	perPeer map[string]int     // streams with each peer, both ways
	pending map[netip.Addr]int // inbound connections without a header, per address
	closed  bool
}

// dialing is an outbound stream being opened; Sends for the same pair
// wait for it.
type dialing struct {
	done chan struct{}
	c    *conn
	err  error
}

// New returns a Service; Start accepts streams, Send opens them.
func New(cfg Config) *Service {
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, log: cfg.Log,
		all: map[*conn]struct{}{}, open: map[pair]*conn{}, dialing: map[pair]*dialing{},
		perPeer: map[string]int{}, pending: map[netip.Addr]int{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.janitor()
	return s
}

// Start accepts streams on ln (the port announced as port.p2pj) until
// Close.
func (s *Service) Start(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.ln != nil {
		s.mu.Unlock()
		return errors.New("link-local chat is already listening")
	}
	s.ln = ln
	s.wg.Add(1)
	s.mu.Unlock()
	go s.accept(ln)
	return nil
}

func (s *Service) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				s.log.Error("link-local chat stopped accepting connections", "err", err)
			}
			return
		}
		src := sourceOf(nc)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveIn(nc, src)
		}()
	}
}

// sourceOf is the peer's address of a TCP connection (IPv4 unmapped, the
// zone kept).
func sourceOf(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Close ends every stream (each gets its closing tag) and stops accepting;
// it returns once every goroutine of the Service has.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.all))
	for c := range s.all {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.end(nil, "the server is stopping")
	}
	s.wg.Wait()
}

// CloseStreams ends the streams whose peer or local instance is name:
// for a peer that said goodbye on mDNS, or one of ours that is withdrawn.
func (s *Service) CloseStreams(name string) {
	s.mu.Lock()
	var conns []*conn
	for c := range s.all {
		if c.peer == name || c.local == name {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.end(nil, "the name is no longer announced")
	}
}

// StreamInfo describes one open stream, for the admin's view.
type StreamInfo struct {
	Local, Peer string
	Inbound     bool // the peer opened it
	TLS         bool
	Addr        string
	Since       time.Time
	In, Out     uint64 // stanzas received and sent
}

// Streams lists the streams past their headers.
func (s *Service) Streams() []StreamInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StreamInfo
	for c := range s.all {
		if !c.ready {
			continue
		}
		out = append(out, StreamInfo{Local: c.local, Peer: c.peer, Inbound: c.inbound, TLS: c.secure.Load(),
			Addr: c.raddr, Since: c.since, In: c.in.Load(), Out: c.out.Load()})
	}
	return out
}

// Send sends st from our instance from to the peer to, on a stream
// between them (either way) or a new one. The stanza's from and to are
// set to the two names. It returns once the stanza was handed to the
// peer's connection, or why it could not be.
func (s *Service) Send(ctx context.Context, from, to string, st *stanza.Stanza) error {
	if !s.cfg.Directory.Local(from) {
		return ErrNotLocal
	}
	el := st.El.ShallowClone()
	el.SetAttr("from", from)
	el.SetAttr("to", to)
	p := pair{local: from, peer: to}
	for attempt := 0; ; attempt++ {
		c, fresh, err := s.stream(ctx, p)
		if err != nil {
			return err
		}
		err = c.send(el)
		if err == nil {
			return nil
		}
		// A stream we had kept may have died unnoticed: one new one.
		if fresh || attempt > 0 {
			return fmt.Errorf("the message could not be sent to %s: %w", to, err)
		}
	}
}

// stream returns the open stream for p, or opens one; fresh says it was
// opened for this call.
func (s *Service) stream(ctx context.Context, p pair) (c *conn, fresh bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, ErrClosed
	}
	if c := s.open[p]; c != nil {
		s.mu.Unlock()
		return c, false, nil
	}
	if d := s.dialing[p]; d != nil {
		s.mu.Unlock()
		select {
		case <-d.done:
			return d.c, true, d.err
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	d := &dialing{done: make(chan struct{})}
	s.dialing[p] = d
	s.mu.Unlock()

	d.c, d.err = s.dial(ctx, p)
	s.mu.Lock()
	delete(s.dialing, p)
	s.mu.Unlock()
	close(d.done)
	return d.c, true, d.err
}

// janitor closes streams idle for IdleTimeout.
func (s *Service) janitor() {
	defer s.wg.Done()
	tick := max(s.cfg.IdleTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			var idle []*conn
			s.mu.Lock()
			for c := range s.all {
				if c.ready && now.Sub(time.Unix(0, c.active.Load())) >= s.cfg.IdleTimeout {
					idle = append(idle, c)
				}
			}
			s.mu.Unlock()
			for _, c := range idle {
				c.end(nil, "nothing was sent either way for a while")
			}
		}
	}
}

// announced reports whether src is among addrs: the zones must match
// where both have one.
func announced(addrs []netip.Addr, src netip.Addr) bool {
	src = src.Unmap()
	for _, a := range addrs {
		a = a.Unmap()
		if a.WithZone("") != src.WithZone("") {
			continue
		}
		if a.Zone() == "" || src.Zone() == "" || a.Zone() == src.Zone() {
			return true
		}
	}
	return false
}
