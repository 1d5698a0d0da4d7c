package muc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Affiliations and roles (XEP-0045 5).
const (
	affOwner   = "owner"
	affAdmin   = "admin"
	affMember  = "member"
	affOutcast = "outcast"
	affNone    = "none"

	roleModerator   = "moderator"
	roleParticipant = "participant"
	roleVisitor     = "visitor"
	roleNone        = "none"
)

func affRank(a string) int {
	switch a {
	case affOwner:
		return 4
	case affAdmin:
		return 3
	case affMember:
		return 2
	case affNone:
		return 1
	}
	return 0
}

func roleRank(r string) int {
	switch r {
	case roleModerator:
		return 3
	case roleParticipant:
		return 2
	case roleVisitor:
		return 1
	}
	return 0
}

func validAff(a string) bool  { return affRank(a) > 0 || a == affOutcast }
func validRole(r string) bool { return roleRank(r) > 0 || r == roleNone }

// Config is a room's configuration (muc#roomconfig), stored as JSON for a
// persistent room.
type Config struct {
	Name          string `json:"name,omitempty"`
	Description   string `json:"desc,omitempty"`
	Persistent    bool   `json:"persistent,omitempty"`
	Public        bool   `json:"public,omitempty"`
	MembersOnly   bool   `json:"membersonly,omitempty"`
	Moderated     bool   `json:"moderated,omitempty"`
	Password      string `json:"password,omitempty"`
	MaxUsers      int    `json:"maxusers,omitempty"`
	WhoisAnyone   bool   `json:"whois_anyone,omitempty"`
	ChangeSubject bool   `json:"changesubject,omitempty"`
	AllowInvites  bool   `json:"allowinvites,omitempty"`
	AllowPM       string `json:"allowpm,omitempty"` // anyone, participants, moderators, none
	Archive       bool   `json:"mam,omitempty"`
}

// defaultConfig is a new room's: public, open, unmoderated, temporary,
// semi-anonymous, private messages allowed.
func defaultConfig() Config {
	return Config{Public: true, AllowPM: "anyone", ChangeSubject: false, AllowInvites: true}
}

type affRec struct{ aff, nick, reason string }

// occupant is one nick in a room: one person (real bare JID), possibly
// joined from several sessions (full JIDs) under the same nick.
type occupant struct {
	nick     string
	key      string // the nick's comparison key (PRECIS)
	real     jid.JID
	sessions []jid.JID
	role     string
	presence *stanza.Element // what the client last sent (its children are rebroadcast)
	id       string          // occupant-id (XEP-0421)
	bucket   bucket
}

// latest is the full JID shown to those who may see real JIDs.
func (o *occupant) latest() jid.JID { return o.sessions[len(o.sessions)-1] }

func (o *occupant) hasSession(j jid.JID) bool {
	for _, s := range o.sessions {
		if s == j {
			return true
		}
	}
	return false
}

func (o *occupant) dropSession(j jid.JID) {
	for i, s := range o.sessions {
		if s == j {
			o.sessions = append(o.sessions[:i:i], o.sessions[i+1:]...)
			return
		}
	}
}

// room is one room. mu guards its state; last orders broadcasts, so
// that every occupant sees the room's stanzas in one order: a change
// takes a turn (turn) under mu, releases mu, waits for the turn before
// it and delivers; nothing waits for a turn with mu held.
type room struct {
	jid       jid.JID
	mu        sync.Mutex
	last      chan struct{} // the latest turn's: closed when it has delivered
	cfg       Config
	locked    bool // created, not yet configured (XEP-0045 10.1)
	affs      map[string]affRec
	occ       map[string]*occupant // by nick key
	subject   string
	subjectBy string
	vcard     []byte
	photo     string // SHA-1 of the vCard's photo, hex
	secret    []byte
	created   time.Time
	history   ring
	filled    bool               // the history was filled from the archive
	invites   map[string]jid.JID // invitee's bare JID: the inviter's, for a decline
	gone      bool               // destroyed or vanished
}

