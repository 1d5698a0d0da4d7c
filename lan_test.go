package main

import (
	"net"
	"slices"
	"testing"
)

func TestLANAddresses(t *testing.T) {
	machine := []net.IP{
		net.ParseIP("fd00::5"), net.ParseIP("192.168.1.20"), net.ParseIP("fe80::1"),
		net.ParseIP("10.0.0.7"), net.ParseIP("169.254.3.4"), net.ParseIP("2001:db8::9"), net.ParseIP("192.168.1.20"),
	}
	for _, tc := range []struct {
		name  string
		hosts []net.IP
		want  []string
	}{
		{"every address", []net.IP{net.IPv6unspecified}, []string{"10.0.0.7", "192.168.1.20", "2001:db8::9", "fd00::5"}},
		{"IPv4 wildcard", []net.IP{net.IPv4zero}, []string{"10.0.0.7", "192.168.1.20"}},
		{"bound to one address", []net.IP{net.ParseIP("192.168.1.20"), net.ParseIP("192.168.1.20")}, []string{"192.168.1.20"}},
		{"loopback only", []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, nil},
		{"no listener", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lanAddresses(tc.hosts, machine); !slices.Equal(got, tc.want) {
				t.Errorf("lanAddresses = %q, want %q", got, tc.want)
			}
		})
	}
}
