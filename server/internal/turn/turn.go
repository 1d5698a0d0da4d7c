// Package turn runs Hearth's STUN and TURN server (RFC 8489, RFC 8656,
// TURN over TCP and TLS as RFC 8656 3.1 allows) on github.com/pion/turn,
// so that calls between devices behind NAT get through: a device that
// cannot reach its peer directly relays its media through the server.
//
// Credentials are the TURN REST API's, short-lived and stateless
// (creds.go); XEP-0215 hands them out (mod/extdisco). Allocations are
// bounded per user and in all, relay ports come from a narrow range, and
// a relay never reaches the server's own loopback or unspecified
// addresses (unless the relay itself is on the loopback, as in tests).
package turn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v4"
)

// Defaults of the settings (turn.*).
const (
	DefaultPort     = 3478
	DefaultTLSPort  = 5349
	DefaultRelayMin = 49152
	DefaultRelayMax = 49252
	DefaultPerUser  = 10
	DefaultTotal    = 100
	DefaultLifetime = 24 * time.Hour
	defaultStopWait = 2 * time.Second
)

// Config configures a Server.
type Config struct {
	// Realm is the STUN realm: the XMPP domain.
	Realm string
	// Secret is the credential key (LoadSecret).
	Secret []byte
	// RelayIP is the address relays are announced on (XOR-RELAYED-ADDRESS):
	// the LAN address in LAN mode, the public one in public mode.
	RelayIP net.IP
	// RelayBind is the local address relay sockets are opened on: RelayIP
	// when it is the machine's own, "0.0.0.0" behind a NAT that forwards
	// the range.
	RelayBind string
	// RelayMin and RelayMax are the relay ports (both included).
	RelayMin, RelayMax int
	// PerUser and Total bound the allocations of one account and of all.
	PerUser, Total int
	// Now is the clock credentials are checked against (nil: time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Listeners are the sockets the server answers on; nil ones are not used.
type Listeners struct {
	UDP net.PacketConn
	TCP net.Listener
	// TLS is a TCP listener the server wraps in TLS with TLSConfig.
	TLS       net.Listener
	TLSConfig func() *tls.Config
}

// Server is a running STUN/TURN server.
type Server struct {
	cfg   Config
	pion  *pionturn.Server
	addrs []string

	relayed  atomic.Int64 // bytes through relay sockets, both ways
	packets  atomic.Int64 // datagrams through relay sockets, both ways
	refused  atomic.Int64 // authentications refused
	overQuot atomic.Int64 // allocations refused for a quota

	mu      sync.Mutex
	perUser map[string]int
	total   int
	// pending are allocations the quota let through and pion has not
	// made yet, by client address: they count against the quotas, so that
	// requests on several connections at once cannot pass together.
	pending map[string]reservation
	relays  int       // relay sockets open
	closed  chan bool // signalled as relay sockets close
	stopped bool
}

// Status is how the server stands.
type Status struct {
	Listening               []string // "udp 0.0.0.0:3478", "tcp ...", "tls ..."
	RelayIP                 string
	RelayMin                int
	RelayMax                int
	Allocations             int
	BytesRelayed            int64
	PacketsRelayed          int64
	RefusedAuth             int64
	RefusedQuota            int64
	PerUser, MaxAllocations int
}

// Start serves the listeners until Close.
func Start(cfg Config, ls Listeners) (*Server, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("calls: no TURN secret")
	}
	if cfg.RelayIP == nil {
		return nil, errors.New("calls: no relay address")
	}
	if cfg.RelayMin <= 0 || cfg.RelayMax < cfg.RelayMin || cfg.RelayMax > 65535 {
		return nil, fmt.Errorf("calls: the relay port range %d-%d is not a range of ports; set turn.relay_min and turn.relay_max", cfg.RelayMin, cfg.RelayMax)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RelayBind == "" {
		cfg.RelayBind = cfg.RelayIP.String()
	}
	if cfg.PerUser <= 0 {
		cfg.PerUser = DefaultPerUser
	}
	if cfg.Total <= 0 {
		cfg.Total = DefaultTotal
	}
	s := &Server{cfg: cfg, perUser: map[string]int{}, pending: map[string]reservation{}, closed: make(chan bool, 1)}
	gen := &relays{
		RelayAddressGeneratorPortRange: &pionturn.RelayAddressGeneratorPortRange{
			RelayAddress: cfg.RelayIP,
			Address:      cfg.RelayBind,
			MinPort:      uint16(cfg.RelayMin),
			MaxPort:      uint16(cfg.RelayMax),
			MaxRetries:   cfg.RelayMax - cfg.RelayMin + 1,
		},
		s: s,
	}
	pc := pionturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.auth,
		QuotaHandler:  s.quota,
		LoggerFactory: logFactory{cfg.Log},
		EventHandler: pionturn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onCreated,
			OnAllocationDeleted: s.onDeleted,
		},
	}
	perm := s.permitted
	if ls.UDP != nil {
		pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{PacketConn: ls.UDP, RelayAddressGenerator: gen, PermissionHandler: perm})
		s.addrs = append(s.addrs, "udp "+ls.UDP.LocalAddr().String())
	}
	if ls.TCP != nil {
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{Listener: trackConns(ls.TCP), RelayAddressGenerator: gen, PermissionHandler: perm})
		s.addrs = append(s.addrs, "tcp "+ls.TCP.Addr().String())
	}
	if ls.TLS != nil && ls.TLSConfig != nil {
		tl := tls.NewListener(ls.TLS, &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			// The certificate of the moment (certs reloads it), without
			// the ALPN protocols of other listeners (certmagic's
			// acme-tls/1): a client offering "stun.turn" (RFC 7443) and
			// finding no protocol in common would be refused.
			c := ls.TLSConfig().Clone()
			c.NextProtos = nil
			return c, nil
		}})
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{Listener: trackConns(tl), RelayAddressGenerator: gen, PermissionHandler: perm})
		s.addrs = append(s.addrs, "tls "+ls.TLS.Addr().String())
	}
	p, err := pionturn.NewServer(pc)
	if err != nil {
		return nil, fmt.Errorf("calls: start the TURN server: %w", err)
	}
	s.pion = p
	return s, nil
}