func newRoom(j jid.JID, secret []byte) *room {
	return &room{jid: j, cfg: defaultConfig(), affs: map[string]affRec{}, occ: map[string]*occupant{}, secret: secret, created: time.Now()}
}

func (r *room) affOf(bare jid.JID) string {
	if a, ok := r.affs[bare.String()]; ok {
		return a.aff
	}
	return affNone
}

// defaultRole is the role an affiliation gets on entering (XEP-0045 5.1.2).
func (r *room) defaultRole(aff string) string {
	switch aff {
	case affOwner, affAdmin:
		return roleModerator
	case affMember:
		return roleParticipant
	case affOutcast:
		return roleNone
	}
	if r.cfg.Moderated {
		return roleVisitor
	}
	return roleParticipant
}

// byReal finds the occupant a full JID joined as.
func (r *room) byReal(full jid.JID) *occupant {
	for _, o := range r.occ {
		if o.hasSession(full) {
			return o
		}
	}
	return nil
}

// byBare finds the occupants of a bare JID.
func (r *room) byBare(bare jid.JID) []*occupant {
	var out []*occupant
	for _, o := range r.occ {
		if o.real == bare {
			out = append(out, o)
		}
	}
	return out
}

// sorted returns the occupants in nick order (stable output).
func (r *room) sorted() []*occupant {
	out := make([]*occupant, 0, len(r.occ))
	for _, o := range r.occ {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// occupantID is the stable id of a real bare JID in this room (XEP-0421).
func (r *room) occupantID(bare jid.JID) string {
	h := hmac.New(sha256.New, r.secret)
	h.Write([]byte(bare.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// owners counts the owners.
func (r *room) owners() int {
	n := 0
	for _, a := range r.affs {
		if a.aff == affOwner {
			n++
		}
	}
	return n
}

// reservedBy returns the bare JID that registered the nick key, if any.
func (r *room) reservedBy(key string) string {
	for j, a := range r.affs {
		if a.nick != "" && nickKeyOr(a.nick) == key {
			return j
		}
	}
	return ""
}

// record is the room as storage keeps it.
func (r *room) record() (storage.MUCRoom, error) {
	cfg, err := json.Marshal(r.cfg)
	if err != nil {
		return storage.MUCRoom{}, err
	}
	rec := storage.MUCRoom{JID: r.jid.String(), Config: cfg, Subject: r.subject, SubjectBy: r.subjectBy,
		VCard: r.vcard, Secret: r.secret, Created: r.created}
	for j, a := range r.affs {
		rec.Affiliations = append(rec.Affiliations, storage.MUCAffiliation{JID: j, Affiliation: a.aff, Nick: a.nick, Reason: a.reason})
	}
	sort.Slice(rec.Affiliations, func(i, j int) bool { return rec.Affiliations[i].JID < rec.Affiliations[j].JID })
	return rec, nil
}

// roomFrom rebuilds a stored room.
func roomFrom(rec storage.MUCRoom) (*room, error) {
	j, err := jid.Parse(rec.JID)
	if err != nil {
		return nil, err
	}
	r := newRoom(j, rec.Secret)
	// From nothing, not over the defaults: a switch stored off is left
	// out of the JSON (omitempty) and must not come back on.
	r.cfg = Config{}
	if err := json.Unmarshal(rec.Config, &r.cfg); err != nil {
		return nil, err
	}
	r.cfg.Persistent = true
	r.subject, r.subjectBy, r.created = rec.Subject, rec.SubjectBy, rec.Created
	if rec.VCard != nil {
		r.vcard = rec.VCard
		r.photo = photoHash(rec.VCard)
	}
	for _, a := range rec.Affiliations {
		r.affs[a.JID] = affRec{aff: a.Affiliation, nick: a.Nick, reason: a.Reason}
	}
	return r, nil
}

// bucket is a token bucket for an occupant's messages.
type bucket struct {
	tokens float64
	at     time.Time
}

// take reports whether a message may go now at rate per second with
// burst.
func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.at.IsZero() {
		b.tokens = burst
	} else {
		b.tokens += now.Sub(b.at).Seconds() * rate
		if b.tokens > burst {
			b.tokens = burst
		}
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
