package xmpptest

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// listenLoopback listens on 127.0.0.1 and, with the same port, on ::1
// where the machine has it: peers that find a server by the name
// localhost may try either address first, and some try only one.
func listenLoopback() (net.Listener, error) {
	v4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(v4.Addr().String())
	v6, err := net.Listen("tcp", net.JoinHostPort("::1", port))
	if err != nil {
		return v4, nil // no IPv6 loopback here
	}
	d := &dualListener{Listener: v4, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range []net.Listener{v4, v6} {
		d.all = append(d.all, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				select {
				case d.conns <- c:
				case <-d.done:
					c.Close()
					return
				}
			}
		}()
	}
	return d, nil
}

// dualListener accepts from several listeners on one port; Addr is the
// IPv4 one's.
type dualListener struct {
	net.Listener
	all   []net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (d *dualListener) Accept() (net.Conn, error) {
	select {
	case c := <-d.conns:
		return c, nil
	case <-d.done:
		return nil, net.ErrClosed
	}
}

func (d *dualListener) Close() error {
	d.once.Do(func() {
		close(d.done)
		for _, ln := range d.all {
			ln.Close()
		}
	})
	return nil
}

// HTTPClient is an HTTPS client that trusts the server's certificate and
// reaches its HTTPS listener whatever host a URL names (the test's domain
// is in no DNS).
func (s *Server) HTTPClient() *http.Client {
	addr := s.HTTPAddr
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.Roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
	}}
}
