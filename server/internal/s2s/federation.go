package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Defaults of Config.
const (
	DefaultMaxStanza        = 512 << 10
	DefaultConnectTimeout   = 30 * time.Second
	DefaultNegotiateTimeout = 30 * time.Second
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultMaxLinks         = 200
	DefaultRate             = 1 << 20 // bytes of stanzas per second and inbound link
	DefaultQueueLimit       = 10000
	DefaultQueueBytes       = 1 << 20
	DefaultQueueWait        = 5 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
)

// Inbound is where stanzas from other servers go once their link has
// checked them, and how stanzas that could not be sent go back.
type Inbound interface {
	// FromRemote routes a stanza whose from was authenticated on its link
	// and whose to is a local domain.
	FromRemote(ctx context.Context, st *stanza.Stanza)
	// Bounce answers st with the error e (unless st is an error itself).
	Bounce(ctx context.Context, st *stanza.Stanza, e *stanza.Error)
}

// Config describes the federation of one server.
type Config struct {
	Domain string
	// Hosts are the other local domains (conference., ...); nil: none.
	Hosts func() []string
	// TLS gives this server's certificates (GetCertificate); the links
	// build their own configurations from it.
	TLS func() *tls.Config
	// Roots verify peers' certificates; nil: the system's (which honours
	// SSL_CERT_FILE and SSL_CERT_DIR).
	Roots    *x509.CertPool
	Dialback *Dialback
	Resolver Resolver // nil: the system's DNS
	Inbound  Inbound
	Log      *slog.Logger

	MaxStanza        int           // bytes one stanza from a peer may take (DefaultMaxStanza)
	ConnectTimeout   time.Duration // to reach a domain and authenticate (DefaultConnectTimeout)
	NegotiateTimeout time.Duration // for a peer connecting to us to authenticate (DefaultNegotiateTimeout)
	IdleTimeout      time.Duration // a link with no stanzas either way is closed (DefaultIdleTimeout)
	MaxLinks         int           // links each way at once (DefaultMaxLinks)
	Rate             int           // bytes per second one inbound link may send, with bursts of 4 s (DefaultRate)
	QueueLimit       int           // stanzas waiting for one link (DefaultQueueLimit)
	QueueBytes       int           // their footprint (DefaultQueueBytes)
	QueueWait        time.Duration // a sender waits this long for room, then the stanza bounces (DefaultQueueWait)
	WriteTimeout     time.Duration // one write to a peer (DefaultWriteTimeout)

	// dial replaces the TCP dialer (tests); nil: a net.Dialer's.
	dial func(ctx context.Context, addr string) (net.Conn, error)
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Hosts == nil {
		c.Hosts = func() []string { return nil }
	}
	set := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&c.MaxStanza, DefaultMaxStanza)
	set(&c.MaxLinks, DefaultMaxLinks)
	set(&c.Rate, DefaultRate)
	set(&c.QueueLimit, DefaultQueueLimit)
	set(&c.QueueBytes, DefaultQueueBytes)
	setD(&c.QueueWait, DefaultQueueWait)
	setD(&c.ConnectTimeout, DefaultConnectTimeout)
	setD(&c.NegotiateTimeout, DefaultNegotiateTimeout)
	setD(&c.IdleTimeout, DefaultIdleTimeout)
	setD(&c.WriteTimeout, DefaultWriteTimeout)
}

// Policy is which domains this server federates with.
type Policy struct {
	Enabled bool
	// Allow: if not empty, only these domains (and their subdomains).
	Allow []string
	// Block: never these domains (and their subdomains); wins over Allow.
	Block []string
}

// check says why domain may not be federated with, or nil.
func (p *Policy) check(domain string) error {
	if !p.Enabled {
		return errors.New("federation is off on this server")
	}
	// Compared as A-labels: bücher.example and xn--bcher-kva.example
	// are one domain.
	domain = asciiDomain(domain)
	under := func(list []string) bool {
		return slices.ContainsFunc(list, func(d string) bool {
			d = asciiDomain(d)
			return domain == d || strings.HasSuffix(domain, "."+d)
		})
	}
	if under(p.Block) {
		return fmt.Errorf("%s is on this server's federation block list", domain)
	}
	if len(p.Allow) > 0 && !under(p.Allow) {
		return fmt.Errorf("%s is not on this server's federation allow list", domain)
	}
	return nil
}

