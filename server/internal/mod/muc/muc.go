// Package muc is the multi-user chat service (XEP-0045) on
// conference.<domain>: rooms, their occupants, affiliations and roles,
// configuration, history on join, occupant ids (XEP-0421), self-ping
// (XEP-0410), moderation (XEP-0425) and, through Archive, the rooms'
// message archives (XEP-0313). Persistent rooms live in storage
// (storage.MUCRoom); temporary ones only while someone is in them.
package muc

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/tasks"
	"hearth/storage"
)

// Namespaces.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = NS + "#user"
	NSAdmin      = NS + "#admin"
	NSOwner      = NS + "#owner"
	nsRoomConfig = NS + "#roomconfig"
	nsRoomInfo   = NS + "#roominfo"
	nsRegister   = "jabber:iq:register"
	nsRequest    = NS + "#request"
	nsOccupantID = "urn:xmpp:occupant-id:0"
	nsSID        = "urn:xmpp:sid:0"
	nsMAM        = "urn:xmpp:mam:2"
	nsModerate   = "urn:xmpp:message-moderate:1"
	nsRetract    = "urn:xmpp:message-retract:1"
	nsVCardUpd   = "vcard-temp:x:update"
	nsConference = "jabber:x:conference"
	nsHints      = "urn:xmpp:hints"
)

// Defaults of the limits (settings muc.*).
const (
	DefaultMaxRoomsPerUser = 20
	DefaultMaxOccupants    = 500
	DefaultMaxNick         = 64
	// DefaultRate bounds one occupant's messages and presence updates,
	// per second (twice as many at once); 0: no bound.
	DefaultRate = 10
	// historyDefault is how many messages a joining occupant gets when it
	// does not say; historyKeep how many a room keeps in memory.
	historyDefault = 20
	historyKeep    = 100
	historyBytes   = 1 << 20
	// maxAffiliations bounds the affiliations (members, bans...) of a room.
	maxAffiliations = 5000
)

// ErrNoRoom is returned by the admin API for a room that does not exist.
var ErrNoRoom = errors.New("muc: no such room")

// Deps are what the module needs.
type Deps struct {
	DB      *storage.DB
	Router  *router.Router
	Domain  string
	Archive Archive // nil: no room archives
	Log     *slog.Logger
}

// Module is the chat service.
type Module struct {
	db      *storage.DB
	r       *router.Router
	domain  string
	service string
	archive Archive
	log     *slog.Logger

	maxRooms, maxOccupants, maxNick, rate atomic.Int64
	// archiveNew: rooms made from now on keep an archive (muc.archive_by_default).
	archiveNew atomic.Bool
	now        func() time.Time

	loadMu sync.Mutex
	loaded bool
	mu     sync.Mutex
	rooms  map[string]*room // by localpart

	fmu      sync.Mutex
	forwards map[string]forwarded // queries between occupants, by the id they went with

	// deleting holds the names of destroyed rooms whose archives are
	// being deleted (closed when done), under mu: no room of that name
	// is made meanwhile, lest it find the old messages.
	deleting map[string]chan struct{}
	tasks    *tasks.Group // the archive deletes under way, which Close waits for
}

// New returns the chat service of domain.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{db: d.DB, r: d.Router, domain: d.Domain, service: "conference." + d.Domain, archive: d.Archive,
		log: d.Log, rooms: map[string]*room{}, forwards: map[string]forwarded{}, now: time.Now,
		deleting: map[string]chan struct{}{}, tasks: tasks.New()}
	m.SetLimits(DefaultMaxRoomsPerUser, DefaultMaxOccupants, DefaultMaxNick)
	m.rate.Store(DefaultRate)
	return m
}

// Close waits for the destroyed rooms' archive deletes under way (the
// server stops); a room destroyed afterwards has its archive deleted
// before the destroy is answered.
func (m *Module) Close() { m.tasks.Close() }

// SetRate sets how many messages and presence updates an occupant may
// send a second (twice as many at once); 0 lifts the bound.
func (m *Module) SetRate(perSecond int) { m.rate.Store(int64(max(perSecond, 0))) }

// allow takes a token of o's bucket, r.mu held.
func (m *Module) allow(o *occupant) bool {
	rate := float64(m.rate.Load())
	return rate == 0 || o.bucket.take(m.now(), rate, 2*rate)
}

// SetArchiveByDefault says whether rooms made from now on keep their
// messages in an archive (XEP-0313) until their owner says otherwise.
func (m *Module) SetArchiveByDefault(on bool) { m.archiveNew.Store(on) }

