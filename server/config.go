package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"hearth/server/admin"
	"hearth/server/internal/c2s"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/offline"
	"hearth/server/internal/mod/upload"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stream"
	"hearth/server/settings"
)

// Config describes one server. The zero value (plus a domain, TLS and a
// database) is a working LAN server: withDefaults fills in the rest, from
// the defaults of the parts that use each value.
type Config struct {
	Domain  string
	DataDir string
	Version string
	TLS     func() *tls.Config
	// Certificates reports how the certificates stand; may be nil.
	Certificates func() admin.Certificates
	Log          *slog.Logger
	// LogRing keeps recent log records for the admin window; nil: none.
	LogRing *admin.LogRing

	// LAN reports the addresses and the mDNS announcement, which the
	// command owns; may be nil.
	LAN func() admin.LANStatus

	// Limits on what a client may send (stream.Default*); the setting
	// limits.stanza_bytes changes MaxStanza live.
	Limits stream.Limits
	// AuthTimeout closes unauthenticated streams (c2s.DefaultAuthTimeout).
	AuthTimeout time.Duration
	// IdleTimeout: a silent client is pinged after this, and closed
	// after as long again (c2s.DefaultIdleTimeout; setting
	// c2s.idle_timeout, live).
	IdleTimeout time.Duration
	// ResumeTimeout: how long a session whose connection was lost waits
	// for its client to resume it (c2s.DefaultResumeTimeout; setting
	// sm.resume_timeout, live).
	ResumeTimeout time.Duration
	// PushContent is what push notifications tell a device's push
	// service (push.ContentCount, the default; setting push.content, live).
	PushContent string
	// TokenLifetime is how long a FAST token (XEP-0484) lets a device log
	// in without its password (c2s.DefaultTokenLifetime; setting
	// fast.token_lifetime, live, for tokens issued from then on).
	TokenLifetime time.Duration
	// OfflineMax is the offline quota per account (offline.DefaultMax;
	// setting limits.offline_messages, live).
	OfflineMax int
	// QueueLimit and QueueBytes bound what may wait for a slow client
	// (c2s.DefaultQueueLimit, c2s.DefaultQueueBytes); WriteTimeout is how
	// long one write to a client may block before it is cut off
	// (c2s.DefaultWriteTimeout). What a client did not take goes to
	// offline storage.
	QueueLimit   int
	QueueBytes   int
	WriteTimeout time.Duration
	// AuthFailures is how many failed authentications an address or an
	// account may have in an hour before it is slowed down
	// (c2s.DefaultAuthFailures).
	AuthFailures int
	// Conns bounds connections per address and those still logging in
	// (c2s.Default*Conns*; settings limits.connections_per_address,
	// limits.unauthenticated_per_address, limits.unauthenticated, live).
	Conns c2s.ConnLimits
	// Quotas are what one account may keep (quota.Default*; settings
	// limits.roster_items and the others, live).
	Quotas Quotas

	// ArchiveOff: nothing new goes into the message archives (setting
	// mam.enabled, live). ArchiveRetention: how long archived messages
	// are kept (0: mam.DefaultRetention; negative: forever; setting
	// mam.retention, live).
	ArchiveOff       bool
	ArchiveRetention time.Duration

	// Federation is how other servers are found and trusted; whether the
	// server federates, and with whom, are settings (federation.enabled,
	// federation.allow, federation.block).
	Federation Federation

	// LinkLocal is chat with people on the LAN (XEP-0174); with no Host
	// it is not offered (the command sets it unless --no-mdns).
	LinkLocal LinkLocal

	// PublicURL is the address clients are given for the HTTPS listener
	// ("": https://<domain>:<port>; setting http.public_url, live).
	PublicURL string
	// CAPage is the LAN page where devices trust the home CA ("" for
	// none): invitation pages send phones there first.
	CAPage string
	// Upload limits file sharing (XEP-0363; settings upload.*, live).
	Upload upload.Limits
	// TURN is the STUN/TURN service for calls (turn.go); off in the
	// zero value.
	TURN TURN

	// Modules build more modules from the router, registered after the
	// server's own, in order; each may implement any part of the module
	// contract (see New). Tests observe and extend the server with them.
	Modules []func(*router.Router) any
}

