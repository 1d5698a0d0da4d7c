// Package settings is the one registry of Hearth's settings: each key with
// its type, its default and whether it applies to a running server at
// once. The values live in SQLite; `hearth config`, the GUI and the admin
// API read and change them through server/admin, which checks them here;
// the server and the command's LAN announcement apply the live ones when
// they change.
package settings

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"hearth/server/internal/c2s"
	"hearth/server/internal/component"
	"hearth/server/internal/jid"
	"hearth/server/internal/mod/mam"
	"hearth/server/internal/mod/muc"
	"hearth/server/internal/mod/offline"
	"hearth/server/internal/mod/push"
	"hearth/server/internal/mod/upload"
	"hearth/server/internal/quota"
	"hearth/server/internal/stream"
	"hearth/server/internal/turn"
	"hearth/server/internal/web"
)

// Kind is the type of a setting's value.
type Kind uint8

// Kinds.
const (
	String   Kind = iota
	Bool          // "true" or "false" (on/off, yes/no, 1/0 are taken too)
	Int           // decimal, at least Spec.Min
	Duration      // time.ParseDuration, above zero
	Enum          // one of Spec.Enum
	Domain        // a domain JID (RFC 7622 3.2)
	URIs          // space-separated URIs with a scheme (XEP-0157)
	Domains       // space-separated domain names
	Local         // a JID's localpart (RFC 7622 3.3), or empty
)

// String names the kind as the admin API carries it: string, bool, int,
// duration, enum, domain or uris.
func (k Kind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Duration:
		return "duration"
	case Enum:
		return "enum"
	case Domain:
		return "domain"
	case URIs:
		return "uris"
	case Domains:
		return "domains"
	case Local:
		return "localpart"
	}
	return "string"
}

// Spec describes one setting.
type Spec struct {
	Key     string
	Default string
	Help    string
	Kind    Kind
	// Live: a change applies to the running server at once (to streams
	// opened from then on, for the limits); otherwise at the next start.
	Live bool
	Enum []string
	Min  int
	// Zero: a Duration may be 0, which means what Help says.
	Zero bool
	// Secret: the value is a credential, never shown (listed as set or
	// not).
	Secret bool
}

// Keys the code reads.
const (
	KeyDomain          = "domain"
	KeyTLSMode         = "tls.mode"
	KeyMDNS            = "mdns.enabled"
	KeyLinkLocal       = "linklocal.enabled"
	KeyStanzaBytes     = "limits.stanza_bytes"
	KeyOfflineMessages = "limits.offline_messages"
	KeyIdleTimeout     = "c2s.idle_timeout"
	KeyResumeTimeout   = "sm.resume_timeout"
	KeyPushContent     = "push.content"
	KeyTokenLifetime   = "fast.token_lifetime"
	KeyConnsPerAddress = "limits.connections_per_address"
	KeyUnauthPerAddr   = "limits.unauthenticated_per_address"
	KeyUnauth          = "limits.unauthenticated"
	KeyRosterItems     = "limits.roster_items"
	KeyResources       = "limits.resources"
	KeyPrivateBytes    = "limits.private_bytes"
	KeyVCardBytes      = "limits.vcard_bytes"
	KeyBlockItems      = "limits.block_items"
	KeyPEPBytes        = "limits.pep_bytes"
	KeyPEPNodes        = "limits.pep_nodes"
	KeyCertFile        = "tls.cert_file"
	KeyKeyFile         = "tls.key_file"
	KeyACMEEmail       = "acme.email"
	KeyACMECA          = "acme.ca"
	KeyDNSProvider     = "acme.dns_provider"
	KeyDNSToken        = "acme.dns_token"
	KeyFamilyCircle    = "family.circle"
	KeyFamilyGroup     = "family.group"
	KeyFamilyRoom      = "muc.family_room"
	KeyFederation      = "federation.enabled"
	KeyFederationAllow = "federation.allow"
	KeyFederationBlock = "federation.block"
	KeyMAM             = "mam.enabled"
	KeyMAMRetention    = "mam.retention"
	KeyMUCRooms        = "muc.max_rooms_per_user"
	KeyMUCOccupants    = "muc.max_occupants"
	KeyMUCNick         = "muc.max_nick"
	KeyMUCRate         = "muc.message_rate"
	KeyMUCArchive      = "muc.archive_by_default"
	KeyPublicURL       = "http.public_url"
	KeyUploadMaxFile   = "upload.max_file_bytes"
	KeyUploadQuota     = "upload.quota_bytes"
	KeyUploadDaily     = "upload.daily_bytes"
	KeyUploadExpiry    = "upload.expiry"
	KeyBackupSchedule  = "backup.schedule"
	KeyBackupKeep      = "backup.keep"
	KeyBackupDir       = "backup.dir"
	KeyComponents      = "components.listen"
	KeyAdmins          = "admin.jids"
	KeyMOTD            = "motd"
)

