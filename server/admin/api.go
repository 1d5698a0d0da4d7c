// Package admin is the only surface of the server that the GUI and the
// command line see: users, rosters, sessions, settings and live events.
//
// API is implemented in-process over the storage and the running server
// (Local), and over the admin Unix socket in the data directory (Dial), so the
// GUI and the CLI do the same whether or not they share the server's process.
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hearth/certs"
)

// Errors an API call may return, checked with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrInvalid: the caller gave something that is not right; the
	// error's own message says what and how to put it right.
	ErrInvalid = errors.New("not valid")
	ErrOffline = errors.New("server not running")
	// ErrNotApplied: a setting was stored, but the running server could
	// not apply all of it; the error's own message says what and how to
	// retry.
	ErrNotApplied = errors.New("saved, but not applied")
)

// kindError is an error of one of the kinds above whose message says all:
// the kind is for errors.Is, not repeated in the text.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// invalidf returns an ErrInvalid error with the message.
func invalidf(format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: ErrInvalid}
}

// Info describes the running server.
type Info struct {
	Domain          string
	Version         string
	Started         time.Time
	Listeners       []Listener
	CertFingerprint string // SHA-256 of the certificate served for the domain, hex with colons
	Certificates    Certificates
	DataDir         string
	Running         bool // false when the API works on the database alone
	Logins          LoginStats
	// LAN is how the server stands on the local network; zero when the
	// server was not told (tests, the database alone).
	LAN LANStatus
	// Federation is how the server stands with other servers.
	Federation FederationStatus
	// TURN is how the STUN/TURN service for calls stands.
	TURN TURNStatus
}

// FederationStatus is whether the server federates, with whom, and its
// links to other servers.
type FederationStatus struct {
	Enabled bool
	// Allow and Block are the settings federation.allow and
	// federation.block, as domains.
	Allow []string `json:",omitempty"`
	Block []string `json:",omitempty"`
	// Listening is the address other servers connect to, or "" while
	// federation is off (or no listener was given).
	Listening string `json:",omitempty"`
	// Links are the live links, and domains recently not reached (with
	// Error set and no Since).
	Links []FederationLink `json:",omitempty"`
}

// FederationStep is one step of a federation test, with its verdict in
// words.
type FederationStep struct {
	Name   string // DNS, Connect, TLS, Authentication, Round trip
	OK     bool
	Detail string
	// Advice says what to do about a step that failed.
	Advice string `json:",omitempty"`
}

// LinkErrors counts the links that have an error. A certificate that is
// not valid is none: such a link proves the other server by dialback.
func LinkErrors(links []FederationLink) int {
	n := 0
	for _, l := range links {
		if l.Error != "" {
			n++
		}
	}
	return n
}

// FederationLink is one link to another server.
type FederationLink struct {
	Local, Remote string
	// Direction: "out" (this server connected), "in" (the other one
	// did), or "both" (one link used both ways, XEP-0288).
	Direction string
	// Auth: "certificate" (SASL EXTERNAL) or "dialback"; "" while the
	// link is set up.
	Auth string `json:",omitempty"`
	TLS  string `json:",omitempty"` // "TLS 1.3"
	// Certificate says why the other server's certificate is not valid
	// for its domain, or "" when it is.
	Certificate string    `json:",omitempty"`
	Since       time.Time `json:",omitempty"`
	In, Out     uint64    // stanzas
	Error       string    `json:",omitempty"`
}

// LANStatus is how the server stands on the local network: the addresses
// a device can type by hand, and the mDNS announcement that lets devices
// find it by name.
type LANStatus struct {
	// Addresses are this machine's addresses that clients can reach,
	// IPv4 first, then IPv6; no loopback.
	Addresses []string `json:",omitempty"`
	// Announced: the mDNS announcement runs, as Name.
	Announced bool
	Name      string `json:",omitempty"` // the .local host name announced
	// Reason says why the server is not announced (the setting is off,
	// --no-mdns, an error), or "" while it is or is about to be.
	Reason string `json:",omitempty"`
}

// Certificates is how the server's certificates stand.
type Certificates struct {
	Mode  string // acme, local or files
	Names []CertName
	// CA is the home CA, which local mode's certificates chain to and
	// which stands in while another mode has none.
	CA CertSummary
	// CAPage is the address of the page where devices fetch the home CA
	// (local mode), or "".
	CAPage string
}

// CertName is how the certificate of one name stands.
type CertName struct {
	Name        string
	Issuer      string
	NotAfter    time.Time
	SHA256      string // hex pairs with colons
	SHA1        string // the fingerprint some clients show (Profanity)
	LastAttempt time.Time
	LastError   string // why the last attempt to obtain or renew failed, or ""
}

