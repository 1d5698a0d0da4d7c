// Package blocking implements XEP-0191: Blocking Command.
//
// Each account's block list lives in storage and, once an account is
// looked at, in memory as an immutable set that a change replaces, so that
// Blocks, which the router asks about every stanza to or from an account,
// takes a read lock and a few map lookups and allocates nothing.
package blocking

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"hearth/server/internal/jid"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Presence sends what block list changes mean for presence: unavailable
// presence to contacts just blocked (XEP-0191 3.3) and the account's
// current presence to those unblocked that may see it (XEP-0191 3.4, 3.5).
type Presence interface {
	Blocked(ctx context.Context, user string, blocked []jid.JID)
	Unblocked(ctx context.Context, user string, unblocked []jid.JID)
}

// Deps are what the module needs.
type Deps struct {
	DB       *storage.DB
	Router   *router.Router // pushes to the account's sessions
	Presence Presence       // may be nil
	Quota    *quota.Limits  // nil: the defaults
	Log      *slog.Logger
}

// Module keeps block lists, answers the blocking command and is the
// router's Blocker.
type Module struct {
	db       *storage.DB
	r        *router.Router
	presence Presence
	quota    *quota.Limits
	domain   string
	log      *slog.Logger
	pushes   atomic.Uint64 // push IQ ids

	mu       sync.RWMutex
	lists    map[string]*list // by account
	sweepAt  int              // sweep empty lists when len(lists) passes this
	sweepMin int              // the least sweepAt
}

// list is one account's cached block list.
type list struct {
	mu  sync.Mutex          // held while loading or changing the list
	set atomic.Pointer[set] // nil until loaded; replaced, never changed
}

// set is a block list as a set of the JIDs on it.
type set map[jid.JID]struct{}

// minSweep is how many cached lists may exist before empty ones are
// dropped: every stanza to any localpart, existing or not, asks Blocks, so
// the cache of empty lists must be bounded.
const minSweep = 4096

// New returns the blocking module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	m := &Module{
		db:       d.DB,
		r:        d.Router,
		presence: d.Presence,
		quota:    d.Quota,
		log:      d.Log,
		lists:    make(map[string]*list),
		sweepAt:  minSweep,
		sweepMin: minSweep,
	}
	if d.Router != nil {
		m.domain = d.Router.Domain
	}
	return m
}

// Register installs the command's handlers, for the account's own bare
// JID (clients send without 'to', XEP-0191 3.2), and makes the module the
// router's block list. Each command is registered for both types: the
// wrong one is a bad-request, as the handler says.
func (m *Module) Register(mux *router.Mux) {
	for _, name := range []string{"blocklist", "block", "unblock"} {
		mux.HandleIQ(router.Pattern{Types: []string{"get", "set"}, Target: router.ToAccount, Name: name, NS: stanza.NSBlocking}, m.handle)
	}
	mux.Blocker(m)
}

// Features returns the disco#info features of the module (XEP-0191 3.1).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSBlocking}}
}

// Blocks reports whether user blocks other. It follows XEP-0191 6, JID
// Matching (as XEP-0016 2.1): a blocked full JID matches only itself, a
// bare JID any of its resources, domain/resource only that, and a domain
// itself, every address at it and every address at its subdomains.
//
// The server itself and the account's own addresses are never blocked: a
// user who blocks the server's domain must still get the server's answers,
// including the one to the unblock command. A list that cannot be loaded
// blocks nothing; it is tried again on the next call.
func (m *Module) Blocks(user string, other jid.JID) bool {
	if other.Domain == m.domain && (other.Local == "" || other.Local == user) {
		return false
	}
	s, err := m.list(context.Background(), user)
	if err != nil {
		m.log.Warn("block list not loaded", "user", user, "err", err)
		return false
	}
	return s.matches(other)
}

