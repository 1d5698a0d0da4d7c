package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hearth/internal/lanaddr"
	"hearth/server/admin"
	"hearth/server/internal/mod/extdisco"
	"hearth/server/internal/turn"
	"hearth/server/settings"
)

// TURN configures the STUN/TURN service for calls (settings turn.*). The
// zero value is no service: tests and programs that want one say so.
type TURN struct {
	// On runs the service (turn.enabled).
	On bool
	// Addr is where STUN and TURN are answered, UDP and TCP on the same
	// port (":3478"; port 0: a free one, UDP's taken for TCP when it can
	// be). TLSAddr is TURN over TLS (":5349"; "": none).
	Addr, TLSAddr string
	// RelayMin and RelayMax are the relay ports (turn.relay_min,
	// turn.relay_max).
	RelayMin, RelayMax int
	// RelayIP is the address relays are announced on; nil: found. In LAN
	// mode it is this machine's LAN address; in public mode (Public) it
	// is PublicAddress (turn.public_address), or the address the domain
	// points to, and relays listen on every address behind it.
	RelayIP       net.IP
	Public        bool
	PublicAddress string
	// Lifetime is how long credentials handed out are valid
	// (turn.credential_lifetime, live).
	Lifetime time.Duration
	// PerUser and Total bound the relays held at once
	// (turn.user_allocations, turn.allocations).
	PerUser, Total int
}

// set reads the turn.* settings; the listening addresses take every
// interface.
func (t *TURN) set(v settings.Values) {
	t.On = v.Bool(settings.KeyTURN)
	t.Addr = ":" + strconv.Itoa(v.Int(settings.KeyTURNPort))
	t.TLSAddr = ""
	if p := v.Int(settings.KeyTURNTLSPort); p > 0 {
		t.TLSAddr = ":" + strconv.Itoa(p)
	}
	t.RelayMin, t.RelayMax = v.Int(settings.KeyTURNRelayMin), v.Int(settings.KeyTURNRelayMax)
	t.PublicAddress = v.String(settings.KeyTURNPublic)
	t.Lifetime = v.Duration(settings.KeyTURNLifetime)
	t.PerUser, t.Total = v.Int(settings.KeyTURNUserAllocs), v.Int(settings.KeyTURNAllocations)
}

// calls is the server's STUN/TURN service: started with the listeners in
// Serve, stopped after them, and XEP-0215's source of services
// (extdisco.Services).
type calls struct {
	cfg      TURN
	domain   string
	dataDir  string
	lan      func() admin.LANStatus
	tls      func() *tls.Config
	log      *slog.Logger
	lifetime atomic.Int64

	srv atomic.Pointer[turn.Server]
	// started is closed once start has finished (Serve's goroutine or
	// its own).
	started chan struct{}

	mu      sync.Mutex
	secret  []byte
	host    string // what clients are told to reach for stun and turn
	udpPort int
	tcpPort int
	tlsPort int
	reason  string // why the service does not run
}

func newCalls(cfg Config, log *slog.Logger) *calls {
	c := &calls{cfg: cfg.TURN, domain: cfg.Domain, dataDir: cfg.DataDir, lan: cfg.LAN, tls: cfg.TLS, log: log}
	c.setLifetime(cfg.TURN.Lifetime)
	c.reason = "starting"
	if !c.cfg.On {
		c.reason = "turned off (turn.enabled)"
	}
	return c
}

func (c *calls) setLifetime(d time.Duration) {
	if d <= 0 {
		d = turn.DefaultLifetime
	}
	c.lifetime.Store(int64(d))
}

// start opens the sockets and starts the TURN server, in the background
// when the public address must be looked up in the DNS (a slow resolver
// does not hold the XMPP listeners back); stop waits for it. A service
// that cannot start is reported and left off: chat goes on without it.
func (c *calls) start(ctx context.Context) {
	c.started = make(chan struct{})
	if !c.cfg.On {
		close(c.started)
		return
	}
	if c.cfg.RelayIP == nil && c.cfg.Public && net.ParseIP(c.publicName()) == nil {
		go func() {
			defer close(c.started)
			c.run(ctx)
		}()
		return
	}
	defer close(c.started)
	c.run(ctx)
}