// LinkLocal configures chat on the LAN without accounts (XEP-0174).
type LinkLocal struct {
	// Host is the single-label mDNS host name accounts are announced on
	// (user@Host); "" leaves the LAN host out.
	Host string
	// Addr is where peers' streams are accepted; "" means port 5298, or
	// any free port when it is taken.
	Addr string
	// Ifaces are the interfaces to work on; nil means every one that is
	// up, multicast-capable and not the loopback.
	Ifaces []net.Interface
	// Off is the setting linklocal.enabled, false (live).
	Off bool
}

// Quotas are what one account may keep.
type Quotas struct {
	RosterItems  int // contacts
	Resources    int // sessions bound at once
	PrivateBytes int // private XML storage (XEP-0049)
	VCardBytes   int // its vCard (XEP-0054)
	BlockItems   int // block list entries (XEP-0191)
	PEPBytes     int // payloads of published items (XEP-0163)
	PEPNodes     int // personal eventing nodes (XEP-0163)

	// The publish-subscribe service (pubsub.<domain>).
	PubsubNodes       int // nodes one account may create
	PubsubItems       int // items one node may keep
	PubsubPayload     int // bytes of one item's payload
	PubsubSubscribers int // subscriptions one node may have
}

// quotaKeys maps each quota's setting to its place in quota.Limits.
var quotaKeys = map[string]func(*quota.Limits) *atomic.Int64{
	settings.KeyRosterItems:  func(l *quota.Limits) *atomic.Int64 { return &l.RosterItems },
	settings.KeyResources:    func(l *quota.Limits) *atomic.Int64 { return &l.Resources },
	settings.KeyPrivateBytes: func(l *quota.Limits) *atomic.Int64 { return &l.PrivateBytes },
	settings.KeyVCardBytes:   func(l *quota.Limits) *atomic.Int64 { return &l.VCardBytes },
	settings.KeyBlockItems:   func(l *quota.Limits) *atomic.Int64 { return &l.BlockItems },
	settings.KeyPEPBytes:     func(l *quota.Limits) *atomic.Int64 { return &l.PEPBytes },
	settings.KeyPEPNodes:     func(l *quota.Limits) *atomic.Int64 { return &l.PEPNodes },

	settings.KeyPubsubNodes:       func(l *quota.Limits) *atomic.Int64 { return &l.PubsubNodes },
	settings.KeyPubsubItems:       func(l *quota.Limits) *atomic.Int64 { return &l.PubsubItems },
	settings.KeyPubsubPayload:     func(l *quota.Limits) *atomic.Int64 { return &l.PubsubPayload },
	settings.KeyPubsubSubscribers: func(l *quota.Limits) *atomic.Int64 { return &l.PubsubSubscribers },
}

// limits returns q as the modules' shared quota.Limits; zero values keep
// the defaults.
func (q Quotas) limits() *quota.Limits {
	l := quota.New()
	set := func(f *atomic.Int64, v int) {
		if v > 0 {
			f.Store(int64(v))
		}
	}
	set(&l.RosterItems, q.RosterItems)
	set(&l.Resources, q.Resources)
	set(&l.PrivateBytes, q.PrivateBytes)
	set(&l.VCardBytes, q.VCardBytes)
	set(&l.BlockItems, q.BlockItems)
	set(&l.PEPBytes, q.PEPBytes)
	set(&l.PEPNodes, q.PEPNodes)
	set(&l.PubsubNodes, q.PubsubNodes)
	set(&l.PubsubItems, q.PubsubItems)
	set(&l.PubsubPayload, q.PubsubPayload)
	set(&l.PubsubSubscribers, q.PubsubSubscribers)
	return l
}

