package discovery

import (
	"net"
	"slices"
	"strings"
)

// link is one interface the responder works on and the addresses it
// announces there.
type link struct {
	name   string
	v4, v6 []net.IP
}

func (l *link) equal(o *link) bool {
	return l.name == o.name && slices.EqualFunc(l.v4, o.v4, net.IP.Equal) && slices.EqualFunc(l.v6, o.v6, net.IP.Equal)
}

// defaultIface says whether an interface is one mDNS goes on when none
// are named: up, multicast-capable and not the loopback.
func defaultIface(ifi net.Interface) bool {
	return ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0
}

// scanLinks reads the interfaces again: those of chosen (by name; nil
// means every default one) that are up now, with their unicast addresses,
// or fixed ones when given.
func scanLinks(chosen []net.Interface, fixed []net.IP) (map[int]*link, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	links := make(map[int]*link)
	for _, ifi := range ifaces {
		if chosen == nil && !defaultIface(ifi) {
			continue
		}
		if chosen != nil && (!slices.ContainsFunc(chosen, func(c net.Interface) bool { return c.Name == ifi.Name }) || ifi.Flags&net.FlagUp == 0) {
			continue
		}
		l := &link{name: ifi.Name}
		addrs := fixed
		if addrs == nil {
			addrs = ifaceAddrs(ifi)
		}
		for _, ip := range addrs {
			if ip4 := ip.To4(); ip4 != nil {
				l.v4 = append(l.v4, ip4)
			} else {
				l.v6 = append(l.v6, ip)
			}
		}
		links[ifi.Index] = l
	}
	return links, nil
}

// ifaceAddrs are the unicast addresses of ifi, sorted.
func ifaceAddrs(ifi net.Interface) []net.IP {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsMulticast() && !n.IP.IsUnspecified() {
			ips = append(ips, n.IP)
		}
	}
	slices.SortFunc(ips, func(a, b net.IP) int { return strings.Compare(a.String(), b.String()) })
	return ips
}

// linksEqual says whether two scans found the same.
func linksEqual(a, b map[int]*link) bool {
	if len(a) != len(b) {
		return false
	}
	for i, l := range a {
		if o, ok := b[i]; !ok || !l.equal(o) {
			return false
		}
	}
	return true
}

// gone are the addresses of old that new no longer has on the same link.
func gone(old, new *link) (v4, v6 []net.IP) {
	for _, ip := range old.v4 {
		if new == nil || !slices.ContainsFunc(new.v4, ip.Equal) {
			v4 = append(v4, ip)
		}
	}
	for _, ip := range old.v6 {
		if new == nil || !slices.ContainsFunc(new.v6, ip.Equal) {
			v6 = append(v6, ip)
		}
	}
	return v4, v6
}
