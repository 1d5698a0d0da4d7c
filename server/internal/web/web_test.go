package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"hearth/certs"
)

func TestPublicURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://files.example.org", "https://files.example.org"},
		{"https://example.org:8443/xmpp/", "https://example.org:8443/xmpp"},
		{"http://proxy.lan", "http://proxy.lan"},
		{"ftp://example.org", ""},
		{"files.example.org", ""},
		{"https://", ""},
		{"https://example.org/?a=b", ""},
		{"https://example.org/#x", ""},
		{"https://exa mple.org", ""},
	} {
		u, err := ParsePublicURL(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q taken as %s", tc.in, u)
		case tc.want != "" && (err != nil || u.String() != tc.want):
			t.Errorf("%q: %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
}

func FuzzPublicURL(f *testing.F) {
	for _, s := range []string{"https://files.example.org", "https://example.org:8443/xmpp/", "http://[::1]:5443", "javascript:alert(1)", "https://a/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParsePublicURL(s)
		if err != nil {
			return
		}
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.HasSuffix(u.String(), "/") {
			t.Fatalf("%q taken as %s", s, u)
		}
		again, err := ParsePublicURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%s does not parse as itself: %v", u, err)
		}
	})
}

// TestServe: the listener serves the routes modules added, over TLS with
// the server's certificate, gives its base URL from its port or the
// public URL, holds at most MaxConns connections, and stops with its
// context; a route added once it serves panics.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm, err := certs.Start(ctx, certs.Config{DataDir: dir, Domain: "hearth.test", Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	defer cm.Close()
	s := New(Config{Domain: "hearth.test", TLS: cm.TLSConfig, MaxConns: 2})
	s.Mux().Handle("GET /hello", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	for s.BaseURL() == "" {
		time.Sleep(time.Millisecond)
	}
	if got := s.BaseURL(); got != "https://hearth.test:"+port {
		t.Fatalf("base %s", got)
	}
	if err := s.SetPublicURL("https://files.example.org/"); err != nil || s.BaseURL() != "https://files.example.org" {
		t.Fatalf("public: %s %v", s.BaseURL(), err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a route added while serving did not panic")
			}
		}()
		s.Mux().Handle("GET /late", http.NotFoundHandler())
	}()

	pem, _ := os.ReadFile(cm.CAFile())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tc := &tls.Config{RootCAs: roots, ServerName: "hearth.test"}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, n, addr)
	}}}
	resp, err := hc.Get("https://hearth.test/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("body %q", b)
	}
	hc.CloseIdleConnections()

	// Two connections held open: a third waits until one closes.
	var held []net.Conn
	for range 2 {
		c, err := tls.Dial("tcp", addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	tc3 := tls.Client(third, tc)
	third.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if err := tc3.Handshake(); err == nil {
		t.Fatal("a third connection was served past the limit")
	}
	third.Close()
	held[0].Close()
	c, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	c.Close()
	held[1].Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}