// The publish-subscribe service's limits (pubsub.<domain>).
const (
	KeyPubsubNodes       = "limits.pubsub_nodes"
	KeyPubsubItems       = "limits.pubsub_items"
	KeyPubsubPayload     = "limits.pubsub_payload_bytes"
	KeyPubsubSubscribers = "limits.pubsub_subscribers"
)

// The calls settings: the STUN/TURN server (server/internal/turn) and
// what XEP-0215 hands out.
const (
	KeyTURN            = "turn.enabled"
	KeyTURNPort        = "turn.port"
	KeyTURNTLSPort     = "turn.tls_port"
	KeyTURNRelayMin    = "turn.relay_min"
	KeyTURNRelayMax    = "turn.relay_max"
	KeyTURNPublic      = "turn.public_address"
	KeyTURNLifetime    = "turn.credential_lifetime"
	KeyTURNUserAllocs  = "turn.user_allocations"
	KeyTURNAllocations = "turn.allocations"
)

// registry is every setting, in the order `hearth config list` shows
// them. A subsystem that grows a setting adds it here, and, if it is
// live, applies it when it changes (server.applySetting, the command's
// announcement).
var registry = []Spec{
	{Key: KeyDomain, Kind: Domain,
		Help: "the XMPP domain; chosen on first run (<hostname>.local)"},
	{Key: KeyTLSMode, Kind: Enum, Default: "auto", Enum: []string{"auto", "acme", "local", "files"},
		Help: "where certificates come from: acme (Let's Encrypt, for a public domain), local (the home CA, for a LAN name), files (tls.cert_file and tls.key_file), or auto (acme for a public domain, else local)"},
	{Key: KeyCertFile, Kind: String,
		Help: "files mode: the certificate chain, PEM (read again when it changes)"},
	{Key: KeyKeyFile, Kind: String,
		Help: "files mode: the private key, PEM"},
	{Key: KeyACMEEmail, Kind: String,
		Help: "acme mode: the address the CA writes to about your certificates"},
	{Key: KeyACMECA, Kind: String,
		Help: "acme mode: the CA's directory URL (empty: Let's Encrypt)"},
	{Key: KeyDNSProvider, Kind: Enum, Default: "none", Enum: []string{"none", "duckdns", "cloudflare"},
		Help: "acme mode: answer the DNS-01 challenge through this DNS provider, when ports 80 and 443 cannot be opened"},
	{Key: KeyDNSToken, Kind: String, Secret: true,
		Help: "acme mode: the DNS provider's API token"},
	{Key: KeyMDNS, Kind: Bool, Default: "true", Live: true,
		Help: "advertise the server on the LAN with mDNS / DNS-SD"},
	{Key: KeyLinkLocal, Kind: Bool, Default: "true", Live: true,
		Help: "chat on the LAN without accounts (XEP-0174, as Pidgin's Bonjour): accounts that opted in (hearth lan on NAME) are announced on the local network while online and see the people found there; off withdraws every announcement"},
	{Key: KeyFederation, Kind: Bool, Default: "false", Live: true,
		Help: "federation: accounts here can chat with people on other XMPP servers (port 5269 must be reachable from the internet for most of them)"},
	{Key: KeyFederationAllow, Kind: Domains, Live: true,
		Help: "federation: if set, only these servers (and their subdomains), e.g. jabber.org conversations.im"},
	{Key: KeyFederationBlock, Kind: Domains, Live: true,
		Help: "federation: never these servers (and their subdomains); wins over federation.allow"},
	{Key: KeyTURN, Kind: Bool, Default: "true",
		Help: "calls: run the built-in STUN/TURN server, which lets calls and video between devices behind different routers get through, and tell clients about it (XEP-0215)"},
	{Key: KeyTURNPort, Kind: Int, Default: strconv.Itoa(turn.DefaultPort), Min: 1,
		Help: "calls: the STUN/TURN port, UDP and TCP (forward both on your router for calls from outside the home)"},
	{Key: KeyTURNTLSPort, Kind: Int, Default: strconv.Itoa(turn.DefaultTLSPort), Min: 0,
		Help: "calls: the port of TURN over TLS, with the server's certificate (0: none)"},
	{Key: KeyTURNRelayMin, Kind: Int, Default: strconv.Itoa(turn.DefaultRelayMin), Min: 1024,
		Help: "calls: the first UDP port relays use (forward the range on your router for calls from outside the home)"},
	{Key: KeyTURNRelayMax, Kind: Int, Default: strconv.Itoa(turn.DefaultRelayMax), Min: 1024,
		Help: "calls: the last UDP port relays use; each call through the server takes one or two"},
	{Key: KeyTURNPublic, Kind: String,
		Help: "calls: the public address of your home (an IP address or name) relays are announced on, for a public domain; empty: the address the domain's name points to"},
	{Key: KeyTURNLifetime, Kind: Duration, Default: formatDuration(turn.DefaultLifetime), Live: true,
		Help: "calls: how long the TURN credentials a device is given stay valid; devices ask again before each call"},
	{Key: KeyTURNUserAllocs, Kind: Int, Default: strconv.Itoa(turn.DefaultPerUser), Min: 1,
		Help: "calls: relays one account may hold at once (a call takes one per device)"},
	{Key: KeyTURNAllocations, Kind: Int, Default: strconv.Itoa(turn.DefaultTotal), Min: 1,
		Help: "calls: relays all accounts together may hold at once"},
	{Key: KeyFamilyCircle, Kind: Bool, Default: "false", Live: true,
		Help: "the family circle: every account, and each one added later, gets every other as a contact, each seeing the other online; a contact someone removes stays removed; off leaves contacts as they are, on again pairs everyone anew"},
	{Key: KeyFamilyGroup, Kind: String, Default: "Family", Live: true,
		Help: "the contact group the family circle puts everyone in (empty: none); a new name replaces the old one, adding no one back"},
	{Key: KeyFamilyRoom, Kind: Local, Default: "family", Live: true,
		Help: "the family room: a chat room, NAME@conference.<domain>, where every account is a member and which their apps join by themselves (a bookmark); empty: none. A room it kept before stays as it is"},
	{Key: KeyStanzaBytes, Kind: Int, Default: strconv.Itoa(stream.DefaultMaxStanza), Min: 10000, Live: true,
		Help: "largest stanza a client may send, in bytes (RFC 6120 13.12: at least 10000); for new connections"},
	{Key: KeyOfflineMessages, Kind: Int, Default: strconv.Itoa(offline.DefaultMax), Min: 1, Live: true,
		Help: "messages kept for an offline account"},
	{Key: KeyConnsPerAddress, Kind: Int, Default: strconv.Itoa(c2s.DefaultConnsPerAddress), Min: 1, Live: true,
		Help: "connections one address may have open (a family behind one router shares one address); for new connections"},
	{Key: KeyUnauthPerAddr, Kind: Int, Default: strconv.Itoa(c2s.DefaultUnauthConnsPerAddress), Min: 1, Live: true,
		Help: "connections one address may have that are still logging in"},
	{Key: KeyUnauth, Kind: Int, Default: strconv.Itoa(c2s.DefaultUnauthConns), Min: 1, Live: true,
		Help: "connections still logging in, from all addresses together"},
	{Key: KeyRosterItems, Kind: Int, Default: strconv.Itoa(quota.DefaultRosterItems), Min: 1, Live: true,
		Help: "contacts one account may have"},
	{Key: KeyResources, Kind: Int, Default: strconv.Itoa(quota.DefaultResources), Min: 1, Live: true,
		Help: "devices or clients one account may have connected at once"},
	{Key: KeyPrivateBytes, Kind: Int, Default: strconv.Itoa(quota.DefaultPrivateBytes), Min: 1024, Live: true,
		Help: "bytes of private data (client settings, bookmarks) one account may keep"},
	{Key: KeyVCardBytes, Kind: Int, Default: strconv.Itoa(quota.DefaultVCardBytes), Min: 1024, Live: true,
		Help: "largest vCard (profile with photo) an account may keep, in bytes"},
	{Key: KeyBlockItems, Kind: Int, Default: strconv.Itoa(quota.DefaultBlockItems), Min: 1, Live: true,
		Help: "addresses one account may block"},
	{Key: KeyPEPBytes, Kind: Int, Default: strconv.Itoa(quota.DefaultPEPBytes), Min: 1024, Live: true,
		Help: "bytes of published data (avatar, encryption keys, bookmarks) one account may keep"},
	{Key: KeyPEPNodes, Kind: Int, Default: strconv.Itoa(quota.DefaultPEPNodes), Min: 1, Live: true,
		Help: "kinds of published data (PEP nodes: avatar, encryption keys per device, bookmarks...) one account may have"},
	{Key: KeyPubsubNodes, Kind: Int, Default: strconv.Itoa(quota.DefaultPubsubNodes), Min: 1, Live: true,
		Help: "nodes (feeds) one account may create on the publish-subscribe service, pubsub.<domain>"},
	{Key: KeyPubsubItems, Kind: Int, Default: strconv.Itoa(quota.DefaultPubsubItems), Min: 1, Live: true,
		Help: "items one publish-subscribe node may keep (the most its owner may configure)"},
	{Key: KeyPubsubPayload, Kind: Int, Default: strconv.Itoa(quota.DefaultPubsubPayload), Min: 1024, Live: true,
		Help: "largest item one may publish to the publish-subscribe service, in bytes"},
	{Key: KeyPubsubSubscribers, Kind: Int, Default: strconv.Itoa(quota.DefaultPubsubSubscribers), Min: 1, Live: true,
		Help: "subscriptions one publish-subscribe node may have"},
	{Key: "contact.admin", Kind: URIs, Live: true,
		Help: "admin contact addresses, e.g. mailto:you@example.com xmpp:you@example.com (XEP-0157)"},
	{Key: "contact.abuse", Kind: URIs, Live: true,
		Help: "abuse contact addresses (XEP-0157)"},
	{Key: "contact.support", Kind: URIs, Live: true,
		Help: "support contact addresses (XEP-0157)"},
	{Key: "contact.security", Kind: URIs, Live: true,
		Help: "security contact addresses (XEP-0157)"},
	{Key: "contact.feedback", Kind: URIs, Live: true,
		Help: "feedback contact addresses (XEP-0157)"},
	{Key: "contact.sales", Kind: URIs, Live: true,
		Help: "sales contact addresses (XEP-0157)"},
	{Key: KeyMAM, Kind: Bool, Default: "true", Live: true,
		Help: "keep each account's messages in its archive on the server, so that every device of theirs can read the conversation (XEP-0313); off: nothing new is archived"},
	{Key: KeyMAMRetention, Kind: Duration, Default: formatDuration(mam.DefaultRetention), Zero: true, Live: true,
		Help: "how long archived messages are kept; 0 keeps them forever"},
	{Key: KeyMUCRooms, Kind: Int, Default: strconv.Itoa(muc.DefaultMaxRoomsPerUser), Min: 1, Live: true,
		Help: "chat rooms: how many rooms one person may own on conference.<domain>; for rooms created from now on"},
	{Key: KeyMUCOccupants, Kind: Int, Default: strconv.Itoa(muc.DefaultMaxOccupants), Min: 2, Live: true,
		Help: "chat rooms: the most people in one room; a room's own limit (maxusers) cannot be higher"},
	{Key: KeyMUCNick, Kind: Int, Default: strconv.Itoa(muc.DefaultMaxNick), Min: 1, Live: true,
		Help: "chat rooms: the longest nickname, in characters; for people joining from now on"},
	{Key: KeyMUCRate, Kind: Int, Default: strconv.Itoa(muc.DefaultRate), Live: true,
		Help: "chat rooms: how many messages and presence updates one person may send a second in a room (twice as many at once); more are refused with a request to wait; 0: no bound"},
	{Key: KeyMUCArchive, Kind: Bool, Default: "true", Live: true,
		Help: "chat rooms: a new room keeps its messages in an archive (XEP-0313), so that phones catch up and people scroll back, until its owner turns that off; for rooms made from now on"},
	{Key: KeyBackupSchedule, Kind: Enum, Default: "daily", Enum: []string{"off", "daily", "weekly"}, Live: true,
		Help: "back up the server by itself (database, certificates and home CA, secrets, uploaded files) this often, while it runs; hearth backup makes one at any time"},
	{Key: KeyBackupKeep, Kind: Int, Default: "3", Min: 1, Live: true,
		Help: "how many of its own backups the server keeps; older ones are deleted (backups you make with hearth backup are never touched)"},
	{Key: KeyBackupDir, Kind: String, Live: true,
		Help: "the folder the server's own backups go to (empty: backups in the data directory); another disk keeps them safe when this one fails"},
	{Key: KeyComponents, Kind: String, Default: component.DefaultListen,
		Help: "external components (XEP-0114: bots, gateways) connect to this address (host:port); off: none. Add one with hearth components add NAME"},
	{Key: KeyAdmins, Kind: String, Live: true,
		Help: "the accounts (bare JIDs, e.g. you@example.org, separated by spaces) that may run the server's admin commands from their chat app (XEP-0133: add and delete accounts, passwords, who is online, announcements, the message of the day); empty: nobody"},
	{Key: KeyMOTD, Kind: String, Live: true,
		Help: "the message of the day: every device gets it as it logs in (also set with a chat app's admin commands, XEP-0133); empty: none"},
	{Key: KeyIdleTimeout, Kind: Duration, Default: formatDuration(c2s.DefaultIdleTimeout), Live: true,
		Help: "a silent client is pinged after this and disconnected after as long again; for new sessions"},
	{Key: KeyResumeTimeout, Kind: Duration, Default: formatDuration(c2s.DefaultResumeTimeout), Live: true,
		Help: "how long a phone that lost its connection keeps its session, to pick it up again where it left off (stream management); for sessions that lose it from now on"},
	{Key: KeyPushContent, Kind: Enum, Default: push.ContentCount, Enum: []string{push.ContentCount, push.ContentSender, push.ContentBody}, Live: true,
		Help: "what a phone's push service (and Apple or Google behind it) learns when a message comes: count (only that something came), sender (who sent it), or body (who, and the text)"},
	{Key: KeyTokenLifetime, Kind: Duration, Default: formatDuration(c2s.DefaultTokenLifetime), Live: true,
		Help: "how long a device that logged in once may log in again without its password (a FAST token), in hours (336h: two weeks); renewed when it logs in during its second half; for tokens given from now on"},
	{Key: KeyPublicURL, Kind: String, Live: true,
		Help: "the web address clients are given for the HTTPS listener (shared files), when the server is behind a proxy or a forwarded port, e.g. https://files.example.org; empty: https://<domain>:<port of --http>"},
	{Key: KeyUploadMaxFile, Kind: Int, Default: strconv.Itoa(upload.DefaultMaxFileBytes), Min: 1, Live: true,
		Help: "the largest file people may share, in bytes (104857600: 100 MiB)"},
	{Key: KeyUploadQuota, Kind: Int, Default: strconv.Itoa(upload.DefaultQuotaBytes), Min: 0, Live: true,
		Help: "how many bytes of shared files one account may keep on the server at once; 0: no limit"},
	{Key: KeyUploadDaily, Kind: Int, Default: strconv.Itoa(upload.DefaultDailyBytes), Min: 0, Live: true,
		Help: "how many bytes of files one account may share in a day; 0: no limit"},
	{Key: KeyUploadExpiry, Kind: Duration, Default: formatDuration(upload.DefaultExpiry), Live: true,
		Help: "how long a shared file is kept before it is deleted (720h: 30 days); for files shared from now on"},
}