// Federation is the server's links to other servers: the router's hand-off
// for other domains (Route), the listener for servers that connect to it
// (Serve), and what the admin sees of them (Links).
type Federation struct {
	cfg    Config
	dialer *Dialer
	roots  *x509.CertPool
	policy atomic.Pointer[Policy]
	ctx    context.Context // the server's lifetime (Start)
	cancel context.CancelFunc

	mu       sync.Mutex
	out      map[pair]*link     // outbound links, and those being set up
	bidi     map[pair]*link     // inbound links the peer lets us send on (XEP-0288)
	in       map[*link]struct{} // inbound links
	unauth   map[string]int     // inbound links not authenticated yet, by address (addressKey)
	inByAddr map[string]int     // inbound links, by address
	failures map[string]failure // recent failures to reach a domain, for backoff
	pending  map[string]string  // our dialback streams: "receiving streamID" → originating
	waiters  map[string]waiter  // the server's own IQs (Probe), by id
	closed   bool               // Close was called: no new links
	wg       sync.WaitGroup
}

// pair is a link's local and remote domain.
type pair struct{ local, remote string }

// failure is why a domain could not be reached, and until when new
// stanzas for it bounce at once instead of trying again.
type failure struct {
	err   *stanza.Error
	why   string
	until time.Time
	n     int
}

// New returns the federation of a server, off until SetPolicy turns it on.
func New(cfg Config) *Federation {
	cfg.defaults()
	f := &Federation{cfg: cfg, out: map[pair]*link{}, bidi: map[pair]*link{}, in: map[*link]struct{}{},
		failures: map[string]failure{}, pending: map[string]string{}, unauth: map[string]int{}, inByAddr: map[string]int{}}
	f.dialer = &Dialer{Resolver: cfg.Resolver, dial: cfg.dial}
	f.roots = cfg.Roots
	if f.roots == nil {
		if pool, err := x509.SystemCertPool(); err == nil {
			f.roots = pool
		} else {
			f.roots = x509.NewCertPool()
		}
	}
	f.policy.Store(&Policy{})
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f
}

// SetPolicy changes which domains are federated with; links to domains no
// longer allowed are closed (all of them when federation is turned off).
func (f *Federation) SetPolicy(p Policy) {
	for i, d := range p.Allow {
		p.Allow[i] = strings.ToLower(strings.TrimSpace(d))
	}
	for i, d := range p.Block {
		p.Block[i] = strings.ToLower(strings.TrimSpace(d))
	}
	f.policy.Store(&p)
	var closing []*link
	f.mu.Lock()
	for _, l := range f.allLocked() {
		if !l.allowedBy(&p) {
			closing = append(closing, l)
		}
	}
	if !p.Enabled {
		clear(f.failures)
	}
	f.mu.Unlock()
	for _, l := range closing {
		l.fail(errors.New("federation with this domain was turned off"), &stream.Error{Condition: stream.PolicyViolation, Text: "this server no longer federates with yours"})
	}
}

// ConnectTimeout is how long reaching another server may take.
func (f *Federation) ConnectTimeout() time.Duration { return f.cfg.ConnectTimeout }

// Policy returns the policy in force.
func (f *Federation) Policy() Policy { return *f.policy.Load() }

// Close ends every link and stops what is under way.
func (f *Federation) Close() {
	f.cancel()
	f.mu.Lock()
	f.closed = true
	all := f.allLocked()
	f.mu.Unlock()
	for _, l := range all {
		l.fail(errors.New("the server is stopping"), &stream.Error{Condition: stream.SystemShutdown})
	}
	f.wg.Wait()
}

func (f *Federation) allLocked() []*link {
	var all []*link
	for _, l := range f.out {
		all = append(all, l)
	}
	for l := range f.in {
		all = append(all, l)
	}
	return all
}

// isLocal says whether domain is served here.
func (f *Federation) isLocal(domain string) bool {
	return domain == f.cfg.Domain || slices.Contains(f.cfg.Hosts(), domain)
}