func (s set) matches(j jid.JID) bool {
	if len(s) == 0 {
		return false
	}
	if _, ok := s[j]; ok {
		return true
	}
	if j.Resource != "" {
		if _, ok := s[j.Bare()]; ok {
			return true
		}
	}
	for d := j.Domain; ; {
		if _, ok := s[jid.JID{Domain: d}]; ok {
			return true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
	}
}

// UserRemoved drops the cached list of an account that was deleted: an
// account created again with the same name starts with an empty list.
func (m *Module) UserRemoved(_ context.Context, user string) {
	m.mu.Lock()
	delete(m.lists, user)
	m.mu.Unlock()
}

// list returns user's block list, loading it on first use.
func (m *Module) list(ctx context.Context, user string) (set, error) {
	m.mu.RLock()
	l := m.lists[user]
	m.mu.RUnlock()
	if l != nil {
		if s := l.set.Load(); s != nil {
			return *s, nil
		}
	} else {
		m.mu.Lock()
		l = m.entry(user)
		m.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return m.loaded(ctx, l, user)
}

// entry returns user's cache entry, adding it; m.mu must be held.
func (m *Module) entry(user string) *list {
	l := m.lists[user]
	if l == nil {
		if len(m.lists) >= m.sweepAt {
			m.sweep()
		}
		l = &list{}
		m.lists[user] = l
	}
	return l
}

// sweep drops the empty and unloaded lists nobody is using; m.mu must be
// held. An empty list is a cheap query to load again.
func (m *Module) sweep() {
	for u, l := range m.lists {
		if !l.mu.TryLock() {
			continue
		}
		if s := l.set.Load(); s == nil || len(*s) == 0 {
			delete(m.lists, u)
		}
		l.mu.Unlock()
	}
	m.sweepAt = max(m.sweepMin, 2*len(m.lists))
}

// loaded returns the list in l, loading it from storage if need be; l.mu
// must be held.
func (m *Module) loaded(ctx context.Context, l *list, user string) (set, error) {
	if s := l.set.Load(); s != nil {
		return *s, nil
	}
	js, err := m.db.BlockList(ctx, user)
	if err != nil {
		return nil, err
	}
	s := make(set, len(js))
	for _, v := range js {
		j, err := jid.Parse(v)
		if err != nil {
			m.log.Warn("stored blocked JID unreadable", "user", user, "jid", v)
			continue
		}
		s[j] = struct{}{}
	}
	l.set.Store(&s)
	return s, nil
}

// change runs fn on user's loaded list with the list locked and installs
// the set fn returns. The entry is locked while m.mu is held so that a
// sweep cannot drop it half-way.
func (m *Module) change(ctx context.Context, user string, fn func(cur set) (set, error)) error {
	m.mu.Lock()
	l := m.entry(user)
	l.mu.Lock()
	m.mu.Unlock()
	defer l.mu.Unlock()
	cur, err := m.loaded(ctx, l, user)
	if err != nil {
		return err
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	l.set.Store(&next)
	return nil
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	p := st.Payload()
	if st.From.Bare() != st.To {
		return nil, stanza.ErrForbidden()
	}
	user := st.To.Local
	if (p.Name == "blocklist") != (st.Type == "get") {
		return nil, stanza.ErrBadRequest("blocklist is a get, block and unblock are sets")
	}
	var err error
	switch p.Name {
	case "blocklist":
		return m.blocklist(ctx, user, st.From)
	case "block":
		items, e := parseItems(p)
		if e != nil {
			return nil, e
		}
		// XEP-0191 3.3: a block names at least one JID.
		if len(items) == 0 {
			return nil, stanza.ErrBadRequest("nothing to block")
		}
		err = m.block(ctx, user, items)
		if errors.Is(err, errFull) {
			return nil, quota.Full("block list", m.quota.BlockItems.Load(), "addresses")
		}
	case "unblock":
		items, e := parseItems(p)
		if e != nil {
			return nil, e
		}
		err = m.unblock(ctx, user, items)
	}
	if err != nil {
		m.log.Warn("block list not changed", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	return nil, nil
}

// parseItems reads the <item jid='...'/> children; each must be a valid
// JID (jid-malformed otherwise). Duplicates are dropped.
func parseItems(p *stanza.Element) ([]jid.JID, *stanza.Error) {
	var out []jid.JID
	for _, c := range p.Children {
		if c.Name != "item" || c.NS != stanza.NSBlocking {
			continue
		}
		j, err := jid.Parse(c.Attr("jid"))
		if err != nil {
			return nil, stanza.NewError(stanza.Modify, stanza.JIDMalformed, "")
		}
		if !slices.Contains(out, j) {
			out = append(out, j)
		}
	}
	return out, nil
}

// blocklist answers XEP-0191 3.2 and remembers that the asking session
// wants pushes.
func (m *Module) blocklist(ctx context.Context, user string, from jid.JID) (*stanza.Element, *stanza.Error) {
	s, err := m.list(ctx, user)
	if err != nil {
		m.log.Warn("block list not loaded", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	m.want(from)
	js := make([]string, 0, len(s))
	for j := range s {
		js = append(js, j.String())
	}
	slices.Sort(js)
	res := stanza.New("blocklist", stanza.NSBlocking)
	for _, j := range js {
		res.Append(stanza.New("item", stanza.NSBlocking, "jid", j))
	}
	return res, nil
}

func (m *Module) block(ctx context.Context, user string, items []jid.JID) error {
	var added []jid.JID
	err := m.change(ctx, user, func(cur set) (set, error) {
		for _, j := range items {
			if _, ok := cur[j]; !ok {
				added = append(added, j)
			}
		}
		if len(added) == 0 {
			return cur, nil
		}
		if int64(len(cur)+len(added)) > m.quota.BlockItems.Load() {
			return nil, errFull
		}
		if err := m.db.Block(ctx, user, strs(added)); err != nil {
			return nil, err
		}
		next := make(set, len(cur)+len(added))
		for j := range cur {
			next[j] = struct{}{}
		}
		for _, j := range added {
			next[j] = struct{}{}
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	// XEP-0191 3.3: push the block to every session that fetched the list.
	m.push(ctx, user, itemsElement("block", items))
	if len(added) > 0 && m.presence != nil {
		m.presence.Blocked(ctx, user, added)
	}
	return nil
}

// unblock removes items, or with none every JID (XEP-0191 3.5).
func (m *Module) unblock(ctx context.Context, user string, items []jid.JID) error {
	var removed []jid.JID
	err := m.change(ctx, user, func(cur set) (set, error) {
		if len(items) == 0 {
			for j := range cur {
				removed = append(removed, j)
			}
			// Everything, including anything stored behind the cache's
			// back.
			if err := m.db.Unblock(ctx, user, nil); err != nil {
				return nil, err
			}
			return set{}, nil
		}
		for _, j := range items {
			if _, ok := cur[j]; ok {
				removed = append(removed, j)
			}
		}
		if len(removed) == 0 {
			return cur, nil
		}
		if err := m.db.Unblock(ctx, user, strs(removed)); err != nil {
			return nil, err
		}
		next := make(set, len(cur))
		for j := range cur {
			next[j] = struct{}{}
		}
		for _, j := range removed {
			delete(next, j)
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	// XEP-0191 3.4, 3.5: push the unblock (empty for everyone).
	m.push(ctx, user, itemsElement("unblock", items))
	if len(removed) > 0 && m.presence != nil {
		slices.SortFunc(removed, func(a, b jid.JID) int { return strings.Compare(a.String(), b.String()) })
		m.presence.Unblocked(ctx, user, removed)
	}
	return nil
}

func strs(js []jid.JID) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.String()
	}
	return out
}

func itemsElement(name string, items []jid.JID) *stanza.Element {
	el := stanza.New(name, stanza.NSBlocking)
	for _, j := range items {
		el.Append(stanza.New("item", stanza.NSBlocking, "jid", j.String()))
	}
	return el
}

// want records that the session bound to full fetched the block list. A
// later session binding the same resource is a new Session and starts
// without it.
func (m *Module) want(full jid.JID) {
	if m.r == nil {
		return
	}
	if s := m.r.Session(full); s != nil {
		s.Want(router.PushBlocklist)
	}
}

// push sends payload in an IQ set to each of user's sessions that fetched
// the block list. Pushes share the payload, which is not changed after.
func (m *Module) push(ctx context.Context, user string, payload *stanza.Element) {
	if m.r == nil {
		return
	}
	for _, s := range m.r.Sessions(user) {
		if !s.Wants(router.PushBlocklist) {
			continue
		}
		id := "block-" + strconv.FormatUint(m.pushes.Add(1), 36)
		iq := stanza.New("iq", stanza.NSClient, "type", "set", "id", id, "to", s.JID.String())
		m.r.Deliver(ctx, s, iq.Append(payload))
	}
}

var _ router.Blocker = (*Module)(nil)

// errFull is a block list at its quota (limits.block_items).
var errFull = errors.New("block list full")
