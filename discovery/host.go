package discovery

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// The mDNS port and groups (RFC 6762 3).
const mdnsPort = 5353

var (
	group4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}
	group6 = &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: mdnsPort}
)

const (
	// RFC 6762 5.4 and 10.2: the top bit of the class asks for a unicast
	// response in a question and flushes caches in a unique answer.
	classTopBit = 1 << 15
	// RFC 6762 10: host address records live 120 s.
	hostTTL = 120
	// RFC 6762 6.7: at most 10 s in answers to legacy unicast queries.
	legacyTTL = 10
)

// hostResponder builds the answers to A and AAAA questions for the host
// name (RFC 6762 6) on one link, so that a name a client looks up by
// itself (user@myhost.local) resolves; Responder sends them.
type hostResponder struct {
	name   string // fully qualified: "myhost.local."
	v4, v6 []net.IP
}

// mconn is one multicast socket, IPv4 or IPv6.
type mconn interface {
	read(b []byte) (n, ifIndex int, src *net.UDPAddr, err error)
	write(b []byte, ifIndex int, dst *net.UDPAddr) error
	group() *net.UDPAddr
	Close() error
}

// answer is the response to query from a sender's port, nil when it asks
// nothing of ours, and whether it goes to the sender alone.
func (h *hostResponder) answer(query *dns.Msg, srcPort int) (resp *dns.Msg, unicast bool) {
	if query.Response || query.Opcode != dns.OpcodeQuery {
		return nil, false
	}
	// RFC 6762 6.7: a query from another port than 5353 comes from a plain
	// DNS resolver (legacy unicast): answer it alone, with its ID and
	// question, short TTLs and no cache-flush bit.
	legacy := srcPort != mdnsPort
	var wantA, wantAAAA bool
	resp = new(dns.Msg)
	for _, q := range query.Question {
		if c := q.Qclass &^ classTopBit; c != dns.ClassINET && c != dns.ClassANY || !strings.EqualFold(q.Name, h.name) {
			continue
		}
		switch q.Qtype {
		case dns.TypeA:
			wantA = true
		case dns.TypeAAAA:
			wantAAAA = true
		case dns.TypeANY:
			wantA, wantAAAA = true, true
		default:
			continue
		}
		if legacy {
			resp.Question = append(resp.Question, q)
		}
		if q.Qclass&classTopBit != 0 {
			unicast = true
		}
	}
	if !wantA && !wantAAAA {
		return nil, false
	}
	resp.Response, resp.Authoritative = true, true
	ttl, class := uint32(hostTTL), uint16(dns.ClassINET|classTopBit)
	if legacy {
		resp.Id, ttl, class, unicast = query.Id, legacyTTL, dns.ClassINET, true
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: h.name, Rrtype: t, Class: class, Ttl: ttl}
	}
	var a, aaaa []dns.RR
	for _, ip := range h.v4 {
		a = append(a, &dns.A{Hdr: hdr(dns.TypeA), A: ip})
	}
	for _, ip := range h.v6 {
		aaaa = append(aaaa, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip})
	}
	// RFC 6762 6.2: the other family goes into the additional section.
	if wantA {
		resp.Answer = append(resp.Answer, a...)
	} else {
		resp.Extra = append(resp.Extra, a...)
	}
	if wantAAAA {
		resp.Answer = append(resp.Answer, aaaa...)
	} else {
		resp.Extra = append(resp.Extra, aaaa...)
	}
	// RFC 6762 6.1: a family we do not have is denied with an NSEC record
	// listing the ones we do, so the asker need not wait for a timeout.
	if len(a) == 0 || len(aaaa) == 0 {
		nsec := &dns.NSEC{Hdr: hdr(dns.TypeNSEC), NextDomain: h.name}
		if len(a) > 0 {
			nsec.TypeBitMap = []uint16{dns.TypeA}
		} else {
			nsec.TypeBitMap = []uint16{dns.TypeAAAA}
		}
		if len(resp.Answer) == 0 {
			resp.Answer = append(resp.Answer, nsec)
		} else {
			resp.Extra = append(resp.Extra, nsec)
		}
	}
	return resp, unicast
}

// groupConn is an mDNS socket that can join its group on more interfaces.
type groupConn interface {
	mconn
	JoinGroup(*net.Interface, net.Addr) error
	network() string
}

// listenGroup listens on the mDNS port for group, IPv4 or IPv6, on no
// interface yet.
// listenGroups opens the IPv4 and the IPv6 mDNS sockets; it fails only
// when neither opens.
func listenGroups() ([]groupConn, error) {
	var conns []groupConn
	var errs []error
	for _, g := range []*net.UDPAddr{group4, group6} {
		c, err := listenGroup(g)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, c)
	}
	if conns == nil {
		return nil, fmt.Errorf("cannot listen on port 5353: %w", errors.Join(errs...))
	}
	return conns, nil
}

func listenGroup(group *net.UDPAddr) (groupConn, error) {
	network := "udp6"
	if group.IP.To4() != nil {
		network = "udp4"
	}
	// Go binds a multicast address as the wildcard with SO_REUSEADDR, so
	// other responders (avahi, a Browser) share the port.
	uc, err := net.ListenUDP(network, group)
	if err != nil {
		return nil, err
	}
	// RFC 6762 11: sent with a TTL (hop limit) of 255.
	var c groupConn
	if network == "udp4" {
		p := ipv4.NewPacketConn(uc)
		err = errors.Join(p.SetControlMessage(ipv4.FlagInterface, true), p.SetMulticastTTL(255))
		c = conn4{p}
	} else {
		p := ipv6.NewPacketConn(uc)
		err = errors.Join(p.SetControlMessage(ipv6.FlagInterface, true), p.SetMulticastHopLimit(255))
		c = conn6{p}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", network, err)
	}
	return c, nil
}

type conn4 struct{ *ipv4.PacketConn }

func (c conn4) read(b []byte) (int, int, *net.UDPAddr, error) {
	n, cm, src, err := c.ReadFrom(b)
	if err != nil || cm == nil {
		return n, 0, nil, err
	}
	u, _ := src.(*net.UDPAddr)
	return n, cm.IfIndex, u, nil
}

func (c conn4) write(b []byte, ifIndex int, dst *net.UDPAddr) error {
	_, err := c.WriteTo(b, &ipv4.ControlMessage{IfIndex: ifIndex}, dst)
	return err
}

func (conn4) group() *net.UDPAddr { return group4 }

func (conn4) network() string { return "udp4" }

type conn6 struct{ *ipv6.PacketConn }

func (c conn6) read(b []byte) (int, int, *net.UDPAddr, error) {
	n, cm, src, err := c.ReadFrom(b)
	if err != nil || cm == nil {
		return n, 0, nil, err
	}
	u, _ := src.(*net.UDPAddr)
	return n, cm.IfIndex, u, nil
}

func (c conn6) write(b []byte, ifIndex int, dst *net.UDPAddr) error {
	_, err := c.WriteTo(b, &ipv6.ControlMessage{IfIndex: ifIndex}, dst)
	return err
}

func (conn6) group() *net.UDPAddr { return group6 }

func (conn6) network() string { return "udp6" }
