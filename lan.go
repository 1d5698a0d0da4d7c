package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
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
	// hosts are the IPs the client listeners are bound to, for the
	// addresses people type by hand.
	hosts []net.IP
	log   *slog.Logger

	stop context.CancelFunc // ends the announcement that runs
	done chan struct{}      // closed when it has ended

	mu    sync.Mutex
	state admin.LANStatus // the announcement's, without the addresses
}

// status is how the server stands on the LAN now, for the admin API's
// Info: the addresses are read from the interfaces at each call.
func (l *lan) status() admin.LANStatus {
	l.mu.Lock()
	st := l.state
	l.mu.Unlock()
	st.Addresses = lanAddresses(l.hosts, interfaceAddrs())
	return st
}

// report records the announcement's state.
func (l *lan) report(announced bool, reason string) {
	l.mu.Lock()
	l.state.Announced, l.state.Reason = announced, reason
	l.state.Name = mdnsHost(l.domain) + ".local"
	l.mu.Unlock()
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
		l.report(false, "--no-mdns was given for this run")
		on = false
	case on && l.port == 0 && l.tlsPort == 0:
		l.log.Info("not announced on the LAN: no client listener is reachable from it")
		l.report(false, "no client listener is reachable from the LAN (they listen on loopback only)")
		on = false
	case !on:
		l.log.Info("not announced on the LAN: mdns.enabled is off", "when", why)
		l.report(false, "switched off in the settings (mdns.enabled)")
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
			Instance:  "Hearth on " + l.domain,
			Host:      mdnsHost(l.domain),
			Port:      l.port,
			TLSPort:   l.tlsPort,
			Domain:    l.domain,
			Announced: func() { l.report(true, "") },
		}
		l.report(false, "")
		go func(done chan struct{}) {
			defer close(done)
			// Serving goes on without it: clients can still be given
			// the address by hand.
			if err := discovery.Announce(actx, a, l.log); err != nil {
				l.log.Error("not announced on the LAN", "err", err)
				l.report(false, "the announcement failed: "+err.Error())
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

// interfaceAddrs are the addresses of the interfaces that are up, not
// loopback.
func interfaceAddrs() []net.IP {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				out = append(out, n.IP)
			}
		}
	}
	return out
}

// lanAddresses are the addresses a device on the LAN can type by hand to
// reach listeners bound to hosts: IPv4 first, then IPv6, each sorted;
// never loopback or link-local (an IPv6 link-local address needs its
// interface named, which apps do not take). A listener on a wildcard
// takes the machine's addresses (0.0.0.0 only the IPv4 ones); one bound
// to an address, that address.
func lanAddresses(hosts, machine []net.IP) []string {
	var v4, v6 []netip.Addr
	add := func(ip net.IP) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		a = a.Unmap()
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
			return
		}
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	for _, h := range hosts {
		switch {
		case h.Equal(net.IPv4zero):
			for _, ip := range machine {
				if ip.To4() != nil {
					add(ip)
				}
			}
		case h.IsUnspecified():
			for _, ip := range machine {
				add(ip)
			}
		default:
			add(h)
		}
	}
	var out []string
	for _, list := range [][]netip.Addr{v4, v6} {
		slices.SortFunc(list, netip.Addr.Compare)
		for _, a := range slices.Compact(list) {
			out = append(out, a.String())
		}
	}
	return out
}

// listenHosts are the IPs the listeners are bound to.
func listenHosts(lns ...net.Listener) []net.IP {
	var out []net.IP
	for _, ln := range lns {
		if ln == nil {
			continue
		}
		if a, ok := ln.Addr().(*net.TCPAddr); ok {
			out = append(out, a.IP)
		}
	}
	return out
}
