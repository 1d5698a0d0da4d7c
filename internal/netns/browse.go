package netns

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grandcat/zeroconf"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

var group4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// Browse prints, as JSON Events on standard output, what a device on the
// LAN sees of services until life has passed: "ready" once it listens,
// "found" for each instance through zeroconf, "host" for host's A record
// asked as a plain resolver would (RFC 6762 6.7), after the first find,
// and "goodbye" for each PTR record of the services with TTL 0 (RFC 6762
// 10.1), which zeroconf's browser does not report.
func Browse(ifi net.Interface, host string, services []string, life time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), life)
	defer cancel()
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(ev Event) {
		ev.At = time.Now()
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev)
	}

	watch, err := joinGroup(ifi)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { watch.Close() })
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { watchGoodbyes(watch, services, emit) })

	// Listening first, so that "ready" comes before any answer.
	var resolvers []*zeroconf.Resolver
	for range services {
		r, err := zeroconf.NewResolver(zeroconf.SelectIfaces([]net.Interface{ifi}))
		if err != nil {
			return err
		}
		resolvers = append(resolvers, r)
	}
	emit(Event{Event: "ready"})
	var lookup sync.Once
	began := time.Now()
	for i, svc := range services {
		entries := make(chan *zeroconf.ServiceEntry)
		if err := resolvers[i].Browse(ctx, svc, "local.", entries); err != nil {
			return err
		}
		wg.Go(func() {
			for e := range entries {
				emit(Event{Event: "found", Service: svc, Instance: e.Instance, Host: e.HostName,
					Port: e.Port, TXT: e.Text, IPv4: ipStrings(e.AddrIPv4), IPv6: ipStrings(e.AddrIPv6),
					After: time.Since(began)})
				if host != "" {
					lookup.Do(func() { emit(resolveHost(ifi, host)) })
				}
			}
		})
	}
	<-ctx.Done()
	return nil
}

// joinGroup listens to the IPv4 mDNS group on ifi.
func joinGroup(ifi net.Interface) (*ipv4.PacketConn, error) {
	// Go binds a multicast address as the wildcard with SO_REUSEADDR, so
	// zeroconf's sockets share the port.
	uc, err := net.ListenUDP("udp4", group4)
	if err != nil {
		return nil, err
	}
	c := ipv4.NewPacketConn(uc)
	if err := c.JoinGroup(&ifi, group4); err != nil {
		uc.Close()
		return nil, err
	}
	return c, nil
}

// resolveHost asks for host's A record from an ephemeral port, as a plain
// DNS resolver does.
func resolveHost(ifi net.Interface, host string) Event {
	ev := Event{Event: "host", Host: host}
	err := func() error {
		uc, err := net.ListenUDP("udp4", &net.UDPAddr{})
		if err != nil {
			return err
		}
		defer uc.Close()
		c := ipv4.NewPacketConn(uc)
		if err := c.SetMulticastInterface(&ifi); err != nil {
			return err
		}
		q := new(dns.Msg)
		q.SetQuestion(host, dns.TypeA)
		b, err := q.Pack()
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, nil, group4); err != nil {
			return err
		}
		uc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 9000)
		for {
			n, _, err := uc.ReadFrom(buf)
			if err != nil {
				return err
			}
			var r dns.Msg
			if r.Unpack(buf[:n]) != nil || r.Id != q.Id {
				continue
			}
			for _, rr := range append(r.Answer, r.Extra...) {
				switch rr := rr.(type) {
				case *dns.A:
					ev.IPv4 = append(ev.IPv4, rr.A.String())
				case *dns.AAAA:
					ev.IPv6 = append(ev.IPv6, rr.AAAA.String())
				}
			}
			return nil
		}
	}()
	if err != nil {
		ev.Err = err.Error()
	}
	return ev
}

// watchGoodbyes reports PTR records of services with TTL 0 until c is
// closed.
func watchGoodbyes(c *ipv4.PacketConn, services []string, emit func(Event)) {
	buf := make([]byte, 9000)
	for {
		n, _, _, err := c.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		var m dns.Msg
		if err != nil || m.Unpack(buf[:n]) != nil || !m.Response {
			continue
		}
		for _, rr := range m.Answer {
			ptr, ok := rr.(*dns.PTR)
			if !ok || ptr.Hdr.Ttl != 0 {
				continue
			}
			for _, svc := range services {
				if instance, ok := strings.CutSuffix(ptr.Ptr, "."+svc+".local."); ok && ptr.Hdr.Name == svc+".local." {
					emit(Event{Event: "goodbye", Service: svc, Instance: instance})
				}
			}
		}
	}
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}

// Unescape turns a label in DNS presentation format back into text.
func Unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '\\' || i+1 == len(s):
			b.WriteByte(s[i])
		case i+3 < len(s) && isDigits(s[i+1:i+4]):
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
		default:
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}