// SetLimits changes the limits (0 keeps the default): rooms one account
// may own, occupants of a room, characters of a nick.
func (m *Module) SetLimits(roomsPerUser, occupants, nick int) {
	set := func(v *atomic.Int64, n, def int) {
		if n <= 0 {
			n = def
		}
		v.Store(int64(n))
	}
	set(&m.maxRooms, roomsPerUser, DefaultMaxRoomsPerUser)
	set(&m.maxOccupants, occupants, DefaultMaxOccupants)
	set(&m.maxNick, nick, DefaultMaxNick)
}

// Service returns the service's domain, conference.<domain>.
func (m *Module) Service() string { return m.service }

// Register installs the service's host.
func (m *Module) Register(mux *router.Mux) { mux.Host(m.service, m.handle) }

// Features: the service is found in the server's disco items.
func (m *Module) Features() router.Features { return router.Features{} }

// SessionEnded takes a session that ended out of every room it was in
// (its unavailable presence normally did already).
func (m *Module) SessionEnded(ctx context.Context, s *router.Session) {
	for _, r := range m.allRooms() {
		r.mu.Lock()
		o := r.byReal(s.JID)
		if o == nil {
			r.mu.Unlock()
			continue
		}
		m.leave(ctx, r, o, s.JID, nil) // unlocks
	}
}

func (m *Module) allRooms() []*room {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*room, 0, len(m.rooms))
	for _, r := range m.rooms {
		out = append(out, r)
	}
	return out
}

// load reads the persistent rooms once, before the first stanza or
// admin call needs them.
func (m *Module) load(ctx context.Context) error {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	if m.loaded {
		return nil
	}
	recs, err := m.db.MUCRooms(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rec := range recs {
		r, err := roomFrom(rec)
		if err != nil {
			m.log.Error("a stored chat room could not be read and is left out; its row in muc_rooms is kept", "room", rec.JID, "err", err)
			continue
		}
		if _, ok := m.rooms[r.jid.Local]; !ok {
			m.rooms[r.jid.Local] = r
		}
	}
	m.loaded = true
	return nil
}

// room returns the room with the localpart, or nil.
func (m *Module) room(local string) *room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[local]
}

// locked returns the room with the localpart with its lock held, or nil:
// a room destroyed or emptied meanwhile is not returned.
func (m *Module) locked(local string) *room {
	for {
		r := m.room(local)
		if r == nil {
			return nil
		}
		r.mu.Lock()
		if !r.gone {
			return r
		}
		r.mu.Unlock()
	}
}

// forget removes a room that was destroyed or emptied.
func (m *Module) forget(r *room) {
	m.mu.Lock()
	if m.rooms[r.jid.Local] == r {
		delete(m.rooms, r.jid.Local)
	}
	m.mu.Unlock()
	r.gone = true
}

func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// handle takes every stanza for the service and its rooms.
func (m *Module) handle(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.Kind == stanza.KindIQ && (st.Type == "result" || st.Type == "error") {
		// Answers to queries passed between occupants; the rooms
		// themselves ask nothing.
		if st.To.Resource != "" {
			m.answered(ctx, st)
		}
		return nil
	}
	if st.IsError() {
		if st.To.Local != "" && st.Kind != stanza.KindIQ {
			m.bounced(ctx, st)
		}
		return nil // errors to the rooms are answered with nothing
	}
	if err := m.load(ctx); err != nil {
		m.log.Error("the chat rooms could not be read from the database", "err", err)
		return stanza.NewError(stanza.Wait, stanza.InternalServerError, "the chat rooms could not be read; try again later")
	}
	if st.To.Local == "" {
		if st.To.Resource != "" {
			if st.Kind == stanza.KindPresence {
				return nil
			}
			return stanza.ErrServiceUnavailable()
		}
		return m.handleService(ctx, st)
	}
	switch st.Kind {
	case stanza.KindPresence:
		return m.handlePresence(ctx, st)
	case stanza.KindMessage:
		return m.handleMessage(ctx, st)
	case stanza.KindIQ:
		if st.Type != "get" && st.Type != "set" {
			return stanza.ErrBadRequest("an IQ is get, set, result or error")
		}
		if st.To.Resource != "" {
			return m.occupantIQ(ctx, st)
		}
		return m.roomIQ(ctx, st)
	}
	return nil
}

