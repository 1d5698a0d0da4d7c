package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"

	"hearth/discovery"
	"hearth/server/admin"
	"hearth/server/settings"
)

// lan announces the server on the LAN (mDNS / DNS-SD) while the setting
// mdns.enabled is on and --no-mdns was not given, and follows the setting
// as it changes: `hearth config set mdns.enabled false` withdraws the
// announcement at once, true brings it back.
type lan struct {
	api     admin.API    // the running server's, for its events
	values  *admin.Local // the stored settings
	domain  string
	flagOff bool // --no-mdns
	port    int  // STARTTLS client port reachable from the LAN, or 0
	tlsPort int  // direct-TLS client port, or 0
	log     *slog.Logger

	stop context.CancelFunc // ends the announcement that runs
	done chan struct{}      // closed when it has ended
}

// run announces and follows the setting until ctx is done, then withdraws
// the announcement and returns once it has ended.
func (l *lan) run(ctx context.Context) error {
	events := l.api.Watch(ctx) // before the first read: no change is missed
	// The events are read without ever waiting, so that the hub never
	// drops one for us; withdrawing (goodbye packets) happens on the side,
	// once for however many changes came meanwhile.
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		l.apply(ctx, "at start")
		for range changed {
			l.apply(ctx, "setting changed")
		}
		l.set(ctx, false)
	})
	for ev := range events {
		if ev.Kind == admin.EventSettings && ev.Key == settings.KeyMDNS {
			select {
			case changed <- struct{}{}:
			default: // a change is pending already: it reads the latest value
			}
		}
	}
	close(changed)
	wg.Wait()
	return nil
}

// apply reads the setting and starts or withdraws the announcement.
func (l *lan) apply(ctx context.Context, why string) {
	v, err := l.values.Values(ctx)
	if err != nil {
		l.log.Error("LAN announcement unchanged: the settings could not be read", "err", err)
		return
	}
	on := v.Bool(settings.KeyMDNS)
	switch {
	case on && l.flagOff:
		l.log.Info("not announced on the LAN: --no-mdns was given for this run", "mdns.enabled", on)
		on = false
	case on && l.port == 0 && l.tlsPort == 0:
		l.log.Info("not announced on the LAN: no client listener is reachable from it")
		on = false
	case !on:
		l.log.Info("not announced on the LAN: mdns.enabled is off", "when", why)
	}
	l.set(ctx, on)
}

// set starts or withdraws the announcement.
func (l *lan) set(ctx context.Context, on bool) {
	switch {
	case on && l.stop == nil:
		actx, stop := context.WithCancel(ctx)
		l.stop, l.done = stop, make(chan struct{})
		a := discovery.Announcement{
			Instance: "Hearth on " + l.domain,
			Host:     mdnsHost(l.domain),
			Port:     l.port,
			TLSPort:  l.tlsPort,
			Domain:   l.domain,
		}
		go func(done chan struct{}) {
			defer close(done)
			// Serving goes on without it: clients can still be given
			// the address by hand.
			if err := discovery.Announce(actx, a, l.log); err != nil {
				l.log.Error("not announced on the LAN", "err", err)
			}
		}(l.done)
	case !on && l.stop != nil:
		l.stop()
		<-l.done
		l.stop, l.done = nil, nil
	}
}

// mdnsHost is the host name announced on the LAN: for a .local domain its
// first label, so that the domain itself resolves, else this machine's
// short name.
func mdnsHost(domain string) string {
	if rest, ok := strings.CutSuffix(domain, ".local"); ok {
		label, _, _ := strings.Cut(rest, ".")
		return label
	}
	return strings.TrimSuffix(defaultDomain(), ".local")
}

// lanPort is the port of a listener others on the LAN can reach, 0 for
// none or one bound to loopback.
func lanPort(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok || a.IP.IsLoopback() {
		return 0
	}
	return a.Port
}
