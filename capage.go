package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"hearth/certs"
	"hearth/internal/lanaddr"
)

// caPage is the plain-HTTP page where family devices fetch the home CA
// (local mode): nothing else is served there.
type caPage struct {
	ln  net.Listener
	url string
	srv *http.Server
	log *slog.Logger
}

// listenPage opens the CA page's listener in local mode. A port that cannot
// be had costs the page, not the server: devices can still be given the CA
// file by hand.
func listenPage(address string, m *certs.Manager, log *slog.Logger) (*caPage, error) {
	if address == "" || address == "off" {
		return nil, nil
	}
	if m.Mode() != certs.ModeLocal {
		log.Info("no CA page: devices trust this server's certificates without it", "mode", m.Mode())
		return nil, nil
	}
	ln, err := net.Listen("tcp", address)
	if err != nil {
		log.Warn("no CA page: its port could not be opened; give another with --ca-page, or hand devices the CA file "+m.CAFile(), "addr", address, "err", err)
		return nil, nil
	}
	p := &caPage{ln: ln, url: pageURL(ln.Addr().(*net.TCPAddr)), log: log,
		srv: &http.Server{
			Handler:           m.Page(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}}
	log.Info("devices can trust this server from the CA page", "url", p.url)
	return p, nil
}

// URL is the page's address for people ("" when there is none).
func (p *caPage) URL() string {
	if p == nil {
		return ""
	}
	return p.url
}

// shown is the page's address, or off.
func (p *caPage) shown() string {
	if p == nil {
		return "off"
	}
	return p.url
}

// serve serves the page until ctx ends.
func (p *caPage) serve(ctx context.Context) error {
	if p == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- p.srv.Serve(p.ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if p.srv.Shutdown(sctx) != nil {
			p.srv.Close()
		}
		<-done
		return nil
	case err := <-done:
		// The page stops; the server goes on.
		if !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("the CA page stopped; restart Hearth to serve it again, or hand devices the CA file", "err", err)
		}
		return nil
	}
}

// close closes the page's listener if serve never ran.
func (p *caPage) close() {
	if p != nil {
		p.ln.Close()
	}
}

// pageURL is the address a device on the LAN opens: the listener's own
// address, or for one on every interface this machine's LAN address.
func pageURL(a *net.TCPAddr) string {
	ip := a.IP
	if ip.IsUnspecified() {
		ip = lanaddr.Machine()
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(a.Port)) + "/"
}