// CertSummary describes a certificate for comparing fingerprints.
type CertSummary struct {
	Subject  string
	NotAfter time.Time
	SHA256   string
	SHA1     string
}

// LoginStats count what the login guard saw since the server started.
type LoginStats struct {
	// Failed: logins with a wrong password or an unknown account.
	Failed int64
	// Throttled: attempts refused because their address had failed too
	// often and had to wait.
	Throttled int64
	// Delayed: failure answers held back because their account was being
	// guessed at.
	Delayed int64
	// ThrottledAddresses: addresses that must wait now.
	ThrottledAddresses int
	// InProgress: connections that have not logged in yet.
	InProgress int
}

// Listener is one open listening socket.
type Listener struct {
	Name string // c2s, c2s-tls, s2s, http
	Addr string
}

// User is an account.
type User struct {
	JID      string
	Disabled bool
	Created  time.Time
	Sessions int // online resources
}

// Session is one bound client resource.
type Session struct {
	JID      string // full JID
	Addr     string // remote address
	Since    time.Time
	Secure   bool   // TLS
	Presence string // available, away, chat, dnd, xa, or unavailable (not yet sent)
	Priority int
	// Held: the device's connection was lost and the session waits for it
	// to come back and pick it up (stream management, XEP-0198); what
	// comes for it meanwhile waits too.
	Held bool
}

// RosterItem is one contact of a user (RFC 6121 2.1).
type RosterItem struct {
	JID          string
	Name         string
	Subscription string // none, to, from, both
	Ask          bool   // subscription request pending out
	Groups       []string
}

// Setting is one configuration key.
type Setting struct {
	Key     string
	Value   string
	Default string
	Help    string
	Restart bool // changing it needs a restart
	// Kind is the value's type: string, bool, int, duration, enum,
	// domain or uris; Enum lists an enum's values, Min an int's least.
	Kind string   `json:",omitempty"`
	Enum []string `json:",omitempty"`
	Min  int      `json:",omitempty"`
	// Secret: a credential; Value is SecretShown when it is set.
	Secret bool `json:",omitempty"`
}

// EventKind says what changed.
type EventKind string

// Events sent to Watch subscribers.
const (
	EventSessionUp   EventKind = "session-up"
	EventSessionDown EventKind = "session-down"
	EventPresence    EventKind = "presence" // a session's presence changed
	EventUsers       EventKind = "users"    // accounts added, deleted or changed
	EventRoster      EventKind = "roster"
	EventSettings    EventKind = "settings"
	EventRooms       EventKind = "rooms"      // a room destroyed or its affiliations changed
	EventComponents  EventKind = "components" // an external component added or removed
)

// Event is a live change.
type Event struct {
	Kind EventKind
	JID  string `json:",omitempty"`
	Key  string `json:",omitempty"` // the setting that changed
}

