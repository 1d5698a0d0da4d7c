package turn

import (
	"net"
	"sync"

	pionturn "github.com/pion/turn/v4"
)

// relays opens relay sockets in the port range, counting what goes
// through them.
type relays struct {
	*pionturn.RelayAddressGeneratorPortRange
	s *Server
}

func (g *relays) AllocatePacketConn(network string, port int) (net.PacketConn, net.Addr, error) {
	c, a, err := g.RelayAddressGeneratorPortRange.AllocatePacketConn(network, port)
	if err != nil {
		return nil, nil, err
	}
	g.s.mu.Lock()
	g.s.relays++
	g.s.mu.Unlock()
	return &relayConn{PacketConn: c, s: g.s}, a, nil
}

// relayConn is a relay socket that counts its bytes and datagrams.
type relayConn struct {
	net.PacketConn
	s    *Server
	once sync.Once
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.s.relayed.Add(int64(n))
		c.s.packets.Add(1)
	}
	return n, a, err
}

func (c *relayConn) WriteTo(p []byte, a net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, a)
	if n > 0 {
		c.s.relayed.Add(int64(n))
		c.s.packets.Add(1)
	}
	return n, err
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.relays--
		c.s.mu.Unlock()
		select {
		case c.s.closed <- true:
		default:
		}
	})
	return err
}

// conns is a listener that keeps its accepted connections, to close them
// with it: pion closes only the listener, and a client connected over TCP
// or TLS would otherwise keep its goroutine past the server's end.
type conns struct {
	net.Listener
	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
}

func trackConns(l net.Listener) *conns { return &conns{Listener: l, open: map[net.Conn]struct{}{}} }

func (l *conns) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	t := &conn{Conn: c, l: l}
	l.open[t] = struct{}{}
	return t, nil
}

func (l *conns) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	open := l.open
	l.open = map[net.Conn]struct{}{}
	l.mu.Unlock()
	for c := range open {
		c.Close()
	}
	return err
}

// conn is an accepted connection that leaves its listener's set when
// closed.
type conn struct {
	net.Conn
	l *conns
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	delete(c.l.open, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
