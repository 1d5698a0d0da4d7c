package discovery

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"
)

// ServiceInstance is a DNS-SD service instance to publish (RFC 6763 4).
type ServiceInstance struct {
	// Instance is the user-visible name, for example "alice@myhost"
	// (XEP-0174 uses user@host); longer than 63 bytes, it is cut.
	Instance string
	// Service is the type, for example ServicePresence ("_presence._tcp").
	Service string
	// Port is where the service listens.
	Port int
	// TXT is the TXT record's strings in order (see Presence.TXT).
	TXT []string
	// Renamed, if set, is called with the new name when a conflict found
	// after publishing made the instance take another name (RFC 6762 9).
	Renamed func(name string)
}

func (si ServiceInstance) check() error {
	var errs []error
	if strings.Trim(si.Instance, ".") == "" {
		errs = append(errs, errors.New("no instance name"))
	}
	if labels := splitName(si.Service); len(labels) != 2 || !strings.HasPrefix(labels[0], "_") ||
		(labels[1] != "_tcp" && labels[1] != "_udp") {
		errs = append(errs, fmt.Errorf("service type %q is not like _name._tcp", si.Service))
	}
	if si.Port <= 0 || si.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d out of range", si.Port))
	}
	for i, s := range si.TXT {
		if len(s) > maxTXTString {
			errs = append(errs, fmt.Errorf("TXT string %d is longer than 255 bytes", i+1))
		}
	}
	return errors.Join(errs...)
}

// Instance is a published service instance. Its methods are safe to call
// from any goroutine.
type Instance struct {
	r       *Responder
	base    string // the name asked for
	service string
	typeKey string
	port    int
	renamed func(string)

	// Under r.mu:
	name      string
	full      string // instance name in presentation format
	key       string
	txt       []string
	withdrawn bool
	reprobing bool
}

// Name is the instance name it is published under: the one asked for, or
// the one it was renamed to after a conflict ("alice@myhost (2)").
func (in *Instance) Name() string {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	return in.name
}

// Service is its type.
func (in *Instance) Service() string { return in.service }

// SetTXT replaces the TXT record and announces it (twice, one second
// apart, with the cache-flush bit, so that caches replace the old one).
func (in *Instance) SetTXT(txt []string) error {
	for i, s := range txt {
		if len(s) > maxTXTString {
			return fmt.Errorf("mdns: TXT string %d is longer than 255 bytes", i+1)
		}
	}
	r := in.r
	r.mu.Lock()
	if in.withdrawn {
		r.mu.Unlock()
		return errors.New("mdns: the instance was withdrawn")
	}
	in.txt = slices.Clone(txt)
	r.mu.Unlock()
	r.announce([]*Instance{in}, false)
	return nil
}

// Withdraw stops answering for the instance and sends goodbye packets
// (RFC 6762 10.1: its records with TTL 0). Calling it again does nothing.
func (in *Instance) Withdraw() {
	r := in.r
	r.mu.Lock()
	if in.withdrawn {
		r.mu.Unlock()
		return
	}
	in.withdrawn = true
	if r.instances[in.key] != in {
		r.mu.Unlock() // probing again: nothing of it is answered for
		return
	}
	delete(r.instances, in.key)
	ptr, srv, txt := in.records(r.host, 0, false)
	r.mu.Unlock()
	bye := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Answer: []dns.RR{ptr, srv, txt}}
	r.send(bye, 0)
}

// records are the instance's PTR, SRV and TXT records (caller holds r.mu
// for the TXT); flush sets the cache-flush bit on the unique ones.
func (in *Instance) records(host string, ttl uint32, flush bool) (ptr, srv, txt dns.RR) {
	unique := uint16(dns.ClassINET)
	if flush {
		unique |= classTopBit
	}
	srvTTL := min(ttl, hostTTL)
	ptr = &dns.PTR{Hdr: dns.RR_Header{Name: in.service + ".local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl}, Ptr: in.full}
	srv = &dns.SRV{Hdr: dns.RR_Header{Name: in.full, Rrtype: dns.TypeSRV, Class: unique, Ttl: srvTTL},
		Port: uint16(in.port), Target: host}
	t := in.txt
	if len(t) == 0 {
		t = []string{""} // RFC 6763 6.1: never empty
	}
	txt = &dns.TXT{Hdr: dns.RR_Header{Name: in.full, Rrtype: dns.TypeTXT, Class: unique, Ttl: ttl}, Txt: escapeTXT(t)}
	return ptr, srv, txt
}

func lastRune(s string) (rune, int) { return utf8.DecodeLastRuneInString(s) }

// Published describes an instance a Responder answers for.
type Published struct {
	Name, Service string
	Port          int
	TXT           []string
}

// Published lists the instances answered for now, by name (those probing
// again after a conflict are left out).
func (r *Responder) Published() []Published {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := make([]Published, 0, len(r.instances))
	for _, in := range r.instances {
		list = append(list, Published{Name: in.name, Service: in.service, Port: in.port, TXT: slices.Clone(in.txt)})
	}
	slices.SortFunc(list, func(a, b Published) int {
		return strings.Compare(a.Service+"\x00"+a.Name, b.Service+"\x00"+b.Name)
	})
	return list
}