// Route hands st to the link from its sender's domain to its recipient's,
// setting one up if there is none; stanzas wait while it is set up. An
// error means st was not taken (the router bounces it); a link that fails
// later bounces what waited for it itself.
func (f *Federation) Route(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	local, remote := st.From.Domain, st.To.Domain
	policy := f.policy.Load()
	if err := policy.check(remote); err != nil {
		if !policy.Enabled {
			return stanza.NewError(stanza.Cancel, stanza.RemoteServerNotFound, "this server does not federate with other servers (federation is off)")
		}
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed, err.Error())
	}
	if !f.isLocal(local) {
		// Only our own users' stanzas leave: never a relay.
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "only stanzas from this server's own domains go to other servers")
	}
	if f.ctx.Err() != nil {
		return stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, "the server is stopping")
	}
	p := pair{local, remote}
	for try := 0; ; try++ {
		l, serr := f.linkFor(p)
		if serr != nil {
			return serr
		}
		if l.enqueue(ctx, st) {
			return nil
		}
		if ctx.Err() != nil {
			return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "the link to "+remote+" is too busy")
		}
		if try == 1 {
			return stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, "the link to "+remote+" ended before this could be sent")
		}
	}
}

// linkFor returns the link that carries stanzas for p: a bidirectional
// one the peer opened, the outbound one, or a new outbound one being set
// up.
func (f *Federation) linkFor(p pair) (*link, *stanza.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, stanza.NewError(stanza.Wait, stanza.RemoteServerTimeout, "the server is stopping")
	}
	if l := f.bidi[p]; l != nil && !l.isEnded() {
		return l, nil
	}
	if l := f.out[p]; l != nil {
		return l, nil
	}
	if fl, ok := f.failures[p.remote]; ok && time.Now().Before(fl.until) {
		return nil, fl.err
	}
	if len(f.out) >= f.cfg.MaxLinks {
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "this server has as many links to other servers as it allows")
	}
	l := newLink(f, dirOut, p.local, p.remote)
	f.out[p] = l
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		l.runOut()
	}()
	return l, nil
}

// failed records that remote could not be reached: stanzas for it bounce
// at once for a while, twice as long after each failure in a row.
func (f *Federation) failed(remote string, e *stanza.Error, why error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for d, old := range f.failures {
		if now.Sub(old.until) > time.Hour {
			delete(f.failures, d) // long over: forgotten
		}
	}
	fl := f.failures[remote]
	fl.n++
	wait := time.Second << min(fl.n-1, 8)
	fl.err, fl.why, fl.until = e, why.Error(), time.Now().Add(min(wait, 5*time.Minute))
	f.failures[remote] = fl
}

// succeeded forgets remote's failures.
func (f *Federation) succeeded(remote string) {
	f.mu.Lock()
	delete(f.failures, remote)
	f.mu.Unlock()
}

// remove forgets a link that ended.
func (f *Federation) remove(l *link) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.dir == dirOut {
		if f.out[l.pair()] == l {
			delete(f.out, l.pair())
		}
		return
	}
	if _, ok := f.in[l]; ok && l.addrKey != "" {
		if f.inByAddr[l.addrKey]--; f.inByAddr[l.addrKey] <= 0 {
			delete(f.inByAddr, l.addrKey)
		}
	}
	delete(f.in, l)
	f.authenticatedLocked(l)
	for p, b := range f.bidi {
		if b == l {
			delete(f.bidi, p)
		}
	}
}

// LinkInfo is what the admin sees of a link.
type LinkInfo struct {
	Local, Remote string
	Direction     string // "out" or "in"; "both" for a bidirectional link (XEP-0288)
	Auth          string // "certificate" (SASL EXTERNAL) or "dialback"; "" while setting up
	TLS           string // "TLS 1.3"
	Certificate   string // "" if the peer's certificate is valid for its domain, else why not
	Since         time.Time
	In, Out       uint64 // stanzas
	Error         string // the last error, if any
}

// Links lists the links, and domains recently not reached as links with
// an error.
func (f *Federation) Links() []LinkInfo {
	f.mu.Lock()
	all := f.allLocked()
	var out []LinkInfo
	for remote, fl := range f.failures {
		out = append(out, LinkInfo{Remote: remote, Local: f.cfg.Domain, Direction: "out", Error: fl.why})
	}
	f.mu.Unlock()
	for _, l := range all {
		out = append(out, l.info())
	}
	slices.SortFunc(out, func(a, b LinkInfo) int {
		return strings.Compare(a.Remote+" "+a.Direction, b.Remote+" "+b.Direction)
	})
	return out
}

// asciiDomain is domain in lowercase A-labels without a final dot, as DNS
// and certificates write it; a name IDNA refuses stays as it is, lowercased.
func asciiDomain(domain string) string {
	if a, err := toASCII(domain); err == nil {
		return a
	}
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}
