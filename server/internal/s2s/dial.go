package s2s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Dialer connects to a domain's server: its candidates in order, and for
// each the host's addresses raced as RFC 8305 (Happy Eyeballs) says, IPv6
// and IPv4 in turn, the next started when the one before has not
// connected within Delay.
type Dialer struct {
	Resolver Resolver      // nil: net.DefaultResolver
	Timeout  time.Duration // for one address; default 10 s
	Delay    time.Duration // before the next address is tried too; default 250 ms

	// dial opens one TCP connection (tests slow some down); nil: a
	// net.Dialer's.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

// Dial returns a TCP connection to domain's server and the candidate it
// reached: TLS from the first byte if the candidate says so, else the
// stream's STARTTLS is next. The error names every place tried and why it
// failed, in words.
func (d *Dialer) Dial(ctx context.Context, domain string) (net.Conn, Candidate, error) {
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	cands, err := Candidates(ctx, r, asciiDomain(domain), nil)
	if err != nil {
		return nil, Candidate{}, err
	}
	var why []string
	for _, c := range cands {
		addrs, err := r.LookupHost(ctx, c.Host)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: its address could not be found (%v)", c, plainNetError(err)))
			continue
		}
		conn, err := d.race(ctx, order(addrs), c.Port)
		if err == nil {
			return conn, c, nil
		}
		why = append(why, fmt.Sprintf("%s: %v", c, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, Candidate{}, fmt.Errorf("could not connect to the server of %s: %s", domain, strings.Join(why, "; "))
}

// race connects to the first address that answers, starting the next
// one after Delay, or at once when one fails.
func (d *Dialer) race(ctx context.Context, addrs []string, port uint16) (net.Conn, error) {
	timeout, delay := d.Timeout, d.Delay
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if delay <= 0 {
		delay = 250 * time.Millisecond
	}
	dial := d.dial
	if dial == nil {
		nd := &net.Dialer{}
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return nd.DialContext(ctx, "tcp", addr) }
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		conn net.Conn
		err  error
	}
	results := make(chan result, len(addrs))
	start := func(addr string) {
		actx, acancel := context.WithTimeout(ctx, timeout)
		go func() {
			defer acancel()
			conn, err := dial(actx, net.JoinHostPort(addr, strconv.Itoa(int(port))))
			results <- result{conn, err}
		}()
	}
	if len(addrs) == 0 {
		return nil, errors.New("its name has no address")
	}
	drain := func(left int) {
		// The others are cancelled; one that connected anyway is closed
		// as it arrives.
		go func() {
			for range left {
				if late := <-results; late.conn != nil {
					late.conn.Close()
				}
			}
		}()
	}
	next, running := 0, 0
	startNext := func() {
		start(addrs[next])
		next, running = next+1, running+1
	}
	startNext()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	var errs []error
	for running > 0 {
		select {
		case r := <-results:
			running--
			if r.err == nil {
				drain(running)
				return r.conn, nil
			}
			errs = append(errs, r.err)
			if next < len(addrs) { // a failure starts the next at once
				startNext()
				timer.Reset(delay)
			}
		case <-timer.C:
			if next < len(addrs) {
				startNext()
				timer.Reset(delay)
			}
		case <-ctx.Done():
			drain(running)
			return nil, ctx.Err()
		}
	}
	return nil, plainNetError(errors.Join(errs...))
}

// order puts IPv6 and IPv4 addresses in turn, IPv6 first (RFC 8305 4).
func order(addrs []string) []string {
	var v6, v4 []string
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() == nil {
			v6 = append(v6, a)
		} else {
			v4 = append(v4, a)
		}
	}
	out := make([]string, 0, len(addrs))
	for i := 0; i < len(v6) || i < len(v4); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}

// plainNetError says what a failed connection attempt means.
func plainNetError(err error) error {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return errors.New("no such name in DNS")
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer in time")
	case strings.Contains(err.Error(), "connection refused"):
		return errors.New("nothing listens there (connection refused)")
	case strings.Contains(err.Error(), "no route to host"), strings.Contains(err.Error(), "network is unreachable"):
		return errors.New("the network has no way there")
	}
	return err
}
