package server

import (
	"context"
	"net"
	"sync"

	"hearth/server/admin"
	"hearth/server/internal/component"
	"hearth/server/internal/stream"
	"hearth/server/settings"
)

// newComponents builds the external components' service (XEP-0114) over
// the secrets in the data directory, and registers the components on the
// Mux; nil without a data directory.
func (s *Server) newComponents() {
	if s.cfg.DataDir == "" {
		return
	}
	s.comps = component.New(component.Config{
		Domain: s.cfg.Domain,
		Router: s.router,
		Store:  component.StoreIn(s.cfg.DataDir),
		Taken:  s.router.Mux().IsHost,
		// The limits of client streams: the time to log in, the stanza
		// size of limits.stanza_bytes.
		Limits:      func() stream.Limits { return s.c2s.Limits() },
		AuthTimeout: s.cfg.AuthTimeout,
		Log:         s.cfg.Log.With("part", "component"),
	})
	s.router.Mux().Components(s.comps)
}

// startComponents opens the components' listener at the address of the
// setting components.listen (off: none), through open (nil: none).
func (s *Server) startComponents(ctx context.Context, open func(address string) (net.Listener, error), wg *sync.WaitGroup) {
	if s.comps == nil || open == nil {
		return
	}
	v, err := s.admin.Values(ctx)
	if err != nil {
		s.cfg.Log.Warn("external components cannot connect: the settings could not be read", "err", err)
		return
	}
	addr := v.String(settings.KeyComponents)
	if addr == "" || addr == "off" {
		return
	}
	ln, err := open(addr)
	if err != nil {
		s.cfg.Log.Error("external components cannot connect: their port could not be opened; set "+settings.KeyComponents+" to a free address, or off", "addr", addr, "err", err)
		return
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, admin.Listener{Name: "component", Addr: ln.Addr().String()})
	s.mu.Unlock()
	wg.Go(func() {
		if err := s.comps.Serve(ctx, ln); err != nil {
			s.cfg.Log.Error("the external components' listener stopped", "err", err)
		}
	})
}

// ComponentAddr is where external components connect, or "".
func (s *Server) ComponentAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		if l.Name == "component" {
			return l.Addr
		}
	}
	return ""
}

// ComponentStatus implements admin.ComponentService.
func (h *hooks) ComponentStatus() ([]component.Status, error) {
	if h.s.comps == nil {
		return nil, nil
	}
	return h.s.comps.Status()
}

// ComponentNameTaken implements admin.ComponentService.
func (h *hooks) ComponentNameTaken(name string) bool { return h.s.router.Mux().IsHost(name) }

// ComponentsChanged implements admin.ComponentService.
func (h *hooks) ComponentsChanged() error {
	if h.s.comps == nil {
		return nil
	}
	return h.s.comps.Reload()
}

var _ admin.ComponentService = (*hooks)(nil)
