package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

var errClosed = errors.New("mdns publish: the responder is closed")

// Publish probes for si's name (RFC 6762 8.1), renaming it "name (2)",
// "name (3)"... while another host holds it (RFC 6762 9), then announces
// it. It returns once the name is settled; Instance.Name tells the name
// it got. A conflict found later starts probing again, and si.Renamed
// hears of a new name.
func (r *Responder) Publish(ctx context.Context, si ServiceInstance) (*Instance, error) {
	if err := si.check(); err != nil {
		return nil, fmt.Errorf("mdns publish: %w", err)
	}
	in := &Instance{r: r, base: cutLabel(strings.Trim(si.Instance, "."), 63), service: si.Service, port: si.Port,
		txt: slices.Clone(si.TXT), renamed: si.Renamed, typeKey: nameKey(si.Service + ".local.")}
	if err := r.settle(ctx, in); err != nil {
		return nil, err
	}
	r.announce([]*Instance{in}, false)
	return in, nil
}

// settle probes for in's base name and the renamed ones in turn, and
// registers in under the first one nobody else holds.
func (r *Responder) settle(ctx context.Context, in *Instance) error {
	for n := 1; n <= maxRenames; n++ {
		name := in.base
		if n > 1 {
			suffix := fmt.Sprintf(" (%d)", n)
			name = cutLabel(in.base, 63-len(suffix)) + suffix
		}
		r.mu.Lock()
		in.name = name
		in.full = instanceName(name, in.service)
		in.key = nameKey(in.full)
		r.mu.Unlock()
		ok, err := r.probe(ctx, in)
		if err != nil {
			return err
		}
		if !ok {
			r.log.Info("service name taken on the LAN; trying another", "name", name, "service", in.service)
			continue
		}
		if name != in.base {
			r.log.Info("service renamed because another host on the LAN uses its name", "asked", in.base, "name", name, "service", in.service)
		}
		return nil
	}
	return fmt.Errorf("mdns publish %q: %d names taken on the LAN", in.base, maxRenames)
}

// reprobe runs when another host answers for a published name with other
// data (RFC 6762 9): probing again, and renaming if the other stays.
func (r *Responder) reprobe(in *Instance) {
	r.mu.Lock()
	old := in.name
	delete(r.instances, in.key) // no goodbye: the name is the other host's now
	r.mu.Unlock()
	r.log.Info("another host on the LAN answers for a published service name; probing again", "name", old, "service", in.service)
	err := r.settle(context.Background(), in)
	r.mu.Lock()
	in.reprobing = false
	r.mu.Unlock()
	if err != nil {
		if !errors.Is(err, errClosed) && !errors.Is(err, errWithdrawn) {
			r.log.Warn("a service is no longer published on the LAN", "name", old, "service", in.service, "err", err)
		}
		return
	}
	r.announce([]*Instance{in}, false)
	if name := in.Name(); name != old && in.renamed != nil {
		in.renamed(name)
	}
}

// probe is one name being probed for and the records that claim it.
type probe struct {
	in       *Instance
	srv      dns.RR
	conflict chan struct{}
	once     sync.Once
}

var errWithdrawn = errors.New("mdns: the instance was withdrawn")

// probe sends the three probes for in and waits; false means another host
// answered for the name with other data, or won a simultaneous probe. On
// success in is registered.
func (r *Responder) probe(ctx context.Context, in *Instance) (bool, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false, errClosed
	}
	if r.instances[in.key] != nil || r.probing[in.key] != nil {
		r.mu.Unlock()
		return false, nil // ours already
	}
	_, srv, txt := in.records(r.host, otherTTL, false)
	p := &probe{in: in, srv: srv, conflict: make(chan struct{})}
	r.probing[in.key] = p
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.probing, in.key)
		r.mu.Unlock()
	}()
	q := &dns.Msg{Question: []dns.Question{{Name: in.full, Qtype: dns.TypeANY, Qclass: dns.ClassINET}}, Ns: []dns.RR{srv, txt}}
	for i := range 4 {
		if i < 3 {
			r.send(q, 0)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-r.stop:
			return false, errClosed
		case <-p.conflict:
			return false, nil
		case <-time.After(probeWait):
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return false, errClosed
	case in.withdrawn:
		return false, errWithdrawn
	}
	r.instances[in.key] = in
	return true, nil
}

// checkConflicts looks in a response for records of a name being probed,
// or published, that say something else than ours (RFC 6762 8.1, 9).
// Goodbyes are no claim, and a published TXT record is not compared: our
// own earlier one may still be on its way back.
func (r *Responder) checkConflicts(m *dns.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rr := range append(slices.Clip(m.Answer), m.Extra...) {
		if rr.Header().Ttl == 0 {
			continue
		}
		k := nameKey(rr.Header().Name)
		if p := r.probing[k]; p != nil {
			conflict := false
			switch rr := rr.(type) {
			case *dns.SRV:
				conflict = r.otherSRV(rr, p.in)
			case *dns.TXT:
				got := unescapeTXT(rr.Txt)
				conflict = !slices.Equal(got, p.in.txt) && !(len(got) <= 1 && len(p.in.txt) == 0)
			}
			if conflict {
				p.once.Do(func() { close(p.conflict) })
			}
		}
		if in := r.instances[k]; in != nil && !in.reprobing && !r.closed {
			if srv, ok := rr.(*dns.SRV); ok && r.otherSRV(srv, in) {
				in.reprobing = true
				r.wg.Go(func() { r.reprobe(in) })
			}
		}
	}
}

func (r *Responder) otherSRV(srv *dns.SRV, in *Instance) bool {
	return int(srv.Port) != in.port || nameKey(srv.Target) != nameKey(r.host)
}

// checkProbes settles simultaneous probes (RFC 6762 8.2): a query from
// another host probing a name we probe, with other data, wins when its
// SRV record is the greater one; then we take another name.
func (r *Responder) checkProbes(q *dns.Msg) {
	if len(q.Ns) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rr := range q.Ns {
		srv, ok := rr.(*dns.SRV)
		if !ok {
			continue
		}
		p := r.probing[nameKey(srv.Hdr.Name)]
		if p == nil || !r.otherSRV(srv, p.in) {
			continue
		}
		if bytes.Compare(rdata(p.srv), rdata(srv)) < 0 {
			p.once.Do(func() { close(p.conflict) })
		}
	}
}

// rdata is the record's data as on the wire, names uncompressed.
func rdata(rr dns.RR) []byte {
	c := dns.Copy(rr)
	c.Header().Name = "."
	buf := make([]byte, dns.Len(c)+16)
	off, err := dns.PackRR(c, buf, 0, nil, false)
	if err != nil || off < 11 {
		return nil
	}
	// The header of "." is 11 bytes: name, type, class, TTL, length.
	return buf[11:off]
}

// cutLabel cuts s to at most n bytes at a UTF-8 boundary.
func cutLabel(s string, n int) string {
	for len(s) > n {
		_, size := lastRune(s)
		s = s[:len(s)-size]
	}
	return s
}
