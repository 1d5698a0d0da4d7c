package pep

import (
	"context"
	"sync"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// maxSeen bounds the full JIDs whose presence one account follows.
const maxSeen = 2000

// presenceTable is, per account, the full JIDs whose available presence
// reached it (its own sessions and others) with the capabilities they
// announced: who gets notifications (XEP-0163 4.3.1). It lives in memory:
// after a restart contacts count again as their presence arrives.
type presenceTable struct {
	mu     sync.Mutex
	byUser map[string]map[jid.JID]capsKey
}

func newPresenceTable() *presenceTable {
	return &presenceTable{byUser: make(map[string]map[jid.JID]capsKey)}
}

// set records full's capabilities for user and reports whether they are
// new (the JID was not available, or announced other capabilities).
func (t *presenceTable) set(user string, full jid.JID, k capsKey) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byUser[user]
	if m == nil {
		m = make(map[jid.JID]capsKey)
		t.byUser[user] = m
	}
	old, ok := m[full]
	if ok && old == k {
		return false
	}
	if !ok && len(m) >= maxSeen {
		return false
	}
	m[full] = k
	return true
}

func (t *presenceTable) remove(user string, full jid.JID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.byUser[user]; m != nil {
		delete(m, full)
		if len(m) == 0 {
			delete(t.byUser, user)
		}
	}
}

func (t *presenceTable) forget(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byUser, user)
}

// snapshot returns user's available full JIDs and their capabilities.
func (t *presenceTable) snapshot(user string) map[jid.JID]capsKey {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[jid.JID]capsKey, len(t.byUser[user]))
	for j, k := range t.byUser[user] {
		out[j] = k
	}
	return out
}

// Outgoing implements presence.Watcher: the avatar's hash goes into the
// account's presence (XEP-0398).
func (m *Module) Outgoing(ctx context.Context, s *router.Session, el *stanza.Element) *stanza.Element {
	return m.withPhoto(ctx, s.JID.Local, el)
}

// SessionAvailable implements presence.Watcher: a session that comes
// online, or announces new capabilities, gets the last item of each node
// it asks notifications for (XEP-0163 4.3.2).
func (m *Module) SessionAvailable(ctx context.Context, s *router.Session, el *stanza.Element, _ bool) {
	m.available(ctx, s.JID.Local, s.JID, capsOf(el))
}

// Presence implements presence.Watcher: another entity's presence reached
// the account.
func (m *Module) Presence(ctx context.Context, user string, st *stanza.Stanza) {
	if st.From.Resource == "" {
		return
	}
	if st.Type == "unavailable" {
		m.seen.remove(user, st.From)
		return
	}
	if st.Type != "" {
		return
	}
	m.available(ctx, user, st.From, capsOf(st.El))
}

// available records that full, with capabilities k, is available to user
// and sends it the last items once its features are known.
func (m *Module) available(ctx context.Context, user string, full jid.JID, k capsKey) {
	defer m.order.Lock(user)()
	if m.seen.set(user, full, k) {
		m.whenKnown(ctx, user, full, k)
	}
}

// whenKnown sends full the last items of user's nodes once its features
// are known: now, or when the caps query is answered.
func (m *Module) whenKnown(ctx context.Context, user string, full jid.JID, k capsKey) {
	if k.zero() {
		return
	}
	if fs, ok := m.caps.features(k); ok {
		m.sendLast(ctx, user, full, fs)
		return
	}
	if q := m.caps.want(k, user, full); q != nil {
		if !m.tasks.Go(func(ctx context.Context) { m.askCaps(ctx, user, q) }) {
			m.caps.failed(q)
		}
	}
}

// askCaps asks the entity behind a caps key for its features (XEP-0115
// 6.2), in the name of the account that saw it, and sends the last items
// to those who waited for them.
func (m *Module) askCaps(ctx context.Context, user string, q *capsQuery) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	from := jid.JID{Local: user, Domain: m.r.Domain}
	a, err := m.r.Request(ctx, from, q.to, "get", stanza.New("query", stanza.NSDiscoInfo, "node", q.key.node+"#"+q.key.ver))
	if err != nil {
		m.caps.failed(q)
		return
	}
	defer m.order.LockAll()()
	fs, waiters, ok := m.caps.answered(q, a)
	if !ok {
		return
	}
	if fs == nil {
		m.log.Debug("caps query failed or its answer does not match the hash", "from", a.From.String())
		return
	}
	for _, w := range waiters {
		m.sendLast(ctx, w.user, w.full, fs)
	}
}

// sendLast sends full the last item of each of user's nodes that sends
// it on presence, that full asks notifications for and may see.
func (m *Module) sendLast(ctx context.Context, user string, full jid.JID, fs map[string]bool) {
	nodes, err := m.db.PEPNodes(ctx, user)
	if err != nil {
		m.log.Warn("pep nodes not read", "user", user, "err", err)
		return
	}
	for _, n := range nodes {
		if n.SendLast != sendPresence || !fs[n.Node+"+notify"] {
			continue
		}
		if ok, _ := m.mayAccess(ctx, user, n, full); !ok {
			continue
		}
		its, err := m.db.PEPItems(ctx, user, n.Node, 1, nil)
		if err != nil || len(its) == 0 {
			continue
		}
		el, err := pubsub.ItemElement(NSEvent, its[0])
		if err != nil {
			continue
		}
		m.send(ctx, user, []jid.JID{full}, stanza.New("items", NSEvent, "node", n.Node).Append(el))
	}
}

// wants reports whether an entity with capabilities k asks for
// notifications of node (XEP-0163 4.3.1, filtered notifications).
func (m *Module) wants(k capsKey, node string) bool {
	if k.zero() {
		return false
	}
	fs, ok := m.caps.features(k)
	return ok && fs[node+"+notify"]
}

// interested returns the full JIDs that get a node's notifications: the
// account's available sessions and the others whose presence reached it,
// that ask for them and may see the node.
func (m *Module) interested(ctx context.Context, user string, n storage.PubsubNode) []jid.JID {
	var out []jid.JID
	self := jid.JID{Local: user, Domain: m.r.Domain}
	for _, s := range m.r.Sessions(user) {
		if avail, _, el := s.Presence(); avail && m.wants(capsOf(el), n.Node) {
			out = append(out, s.JID)
		}
	}
	if n.Access == AccessWhitelist {
		return out
	}
	allowed := make(map[jid.JID]bool)
	for full, k := range m.seen.snapshot(user) {
		if full.Bare() == self || !m.wants(k, n.Node) {
			continue
		}
		ok, seen := allowed[full.Bare()]
		if !seen {
			ok, _ = m.mayAccess(ctx, user, n, full)
			allowed[full.Bare()] = ok
		}
		if ok {
			out = append(out, full)
		}
	}
	return out
}

// notifyItem tells those interested about a published item.
func (m *Module) notifyItem(ctx context.Context, user string, n storage.PubsubNode, id string, payload *stanza.Element) {
	m.notify(ctx, user, n, pubsub.ItemsEvent(n.Node, id, payload))
}

// notify sends an event about node n to those interested.
func (m *Module) notify(ctx context.Context, user string, n storage.PubsubNode, ev *stanza.Element) {
	m.send(ctx, user, m.interested(ctx, user, n), ev)
}

// send routes the event ev from the account's bare JID to each of to.
func (m *Module) send(ctx context.Context, user string, to []jid.JID, ev *stanza.Element) {
	pubsub.Send(ctx, m.r, jid.JID{Local: user, Domain: m.r.Domain}, to, ev)
}
