// Package component serves external components (XEP-0114): programs such
// as bots and gateways that connect to the server over a plain TCP stream
// in jabber:component:accept, prove a shared secret with a handshake, and
// then get every stanza for their domain (bot.<domain>, or another name
// the administrator configured) and may send stanzas from it. Each is a
// local host on the router's Mux while it is connected; the server's
// disco items and federation list it then.
package component

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"hearth/server/internal/accept"
	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:5347"
	DefaultAuthTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	// QueueLimit is how many stanzas wait for a component at most; past
	// it senders get resource-constraint.
	QueueLimit = 1024
	// QueueBytes bounds what waits for a component in memory (as the
	// parsed stanzas take it, stanza.Element.Footprint).
	QueueBytes = 8 << 20
	// MaxUnauthenticated bounds the connections that have not finished
	// their handshake.
	MaxUnauthenticated = 16
)

// Config is what the service needs.
type Config struct {
	Domain string
	Router *router.Router
	Store  *Store
	// Taken says whether a name is one of the server's own services
	// (conference.<domain>...), which no component may take; nil: none.
	Taken func(domain string) bool
	// Limits are a connected component's stream limits (the stanza size
	// of the server's setting); nil: the defaults.
	Limits       func() stream.Limits
	AuthTimeout  time.Duration
	WriteTimeout time.Duration
	Log          *slog.Logger
}

// Status is a configured component as the administrator sees it.
type Status struct {
	Name      string
	Created   time.Time
	Connected bool
	Since     time.Time // when it connected
	Addr      string    // its address
	In, Out   int64     // stanzas it sent, stanzas it was given
}

// Service is the components' side of the server: the listener, the
// connected components and their handlers on the Mux.
type Service struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	handlers map[string]router.Handler // every configured component
	names    []string                  // their names, sorted (shared: never changed)
	conns    map[string]*conn          // the connected ones
	unauth   int
	closed   bool
	wg       sync.WaitGroup
}

var _ router.Components = (*Service)(nil)

// New returns the service with the components configured in cfg.Store.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	s := &Service{cfg: cfg, log: cfg.Log, handlers: map[string]router.Handler{}, conns: map[string]*conn{}}
	if err := s.Reload(); err != nil {
		s.log.Error("no external component can connect until this is put right", "err", err)
	}
	return s
}

// Reload reads the configured components again (after the administrator
// added or removed one); a connected component that was removed is
// disconnected.
func (s *Service) Reload() error {
	all, err := s.cfg.Store.List()
	if err != nil {
		return err
	}
	hs := make(map[string]router.Handler, len(all))
	names := make([]string, 0, len(all))
	for _, e := range all {
		name := e.Name
		if s.cfg.Taken != nil && s.cfg.Taken(name) {
			s.log.Warn("a component has the name of one of the server's own services and cannot connect; remove it and add it under another name", "component", name)
			continue
		}
		hs[name] = func(ctx context.Context, st *stanza.Stanza) *stanza.Error { return s.toComponent(name, st) }
		names = append(names, name)
	}
	slices.Sort(names)
	s.mu.Lock()
	s.handlers, s.names = hs, names
	var gone []*conn
	for name, c := range s.conns {
		if hs[name] == nil {
			gone = append(gone, c)
		}
	}
	s.mu.Unlock()
	for _, c := range gone {
		c.end(&stream.Error{Condition: stream.HostGone, Text: "the administrator removed this component"})
	}
	return nil
}

// Component implements router.Components.
func (s *Service) Component(domain string) router.Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handlers[domain]
}

// Configured implements router.Components.
func (s *Service) Configured() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names
}

// Connected implements router.Components.
func (s *Service) Connected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.conns))
	for name := range s.conns {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Status lists the configured components and how they stand.
func (s *Service) Status() ([]Status, error) {
	all, err := s.cfg.Store.List()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(all))
	for _, e := range all {
		st := Status{Name: e.Name, Created: e.Created}
		if c := s.conns[e.Name]; c != nil {
			st.Connected, st.Since, st.Addr = true, c.since, c.nc.RemoteAddr().String()
			st.In, st.Out = c.in.Load(), c.out.Load()
		}
		out = append(out, st)
	}
	return out, nil
}

// toComponent hands a stanza to the component name: into its queue when
// it is connected; otherwise presence is dropped and the rest refused.
func (s *Service) toComponent(name string, st *stanza.Stanza) *stanza.Error {
	s.mu.Lock()
	c := s.conns[name]
	s.mu.Unlock()
	if c == nil {
		if st.Kind == stanza.KindPresence {
			return nil
		}
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, name+" is not connected now")
	}
	return c.send(st)
}

