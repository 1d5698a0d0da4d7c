// Package discovery announces Hearth on the LAN with Multicast DNS
// (RFC 6762) and DNS-Based Service Discovery (RFC 6763): the client
// service as _xmpp-client._tcp (RFC 6120 3.2.1) and, for direct TLS,
// _xmpps-client._tcp (XEP-0368), each with a TXT record, and the host name
// <host>.local so that clients can reach it. The services go through
// a responder of our own (Responder), which also publishes other service
// instances, such as XEP-0174's _presence._tcp, and follows the interfaces
// and their addresses; Browser finds instances others publish. It knows
// nothing about stanzas.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Service types (RFC 6763 7): the STARTTLS and the direct-TLS client ports.
const (
	ServiceC2S    = "_xmpp-client._tcp"
	ServiceC2STLS = "_xmpps-client._tcp"
)

// Announcement is what Announce advertises.
type Announcement struct {
	// Instance is the user-visible service instance name (RFC 6763 4.1.1),
	// for example "Hearth on myhost.local"; longer than 63 bytes, it is cut.
	Instance string
	// Host is the single-label host name announced as Host.local, for
	// example "myhost".
	Host string
	// Port is the STARTTLS client port, TLSPort the direct-TLS one; 0 leaves
	// that service out.
	Port, TLSPort int
	// Domain is the XMPP domain, sent in the TXT records.
	Domain string
	// Ifaces are the interfaces to announce on; nil means every interface
	// that is up, multicast-capable and not loopback.
	Ifaces []net.Interface
	// Addrs are the IP addresses announced for Host; nil means the unicast
	// addresses of Ifaces, followed as they change.
	Addrs []string
	// Poll is how often the interfaces and addresses are read again; 0
	// means every 3 s.
	Poll time.Duration
	// Announced, if set, is called once the services are registered and
	// answered for: the announcement works.
	Announced func()
}

// Announce registers the services and the host name, answers queries until
// ctx is done, then withdraws them (RFC 6762 10.1: goodbye packets) and
// returns nil. It follows the interfaces and their addresses, announcing
// again when they change. It returns an error only when it cannot announce
// at all.
func Announce(ctx context.Context, a Announcement, log *slog.Logger) error {
	if err := a.complete(); err != nil {
		return fmt.Errorf("mdns announce: %w", err)
	}
	r, err := NewResponder(ResponderConfig{Host: a.Host, Ifaces: a.Ifaces, Addrs: a.Addrs, Poll: a.Poll}, log)
	if err != nil {
		return fmt.Errorf("mdns announce %s.local: %w", a.Host, err)
	}
	defer r.Close() // sends the goodbyes, records with TTL 0
	svcs := a.services()
	names := make([]string, len(svcs))
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Go(func() {
			in, err := r.Publish(ctx, ServiceInstance{Instance: a.Instance, Service: svc.name, Port: svc.port, TXT: a.txt()})
			if err != nil {
				errs[i] = fmt.Errorf("mdns register %s: %w", svc.name, err)
				return
			}
			names[i] = in.Name()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("announced on the LAN", "instance", names[0], "host", a.Host+".local",
		"port", a.Port, "tls_port", a.TLSPort, "links", r.Links())
	if a.Announced != nil {
		a.Announced()
	}
	<-ctx.Done()
	r.Close()
	log.Info("LAN announcement withdrawn")
	return nil
}

// complete checks a and fills in the defaults.
func (a *Announcement) complete() error {
	var errs []error
	a.Host = strings.TrimSuffix(strings.TrimSuffix(a.Host, "."), ".local")
	if a.Host == "" || strings.Contains(a.Host, ".") || len(a.Host) > 63 {
		errs = append(errs, fmt.Errorf("host %q is not a single DNS label", a.Host))
	}
	// Dots at the ends of the instance name are trimmed, even escaped.
	a.Instance = strings.Trim(a.Instance, ".")
	if a.Instance == "" {
		errs = append(errs, errors.New("no instance name"))
	}
	// RFC 6763 4.1.1: at most 63 octets of UTF-8; cut at a rune boundary.
	for len(a.Instance) > 63 {
		_, n := utf8.DecodeLastRuneInString(a.Instance)
		a.Instance = a.Instance[:len(a.Instance)-n]
	}
	if a.Port == 0 && a.TLSPort == 0 {
		errs = append(errs, errors.New("no port to announce"))
	}
	for _, p := range []int{a.Port, a.TLSPort} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d out of range", p))
		}
	}
	for _, s := range a.Addrs {
		if net.ParseIP(s) == nil {
			errs = append(errs, fmt.Errorf("address %q is not an IP address", s))
		}
	}
	if errs != nil {
		return errors.Join(errs...)
	}
	if a.Ifaces == nil {
		// Checked now so that the caller hears of it; the responder looks
		// for interfaces again as they come and go.
		ifaces, err := net.Interfaces()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(ifaces, defaultIface) {
			return errors.New("no multicast-capable interface is up")
		}
	}
	return nil
}

type service struct {
	name string
	port int
}

func (a *Announcement) services() []service {
	var s []service
	if a.Port > 0 {
		s = append(s, service{ServiceC2S, a.Port})
	}
	if a.TLSPort > 0 {
		s = append(s, service{ServiceC2STLS, a.TLSPort})
	}
	return s
}

// txt is the TXT record (RFC 6763 6): a version first, then the domain a
// client should ask for in its stream header.
func (a *Announcement) txt() []string {
	t := []string{"txtvers=1"}
	if a.Domain != "" {
		t = append(t, "domain="+a.Domain)
	}
	return t
}

// escapeLabel turns a label into DNS presentation format, so that dots and
// backslashes in an instance name stay inside one label.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(s)
}
