package linklocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// dial opens a stream from p.local to p.peer at the addresses the peer
// announces, one after another.
func (s *Service) dial(ctx context.Context, p pair) (*conn, error) {
	addrs, port, ok := s.cfg.Directory.Peer(p.peer)
	if !ok || len(addrs) == 0 || port == 0 {
		return nil, fmt.Errorf("%s: %w", p.peer, ErrUnknownPeer)
	}
	c := &conn{s: s, since: time.Now(), local: p.local, peer: p.peer, version: "1.0"}
	c.touch()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return nil, ErrClosed
	case len(s.all) >= s.cfg.MaxStreams, s.perPeer[p.peer] >= s.cfg.MaxPerPeer:
		s.mu.Unlock()
		return nil, ErrTooManyLinks
	}
	s.all[c] = struct{}{}
	s.perPeer[p.peer]++
	s.mu.Unlock()

	nc, err := s.connect(ctx, addrs, port)
	if err != nil {
		s.remove(c)
		s.log.Info("could not reach a link-local peer", "peer", p.peer, "addresses", addrList(addrs, port), "err", err)
		return nil, fmt.Errorf("%s (%s): %w", p.peer, addrList(addrs, port), ErrUnreachable)
	}
	c.wmu.Lock()
	if c.ended { // Close or CloseStreams came first
		c.wmu.Unlock()
		nc.Close()
		return nil, ErrClosed
	}
	c.nc, c.raddr = nc, nc.RemoteAddr().String()
	c.dec = stream.NewDecoder(nc, stream.PreAuth)
	c.writeHeaderLocked(p.local, p.peer, false)
	err = c.flushLocked()
	c.wmu.Unlock()
	var h stream.Header
	if err == nil {
		h, err = c.readHeader(ctx)
	}
	if err == nil && s.cfg.TLS != nil && h.Version != "" {
		err = c.startTLSOut(ctx)
	}
	if err != nil {
		c.lost(err)
		nc.Close()
		s.log.Info("a link-local peer did not open its stream", "peer", p.peer, "addr", nc.RemoteAddr().String(), "err", err)
		return nil, fmt.Errorf("%s did not answer as a link-local chat peer: %w", p.peer, err)
	}
	c.dec.SetLimits(s.cfg.Limits)
	s.mu.Lock()
	if _, ok := s.all[c]; ok {
		c.ready = true
		if s.open[p] == nil {
			s.open[p] = c
		}
	}
	s.mu.Unlock()
	s.log.Info("link-local stream opened", "peer", p.peer, "local", p.local, "addr", nc.RemoteAddr().String(), "direction", "outbound")
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer nc.Close()
		c.read()
	}()
	return c, nil
}

// connect dials each address in turn.
func (s *Service) connect(ctx context.Context, addrs []netip.Addr, port uint16) (net.Conn, error) {
	var errs []error
	for _, a := range addrs {
		d := net.Dialer{Timeout: s.cfg.DialTimeout}
		nc, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, port).String())
		if err == nil {
			return nc, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// readHeader reads the peer's answering header within HeaderTimeout (or
// until ctx is done).
func (c *conn) readHeader(ctx context.Context) (stream.Header, error) {
	nc := c.nc
	nc.SetReadDeadline(time.Now().Add(c.s.cfg.HeaderTimeout))
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Now()) })
	h, err := c.dec.Header()
	stop()
	if err != nil {
		return h, ctxErr(ctx, err)
	}
	if h.NS != stanza.NSClient {
		return h, errors.New("its stream is not in the jabber:client namespace")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ended {
		return h, errEnded
	}
	nc.SetReadDeadline(time.Time{})
	return h, nil
}

func addrList(addrs []netip.Addr, port uint16) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = netip.AddrPortFrom(a, port).String()
	}
	return strings.Join(s, ", ")
}