// formatDuration writes d as people write it: 5m, not 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// All returns every setting, in order.
func All() []Spec { return slices.Clone(registry) }

// Lookup returns the spec of key.
func Lookup(key string) (Spec, bool) {
	for _, s := range registry {
		if s.Key == key {
			return s, true
		}
	}
	return Spec{}, false
}

// Check returns value as it is stored for key. The error says in plain
// words what is wrong; it names the key.
func Check(key, value string) (string, error) {
	s, ok := Lookup(key)
	if !ok {
		return "", fmt.Errorf("%s: unknown setting (hearth config list shows them all)", key)
	}
	v, err := s.normalize(value)
	if err == nil && key == KeyPublicURL && v != "" {
		var u *url.URL
		if u, err = web.ParsePublicURL(v); err == nil {
			v = u.String()
		}
	}
	if err == nil && key == KeyComponents {
		v, err = checkListen(v)
	}
	if err == nil && key == KeyAdmins {
		v, err = checkBareJIDs(v)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %v", key, err)
	}
	return v, nil
}

// checkListen checks a listener's address: host:port, or off.
func checkListen(v string) (string, error) {
	if v == "" || strings.EqualFold(v, "off") {
		return "off", nil
	}
	host, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("%q is not an address such as 127.0.0.1:5347 (or off)", v)
	}
	return net.JoinHostPort(host, port), nil
}

