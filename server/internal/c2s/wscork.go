package c2s

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
)

// coder/websocket flushes each message to the connection as it is
// written: a burst of stanzas would be a TLS record and a system call
// each. The framing corks the connection for a burst instead, so that a
// burst goes out in one write, as on TCP; frames written meanwhile by
// other goroutines (pongs, a close) join the burst in their order.

// corkWriter is the handshake's ResponseWriter: the hijacked connection
// coder/websocket writes to is a corkConn.
type corkWriter struct {
	http.ResponseWriter
	nc *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be taken over for WebSocket")
	}
	conn, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.nc = &corkConn{Conn: conn}
	return w.nc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.nc, 4096)), nil
}

// corkConn holds what is written while corked, and writes it at once
// when uncorked.
type corkConn struct {
	net.Conn
	mu     sync.Mutex // held over writes: a frame never overtakes the burst
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// held returns how much is held.
func (c *corkConn) held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// uncork writes what was held and returns how much of it went out.
func (c *corkConn) uncork() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	n, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 64<<10 {
		c.buf = nil // a large burst's buffer is not kept for an idle session
	} else {
		c.buf = c.buf[:0]
	}
	return n, err
}