// API is the admin surface. Every method is safe for concurrent use.
type API interface {
	Info(ctx context.Context) (Info, error)

	Users(ctx context.Context) ([]User, error)
	AddUser(ctx context.Context, jid, password string) error
	DeleteUser(ctx context.Context, jid string) error
	SetPassword(ctx context.Context, jid, password string) error
	SetDisabled(ctx context.Context, jid string, disabled bool) error

	Roster(ctx context.Context, user string) ([]RosterItem, error)
	// AddRosterItem adds or updates a contact (subscription none unless it
	// exists) and pushes the roster change to the user's online sessions.
	AddRosterItem(ctx context.Context, user string, item RosterItem) error
	RemoveRosterItem(ctx context.Context, user, contact string) error
	// MakeMutual makes two accounts of this server contacts of each
	// other with subscription both, each seeing the other online, as if
	// one had asked and the other agreed: both rosters get the change
	// (names and groups kept) and online clients the pushes and each
	// other's presence. A contact on another server must agree itself.
	MakeMutual(ctx context.Context, user, contact string) error

	Sessions(ctx context.Context) ([]Session, error)
	Kick(ctx context.Context, fullJID string) error

	Settings(ctx context.Context) ([]Setting, error)
	// SetSetting stores a value; restart reports whether it takes effect
	// only after a restart.
	SetSetting(ctx context.Context, key, value string) (restart bool, err error)

	// TestFederation tests federation with another server's domain step
	// by step: DNS, connection, TLS and certificate, authentication both
	// ways, a service discovery round trip. It stops at the first step
	// that fails, and needs the running server (ErrOffline otherwise).
	TestFederation(ctx context.Context, domain string) ([]FederationStep, error)

	// LinkLocal reports how chat on the LAN without accounts (XEP-0174)
	// stands: the accounts that take part, those announced now, the
	// people found on the LAN.
	LinkLocal(ctx context.Context) (LinkLocalStatus, error)
	// SetLinkLocal turns chat on the LAN on or off for an account.
	SetLinkLocal(ctx context.Context, user string, on bool) error

	// Uploads reports file sharing (XEP-0363): limits and each
	// account's files; PurgeUploads deletes an account's files, the
	// expired ones, or an account's expired ones.
	Uploads(ctx context.Context) (UploadStatus, error)
	PurgeUploads(ctx context.Context, user string, expired bool) (PurgeResult, error)
	// CreateInvite makes an invitation (a link and QR code: a new
	// account, a contact, both, or a password reset); Invites lists
	// them; RevokeInvite deletes one, given its token, link or URI.
	CreateInvite(ctx context.Context, spec InviteSpec) (Invite, error)
	Invites(ctx context.Context) ([]Invite, error)
	RevokeInvite(ctx context.Context, token string) error
	// Rooms lists the server's chat rooms (XEP-0045), sorted by address;
	// Occupants says who is in one now; RoomAffiliations who has a
	// lasting place in it (owners first). A room is named by its address
	// or its name on the room service. They need the running server
	// (ErrOffline otherwise); a room that is not there is ErrNotFound.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	Occupants(ctx context.Context, room string) ([]Occupant, error)
	RoomAffiliations(ctx context.Context, room string) ([]RoomAffiliation, error)
	// DestroyRoom ends a room: those in it are told the reason and the
	// room to go to instead (alternate, a room's address, or "").
	DestroyRoom(ctx context.Context, room, reason, alternate string) error
	// SetRoomAffiliation makes who (an address, or an account's name)
	// owner, admin, member or outcast of a room, or none of these.
	SetRoomAffiliation(ctx context.Context, room, who, affiliation string) error

	// Components lists the external components (XEP-0114) and whether
	// they are connected; AddComponent configures one (a word: NAME.<domain>,
	// or a domain name) and returns its new secret, shown this once;
	// RemoveComponent forgets one and disconnects it.
	Components(ctx context.Context) ([]Component, error)
	AddComponent(ctx context.Context, name string) (NewComponent, error)
	RemoveComponent(ctx context.Context, name string) error

	// CheckDatabase reads the whole database and returns the problems
	// SQLite's quick check finds in it; none when it is sound.
	CheckDatabase(ctx context.Context) (problems []string, err error)
	// Backup writes a backup (database, certificates, secrets, uploads)
	// to file, an absolute path: a new file, or a folder to make one in;
	// "" is the server's backups folder (setting backup.dir). The server
	// goes on serving meanwhile; restore with Restore.
	Backup(ctx context.Context, file string) (BackupInfo, error)

	// Watch delivers live events until ctx is done; the channel is closed
	// then. A slow reader loses events rather than blocking the server.
	Watch(ctx context.Context) <-chan Event

	// Console watches one session's stream in both directions (the XML
	// console), from its next element on, with SASL payloads, passwords
	// and resumption ids redacted, until ctx is done or the session ends;
	// the channel is closed then. A slow reader loses frames (counted in
	// the next one's Dropped); a session has one watcher at a time.
	Console(ctx context.Context, fullJID string) (<-chan ConsoleFrame, error)
	// Logs returns the server's recent log records with a Seq greater
	// than since, oldest first; WatchLogs delivers new ones until ctx is
	// done (a slow reader loses records, counted in Dropped).
	Logs(ctx context.Context, since uint64) ([]LogRecord, error)
	WatchLogs(ctx context.Context) <-chan LogRecord
}

// CertificatesOf describes the certificates a manager serves; page is the
// CA page's address, if it is served.
func CertificatesOf(m *certs.Manager, page string) Certificates {
	st := m.Status()
	out := Certificates{Mode: st.Mode, CAPage: page,
		CA: CertSummary{Subject: st.CA.Subject, NotAfter: st.CA.NotAfter, SHA256: st.CA.SHA256, SHA1: st.CA.SHA1}}
	for _, n := range st.Names {
		out.Names = append(out.Names, CertName{Name: n.Name, Issuer: n.Issuer, NotAfter: n.NotAfter, SHA256: n.SHA256,
			SHA1: n.SHA1, LastAttempt: n.LastAttempt, LastError: n.LastError})
	}
	return out
}