// checkBareJIDs checks a list of bare JIDs separated by spaces or commas.
func checkBareJIDs(v string) (string, error) {
	fields := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	for i, f := range fields {
		j, err := jid.Parse(f)
		if err != nil || j.Local == "" || j.Resource != "" {
			return "", fmt.Errorf("%q is not an account's address such as you@example.org", f)
		}
		fields[i] = j.String()
	}
	return strings.Join(fields, " "), nil
}

// normalize checks v against the setting's type and returns it in the form
// it is stored in.
func (s Spec) normalize(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch s.Kind {
	case Bool:
		b, err := parseBool(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a whole number", v)
		}
		if n < s.Min {
			return "", fmt.Errorf("%d is below the minimum %d", n, s.Min)
		}
		return strconv.Itoa(n), nil
	case Duration:
		d, err := time.ParseDuration(v)
		if s.Zero && err == nil && d == 0 {
			return v, nil
		}
		if err != nil || d <= 0 {
			return "", fmt.Errorf("%q is not a duration above zero (for example 90s, 5m, 1h)", v)
		}
		return v, nil
	case Enum:
		for _, e := range s.Enum {
			if strings.EqualFold(v, e) {
				return e, nil
			}
		}
		return "", fmt.Errorf("%q is not one of %s", v, strings.Join(s.Enum, ", "))
	case Domain:
		j, err := jid.Parse(v)
		if err != nil || !j.IsDomain() {
			return "", fmt.Errorf("%q is not a domain name", v)
		}
		return j.Domain, nil
	case Local:
		if v == "" {
			return "", nil
		}
		j, err := jid.New(v, "example.org", "")
		if err != nil || j.Local == "" {
			return "", fmt.Errorf("%q cannot be a name before the @: use letters and digits, such as family", v)
		}
		return j.Local, nil
	case URIs:
		fields := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
		for _, f := range fields {
			u, err := url.Parse(f)
			if err != nil || u.Scheme == "" || u.Opaque == "" && u.Host == "" {
				return "", fmt.Errorf("%q is not a URI such as mailto:you@example.com or xmpp:you@example.com", f)
			}
		}
		return strings.Join(fields, " "), nil
	case Domains:
		fields := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
		for i, f := range fields {
			j, err := jid.Parse(f)
			if err != nil || !j.IsDomain() {
				return "", fmt.Errorf("%q is not a domain name such as example.org", f)
			}
			fields[i] = j.Domain
		}
		return strings.Join(fields, " "), nil
	}
	return v, nil
}

// parseBool accepts what strconv.ParseBool does and on/off, yes/no.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "yes":
		return true, nil
	case "off", "no":
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}

// Values are stored settings read through the registry: a key never set,
// or set behind the registry's back to something of the wrong type, has
// its default. Asking for a key the registry does not have is a bug and
// panics.
type Values map[string]string

// String returns the value of key.
func (v Values) String(key string) string {
	s, ok := Lookup(key)
	if !ok {
		panic("settings: unknown key " + key)
	}
	if stored, ok := v[key]; ok {
		if n, err := s.normalize(stored); err == nil {
			return n
		}
	}
	return s.Default
}

// Bool returns a boolean setting.
func (v Values) Bool(key string) bool {
	b, _ := parseBool(v.String(key))
	return b
}

// Int returns a whole-number setting.
func (v Values) Int(key string) int {
	n, _ := strconv.Atoi(v.String(key))
	return n
}

// List returns the entries of a list setting (URIs, domains).
func (v Values) List(key string) []string {
	return strings.Fields(v.String(key))
}

// Duration returns a duration setting.
func (v Values) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(v.String(key))
	return d
}