// publicName is the address or name relays are announced on in public
// mode.
func (c *calls) publicName() string {
	if c.cfg.PublicAddress != "" {
		return c.cfg.PublicAddress
	}
	return c.domain
}

func (c *calls) run(ctx context.Context) {
	if err := c.open(ctx); err != nil {
		c.mu.Lock()
		c.reason = err.Error()
		c.mu.Unlock()
		c.log.Error("calls: the STUN/TURN server is not running; calls between different networks may not get through", "err", err)
		return
	}
	st := c.srv.Load().Status()
	c.log.Info("calls: STUN/TURN server running", "listening", st.Listening, "relay", st.RelayIP,
		"relay_ports", fmt.Sprintf("%d-%d", st.RelayMin, st.RelayMax))
}

func (c *calls) open(ctx context.Context) (err error) {
	secret, err := c.loadSecret()
	if err != nil {
		return err
	}
	relayIP, bind, host := c.relayAddress(ctx)
	var ls turn.Listeners
	var opened []io.Closer
	defer func() {
		if err != nil {
			for _, o := range opened {
				o.Close()
			}
		}
	}()
	udp, err := net.ListenPacket("udp", c.cfg.Addr)
	if err != nil {
		return fmt.Errorf("STUN/TURN cannot listen on UDP %s (%w); free the port or choose another with turn.port", c.cfg.Addr, err)
	}
	ls.UDP = udp
	opened = append(opened, udp)
	uport := udp.LocalAddr().(*net.UDPAddr).Port
	h, p, _ := net.SplitHostPort(c.cfg.Addr)
	tcp, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(uport)))
	if err != nil && p == "0" {
		// Any free port was asked for: UDP's was taken for TCP.
		tcp, err = net.Listen("tcp", net.JoinHostPort(h, "0"))
	}
	if err != nil {
		return fmt.Errorf("STUN/TURN cannot listen on TCP port %d (%w); free the port or choose another with turn.port", uport, err)
	}
	ls.TCP = tcp
	opened = append(opened, tcp)
	if c.cfg.TLSAddr != "" && c.tls != nil {
		// Without TLS, STUN and TURN over UDP and TCP still serve.
		if tl, err := net.Listen("tcp", c.cfg.TLSAddr); err != nil {
			c.log.Warn("calls: TURN over TLS cannot listen; free the port, choose another with turn.tls_port, or set it to 0", "addr", c.cfg.TLSAddr, "err", err)
		} else {
			ls.TLS, ls.TLSConfig = tl, c.tls
			opened = append(opened, tl)
		}
	}
	srv, err := turn.Start(turn.Config{Realm: c.domain, Secret: secret, RelayIP: relayIP, RelayBind: bind,
		RelayMin: c.cfg.RelayMin, RelayMax: c.cfg.RelayMax, PerUser: c.cfg.PerUser, Total: c.cfg.Total, Log: c.log}, ls)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.secret, c.host, c.udpPort = secret, host, uport
	c.tcpPort = tcp.Addr().(*net.TCPAddr).Port
	if ls.TLS != nil {
		c.tlsPort = ls.TLS.Addr().(*net.TCPAddr).Port
	}
	c.reason = ""
	c.mu.Unlock()
	c.srv.Store(srv)
	return nil
}

// loadSecret is the credential key: kept in the data directory, or, with
// none, made for this process.
func (c *calls) loadSecret() ([]byte, error) {
	if c.dataDir == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		return k, nil
	}
	return turn.LoadSecret(c.dataDir)
}

