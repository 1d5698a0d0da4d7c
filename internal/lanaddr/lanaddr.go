// Package lanaddr finds the address by which phones and PCs on the LAN
// reach this machine.
package lanaddr

import (
	"net"
	"strings"
)

// Machine is this machine's address on the LAN: the one its default
// route leaves from, else a private IPv4 address of an interface that is
// not a container bridge, else another global one, else loopback.
func Machine() net.IP {
	// Connecting a UDP socket sends nothing: it only asks the kernel
	// which source address the route to there takes.
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		ip := c.LocalAddr().(*net.UDPAddr).IP
		c.Close()
		if ip.IsPrivate() || ip.IsGlobalUnicast() {
			return ip
		}
	}
	ifaces, _ := net.Interfaces()
	var global net.IP
	for _, i := range ifaces {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || virtual(i.Name) {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil || !n.IP.IsGlobalUnicast() {
				continue
			}
			if n.IP.IsPrivate() {
				return n.IP
			}
			if global == nil {
				global = n.IP
			}
		}
	}
	if global != nil {
		return global
	}
	return net.IPv4(127, 0, 0, 1)
}

// virtual says whether an interface is a container or VM bridge, which
// no phone on the LAN reaches.
func virtual(name string) bool {
	for _, p := range []string{"docker", "br-", "veth", "virbr", "lxc", "cni", "flannel", "tun", "wg"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
