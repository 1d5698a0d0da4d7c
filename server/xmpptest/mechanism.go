package xmpptest

import (
	"testing"
)

// LoginWith is LoginTo with the SASL mechanism given, SCRAM-SHA-256 or
// SCRAM-SHA-1, whatever else the server offers; an error says what the
// server answered. The client is closed when the test ends.
func LoginWith(t testing.TB, ep Endpoint, mechanism, local, password, resource string) (*Client, error) {
	t.Helper()
	c, _, err := startTLS(ep, "")
	if err != nil {
		return nil, err
	}
	if err := c.scram(mechanism, local, password); err != nil {
		c.conn.Close()
		return nil, err
	}
	c.dec.Reset(nil)
	if _, err := c.open(ep.Domain); err != nil {
		c.conn.Close()
		return nil, err
	}
	if err := c.Bind(resource); err != nil {
		return nil, err
	}
	c.t = t
	c.Name = local
	t.Cleanup(func() { c.conn.Close() })
	return c, nil
}
