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