// relayAddress finds the address relays are announced on, the one they
// listen on, and the host clients are told for STUN and TURN.
func (c *calls) relayAddress(ctx context.Context) (ip net.IP, bind, host string) {
	if c.cfg.RelayIP != nil {
		return c.cfg.RelayIP, c.cfg.RelayIP.String(), c.cfg.RelayIP.String()
	}
	if c.cfg.Public {
		name := c.publicName()
		if ip := net.ParseIP(name); ip != nil {
			return ip, "0.0.0.0", name
		}
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip4", name)
		if err == nil && len(ips) > 0 {
			return ips[0], "0.0.0.0", name
		}
		c.log.Warn("calls: the public address was not found; relays are announced on the LAN address, so calls from outside the home may not get through: set turn.public_address", "name", name, "err", err)
	}
	// Listening on one address (--turn 192.168.1.20:3478): relays there
	// too, the one address clients can reach.
	if h, _, err := net.SplitHostPort(c.cfg.Addr); err == nil {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			return ip, h, h
		}
	}
	ip = lanAddress(c.lan)
	return ip, ip.String(), ip.String()
}

// lanAddress is this machine's LAN address: the one the default route
// leaves from (lanaddr.Machine, which passes over container bridges),
// else the first IPv4 address the LAN announcement uses, else loopback.
// The announcement's list is sorted, so its first may be a bridge's.
func lanAddress(lan func() admin.LANStatus) net.IP {
	if ip := lanaddr.Machine(); !ip.IsLoopback() {
		return ip
	}
	if lan != nil {
		for _, a := range lan().Addresses {
			if ip := net.ParseIP(a); ip != nil && ip.To4() != nil && !ip.IsLoopback() {
				return ip
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}

// stop ends every relay and closes the sockets, once start is done.
func (c *calls) stop() {
	if c.started != nil {
		<-c.started
	}
	if srv := c.srv.Swap(nil); srv != nil {
		if err := srv.Close(); err != nil {
			c.log.Warn("calls: the STUN/TURN server did not close cleanly", "err", err)
		}
		c.mu.Lock()
		c.reason = "the server stopped"
		c.mu.Unlock()
	}
}

// Running implements extdisco.Services.
func (c *calls) Running() bool { return c.srv.Load() != nil }

// For implements extdisco.Services: STUN, TURN over UDP and TCP, and TURN
// over TLS (named by the domain, which its certificate is for), with
// credentials for bareJID valid for the configured lifetime.
func (c *calls) For(bareJID string) []extdisco.Service {
	if c.srv.Load() == nil {
		return nil
	}
	c.mu.Lock()
	secret, host, udp, tcp, tlsPort := c.secret, c.host, c.udpPort, c.tcpPort, c.tlsPort
	c.mu.Unlock()
	cr := turn.NewCredentials(secret, bareJID, time.Now().Add(time.Duration(c.lifetime.Load())))
	restricted := func(typ, host string, port int, transport string) extdisco.Service {
		return extdisco.Service{Type: typ, Host: host, Port: port, Transport: transport, Restricted: true,
			Username: cr.Username, Password: cr.Password, Expires: cr.Expires}
	}
	out := []extdisco.Service{
		{Type: "stun", Host: host, Port: udp, Transport: "udp"},
		restricted("turn", host, udp, "udp"),
		restricted("turn", host, tcp, "tcp"),
	}
	if tlsPort != 0 {
		out = append(out, restricted("turns", c.domain, tlsPort, "tcp"))
	}
	return out
}

// status is the admin's view.
func (c *calls) status() admin.TURNStatus {
	st := admin.TURNStatus{Enabled: c.cfg.On}
	srv := c.srv.Load()
	if srv == nil {
		c.mu.Lock()
		st.Reason = c.reason
		c.mu.Unlock()
		return st
	}
	t := srv.Status()
	st.Running = true
	st.Listening = t.Listening
	st.RelayAddress = t.RelayIP
	st.RelayMin, st.RelayMax = t.RelayMin, t.RelayMax
	st.Allocations, st.MaxAllocations, st.PerUser = t.Allocations, t.MaxAllocations, t.PerUser
	st.BytesRelayed, st.PacketsRelayed = t.BytesRelayed, t.PacketsRelayed
	st.RefusedAuth, st.RefusedQuota = t.RefusedAuth, t.RefusedQuota
	return st
}