// Close stops answering, ends every allocation and waits (a moment at
// most) until their relay sockets are closed.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	err := s.pion.Close()
	deadline := time.After(defaultStopWait)
	for {
		s.mu.Lock()
		n := s.relays
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-s.closed:
		case <-deadline:
			s.cfg.Log.Warn("calls: relays still open when the TURN server stopped", "relays", n)
			return err
		}
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Status says how the server stands now.
func (s *Server) Status() Status {
	s.mu.Lock()
	n := s.total
	s.mu.Unlock()
	return Status{
		Listening:      slices.Clone(s.addrs),
		RelayIP:        s.cfg.RelayIP.String(),
		RelayMin:       s.cfg.RelayMin,
		RelayMax:       s.cfg.RelayMax,
		Allocations:    n,
		BytesRelayed:   s.relayed.Load(),
		PacketsRelayed: s.packets.Load(),
		RefusedAuth:    s.refused.Load(),
		RefusedQuota:   s.overQuot.Load(),
		PerUser:        s.cfg.PerUser,
		MaxAllocations: s.cfg.Total,
	}
}

// RelayIP is the address relays are announced on.
func (s *Server) RelayIP() net.IP { return s.cfg.RelayIP }

// auth is pion's AuthHandler: the key of a user name made by
// NewCredentials that has not expired. A forged password passes here
// (the key is of the name) and fails pion's MESSAGE-INTEGRITY check,
// which onAuth counts.
func (s *Server) auth(username, realm string, src net.Addr) ([]byte, bool) {
	exp, _, ok := ParseUsername(username)
	if !ok {
		s.refuse("a user name Hearth did not make", src)
		return nil, false
	}
	if !s.cfg.Now().Before(exp) {
		s.refuse("expired credentials", src)
		return nil, false
	}
	return pionturn.GenerateAuthKey(username, realm, password(s.cfg.Secret, username)), true
}

func (s *Server) refuse(why string, src net.Addr) {
	s.refused.Add(1)
	s.cfg.Log.Debug("calls: TURN request refused", "why", why, "from", src.String())
}

func (s *Server) onAuth(src, _ net.Addr, _, _, _, _ string, verdict bool) {
	if !verdict {
		s.refuse("wrong password", src)
	}
}

// quota is pion's QuotaHandler (RFC 8656 7.2: 486 Allocation Quota
// Reached).
func (s *Server) quota(username, _ string, src net.Addr) bool {
	_, user, _ := ParseUsername(username)
	now := s.cfg.Now()
	s.mu.Lock()
	// A reservation whose allocation failed (no relay port free) is
	// given up after a moment, or at the client's next request.
	delete(s.pending, src.String())
	mine := s.perUser[user]
	for a, r := range s.pending {
		if now.Sub(r.at) > reservationLife {
			delete(s.pending, a)
		} else if r.user == user {
			mine++
		}
	}
	ok := s.total+len(s.pending) < s.cfg.Total && mine < s.cfg.PerUser
	if ok {
		s.pending[src.String()] = reservation{user: user, at: now}
	}
	s.mu.Unlock()
	if !ok {
		s.overQuot.Add(1)
		s.cfg.Log.Info("calls: a relay was refused: too many at once", "user", user, "from", src.String())
	}
	return ok
}

// reservation is an allocation the quota let through, not made yet.
type reservation struct {
	user string
	at   time.Time
}

// reservationLife is how long a reservation counts without its
// allocation.
const reservationLife = 5 * time.Second

func (s *Server) onCreated(src, _ net.Addr, _, username, _ string, _ net.Addr, _ int) {
	_, user, _ := ParseUsername(username)
	s.mu.Lock()
	delete(s.pending, src.String())
	s.perUser[user]++
	s.total++
	s.mu.Unlock()
}

func (s *Server) onDeleted(_, _ net.Addr, _, username, _ string) {
	_, user, _ := ParseUsername(username)
	s.mu.Lock()
	if s.perUser[user] > 0 {
		s.perUser[user]--
		if s.perUser[user] == 0 {
			delete(s.perUser, user)
		}
		s.total--
	}
	s.mu.Unlock()
}

// permitted says whether a relay may send to peer (RFC 8656 9: the
// server's policy on permissions). A relay is not a way into the
// server's own loopback services, nor to addresses no peer has.
func (s *Server) permitted(_ net.Addr, peer net.IP) bool {
	if peer.IsUnspecified() || peer.IsMulticast() {
		return false
	}
	if peer.IsLoopback() {
		return s.cfg.RelayIP.IsLoopback()
	}
	return true
}