// bounced takes out of the room a session that returned a message or
// presence the room sent it with an error saying it is gone (a client
// that vanished, a server that no longer knows it): XEP-0045 9.7's
// removal with status 333, so that the room does not keep sending to
// nobody.
func (m *Module) bounced(ctx context.Context, st *stanza.Stanza) {
	switch stanza.ErrorOf(st.El).Condition {
	case stanza.Gone, stanza.ItemNotFound, stanza.RecipientUnavailable, stanza.Redirect,
		stanza.RemoteServerNotFound, stanza.RemoteServerTimeout, stanza.ServiceUnavailable:
	default:
		return
	}
	r := m.locked(st.To.Local)
	if r == nil {
		return
	}
	o := r.byReal(st.From)
	if o == nil {
		r.mu.Unlock()
		return
	}
	m.leave(ctx, r, o, st.From, nil, 333)
}

// reply routes an IQ's answer.
func (m *Module) reply(ctx context.Context, st *stanza.Stanza, payload *stanza.Element) {
	m.route(ctx, st.Result(payload))
}

// route routes an element the service made (its from and to set).
func (m *Module) route(ctx context.Context, el *stanza.Element) {
	st, e := stanza.Parse(el)
	if e != nil {
		m.log.Error("the chat service made a stanza it cannot route", "err", e.Text)
		return
	}
	m.r.Route(ctx, st)
}

// delivery is one stanza for one address.
type delivery struct {
	to jid.JID
	el *stanza.Element
}

// deliver sends each stanza: to a local session through router.Deliver
// (unless its account blocks the sender), to a bare JID or another server
// through Route; a local full JID whose session is gone gets nothing.
func (m *Module) deliver(ctx context.Context, ds []delivery) {
	var remote []delivery
	var fromText string
	var from jid.JID
	for _, d := range ds {
		if d.to.Domain == m.domain && d.to.Resource != "" {
			s := m.r.Session(d.to)
			if s == nil {
				continue
			}
			// The recipient's block list (XEP-0191) holds for the room and
			// its occupants as for anyone.
			if f := d.el.Attr("from"); f != fromText {
				fromText = f
				from, _ = jid.Parse(f)
			}
			if m.r.Blocked(d.to.Local, from) {
				continue
			}
			m.r.Deliver(ctx, s, d.el)
			continue
		}
		remote = append(remote, d)
	}
	for _, d := range remote {
		m.route(ctx, d.el)
	}
}

// addressed returns el for to: a shallow copy with its own to attribute
// (children shared, never changed).
func addressed(el *stanza.Element, to jid.JID) delivery {
	c := &stanza.Element{Name: el.Name, NS: el.NS, Children: el.Children[:len(el.Children):len(el.Children)], Mem: el.Mem}
	c.Attrs = make([]stanza.Attr, 0, len(el.Attrs)+1)
	for _, a := range el.Attrs {
		if a.Space != "" || a.Name != "to" {
			c.Attrs = append(c.Attrs, a)
		}
	}
	c.Attrs = append(c.Attrs, stanza.Attr{Name: "to", Value: to.String()})
	return delivery{to: to, el: c}
}

// flush delivers what a room's change produced: called with r.mu held, it
// takes the room's next turn, releases r.mu, waits for the turns before
// it, delivers and ends its turn, so that the room's stanzas reach
// everyone in the order the room made them and no room lock is held
// while delivering.
func (m *Module) flush(ctx context.Context, r *room, ds []delivery) {
	_ = m.send(ctx, r, ds, nil)
}

// send is flush for deliveries that wait for a durable write first (an
// archived message): the write is queued under r.mu, the wait happens
// after r.mu is released, so that writes of a busy room share group
// commits and the room stays open meanwhile. When the write failed,
// nothing is delivered and its error is returned.
func (m *Module) send(ctx context.Context, r *room, ds []delivery, d router.Durable) *stanza.Error {
	prev, mine := r.turn()
	r.mu.Unlock()
	defer close(mine)
	var failed *stanza.Error
	if d != nil {
		<-d.Done()
		failed = d.Failed()
	}
	if prev != nil {
		<-prev
	}
	if failed == nil {
		m.deliver(ctx, ds)
	}
	return failed
}

// turn returns the room's next turn to deliver, r.mu held: the turn may
// begin once prev is closed (nil: at once), and ends by closing mine.
func (r *room) turn() (prev <-chan struct{}, mine chan struct{}) {
	prev, mine = r.last, make(chan struct{})
	r.last = mine
	return prev, mine
}