// Set takes the values of the settings that configure the server.
func (c *Config) Set(v settings.Values) {
	c.Limits.MaxStanza = v.Int(settings.KeyStanzaBytes)
	c.OfflineMax = v.Int(settings.KeyOfflineMessages)
	c.IdleTimeout = v.Duration(settings.KeyIdleTimeout)
	c.ResumeTimeout = v.Duration(settings.KeyResumeTimeout)
	c.PushContent = v.String(settings.KeyPushContent)
	c.TokenLifetime = v.Duration(settings.KeyTokenLifetime)
	c.Conns = connLimits(v)
	c.Quotas = Quotas{
		RosterItems:  v.Int(settings.KeyRosterItems),
		Resources:    v.Int(settings.KeyResources),
		PrivateBytes: v.Int(settings.KeyPrivateBytes),
		VCardBytes:   v.Int(settings.KeyVCardBytes),
		BlockItems:   v.Int(settings.KeyBlockItems),
		PEPBytes:     v.Int(settings.KeyPEPBytes),
		PEPNodes:     v.Int(settings.KeyPEPNodes),

		PubsubNodes:       v.Int(settings.KeyPubsubNodes),
		PubsubItems:       v.Int(settings.KeyPubsubItems),
		PubsubPayload:     v.Int(settings.KeyPubsubPayload),
		PubsubSubscribers: v.Int(settings.KeyPubsubSubscribers),
	}
	c.ArchiveOff = !v.Bool(settings.KeyMAM)
	c.LinkLocal.Off = !v.Bool(settings.KeyLinkLocal)
	c.ArchiveRetention = retention(v)
	c.PublicURL = v.String(settings.KeyPublicURL)
	c.Upload = uploadLimits(v)
	c.TURN.set(v)
}

// uploadLimits reads the upload settings; 0 (no limit) is negative in
// upload.Limits, where 0 is the default.
func uploadLimits(v settings.Values) upload.Limits {
	none := func(n int) int64 {
		if n == 0 {
			return -1
		}
		return int64(n)
	}
	return upload.Limits{
		MaxFileBytes: int64(v.Int(settings.KeyUploadMaxFile)),
		QuotaBytes:   none(v.Int(settings.KeyUploadQuota)),
		DailyBytes:   none(v.Int(settings.KeyUploadDaily)),
		Expiry:       v.Duration(settings.KeyUploadExpiry),
	}
}

// retention reads mam.retention as Config.ArchiveRetention: 0 is forever.
func retention(v settings.Values) time.Duration {
	if d := v.Duration(settings.KeyMAMRetention); d > 0 {
		return d
	}
	return -1
}

// withDefaults returns c with every zero value set to its default: the one
// place a server's configuration is completed. The values themselves are
// each written down once, in the package whose behaviour they set.
func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.Limits = c.Limits.WithDefaults()
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = c2s.DefaultAuthTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = c2s.DefaultIdleTimeout
	}
	if c.ResumeTimeout <= 0 {
		c.ResumeTimeout = c2s.DefaultResumeTimeout
	}
	if c.OfflineMax <= 0 {
		c.OfflineMax = offline.DefaultMax
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = c2s.DefaultQueueLimit
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = c2s.DefaultQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = c2s.DefaultWriteTimeout
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = c2s.DefaultAuthFailures
	}
	return c
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, err := jid.Parse(c.Domain); err != nil || c.Domain == "" {
		errs = append(errs, fmt.Errorf("invalid domain %q", c.Domain))
	}
	if c.TLS == nil {
		errs = append(errs, errors.New("no TLS configuration"))
	}
	if c.Limits.MaxStanza < 0 || c.Limits.MaxDepth < 0 {
		errs = append(errs, errors.New("negative limits"))
	}
	return errors.Join(errs...)
}

// connLimits reads the connection limits from the settings.
func connLimits(v settings.Values) c2s.ConnLimits {
	return c2s.ConnLimits{
		PerAddress:       v.Int(settings.KeyConnsPerAddress),
		UnauthPerAddress: v.Int(settings.KeyUnauthPerAddr),
		Unauth:           v.Int(settings.KeyUnauth),
	}
}