// Serve accepts components on ln until ctx is done; then it ends their
// streams and returns once every connection is closed.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.end(&stream.Error{Condition: stream.SystemShutdown, Text: "the server is stopping"})
		}
	})
	defer stop()
	defer s.wg.Wait()
	return accept.Loop(ctx, ln, s.log, func(nc net.Conn) {
		s.mu.Lock()
		if s.closed || s.unauth >= MaxUnauthenticated {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.unauth++
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.run(ctx, nc)
		}()
	})
}

// run is one connection: the header, the handshake, then the stream.
func (s *Service) run(ctx context.Context, nc net.Conn) {
	authenticated := false
	defer func() {
		if !authenticated {
			s.mu.Lock()
			s.unauth--
			s.mu.Unlock()
		}
	}()
	c := &conn{s: s, nc: nc, q: make(chan *stanza.Stanza, QueueLimit), done: make(chan struct{})}
	_ = nc.SetDeadline(time.Now().Add(s.cfg.AuthTimeout))
	dec := stream.NewDecoder(nc, stream.PreAuth)
	h, err := dec.Header()
	hdr := stream.Header{NS: stanza.NSComponent, ID: stanza.RandomID(16)}
	if err != nil {
		c.fail(&hdr, asStreamError(err, "the stream's header could not be read"))
		return
	}
	if h.NS != stanza.NSComponent {
		c.fail(&hdr, &stream.Error{Condition: stream.InvalidNamespace, Text: "this port takes external components (XEP-0114, jabber:component:accept)"})
		return
	}
	to, err := jid.Parse(h.To)
	name := to.Domain
	if err != nil || !to.IsDomain() || s.Component(name) == nil {
		c.fail(&hdr, &stream.Error{Condition: stream.HostUnknown, Text: "no component of that name is configured here; add it with hearth components add"})
		return
	}
	hdr.From = name
	c.name = name
	if err := c.write(func(b *bytes.Buffer) { stream.AppendHeader(b, hdr) }); err != nil {
		nc.Close()
		return
	}
	el, err := dec.Next()
	if err != nil {
		c.fail(nil, asStreamError(err, "the handshake could not be read"))
		return
	}
	digest, err := ParseHandshake(el)
	entry, lerr := s.cfg.Store.Lookup(name)
	if err != nil || lerr != nil || !Verify(digest, hdr.ID, entry.Secret) {
		s.log.Info("a component was refused: its handshake did not prove the secret", "component", name, "addr", nc.RemoteAddr().String())
		c.fail(nil, &stream.Error{Condition: stream.NotAuthorized, Text: "the handshake does not match this component's secret"})
		return
	}
	// The new connection, which proved the secret, replaces one still
	// registered (a bot restarted before the server saw its old
	// connection go). It is registered before it is told: what comes
	// for it from then on waits in its queue, behind <handshake/>.
	c.since = time.Now()
	s.mu.Lock()
	if s.closed || s.handlers[name] == nil {
		s.mu.Unlock()
		c.fail(nil, &stream.Error{Condition: stream.SystemShutdown})
		return
	}
	old := s.conns[name]
	s.conns[name] = c
	s.unauth--
	authenticated = true
	s.mu.Unlock()
	if old != nil {
		old.end(&stream.Error{Condition: stream.Conflict, Text: "another connection of this component replaced this one"})
	}

	var why *stream.Error
	var writer sync.WaitGroup
	if err := c.write(func(b *bytes.Buffer) { b.WriteString("<handshake/>") }); err == nil {
		s.log.Info("component connected", "component", name, "addr", nc.RemoteAddr().String())
		_ = nc.SetDeadline(time.Time{})
		lim := stream.Limits{}
		if s.cfg.Limits != nil {
			lim = s.cfg.Limits()
		}
		dec.SetLimits(lim)
		writer.Go(c.writer)
		why = c.read(context.WithoutCancel(ctx), dec)
	}

	s.mu.Lock()
	if s.conns[name] == c {
		delete(s.conns, name)
	}
	s.mu.Unlock()
	c.end(why)
	writer.Wait()
	c.bounceQueued(context.WithoutCancel(ctx))
	s.log.Info("component disconnected", "component", name, "why", reason(why))
}

func reason(e *stream.Error) string {
	if e == nil {
		return "it closed its stream"
	}
	return e.Error()
}

// asStreamError turns a read error into the stream error to send, or
// nil when the connection is gone.
func asStreamError(err error, text string) *stream.Error {
	var se *stream.Error
	if errors.As(err, &se) {
		return se
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &stream.Error{Condition: stream.ConnectionTimeout, Text: "the header and the handshake must come within seconds"}
	}
	return nil
}
