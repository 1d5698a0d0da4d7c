package pep

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// XEP-0402 (PEP Native Bookmarks), XEP-0048 (Bookmarks, in private XML
// storage or the PEP node of its name) and XEP-0411 (the conversion
// between them).
const (
	nsBookmarks2   = "urn:xmpp:bookmarks:1"
	nsBookmarks    = "storage:bookmarks"
	nsBookmarksCvt = "urn:xmpp:bookmarks-conversion:0"
	privateKey     = "storage " + nsBookmarks // private storage's key (mod/private)
)

// bookmarksConfig is how the server makes a bookmarks node: the owner's
// alone, every item kept, nothing sent on presence (XEP-0402 3.1).
func bookmarksConfig(node string) storage.PubsubNode {
	n := defaultConfig(node)
	n.Access, n.MaxItems, n.SendLast = AccessWhitelist, 0, sendNever
	return n
}

// published follows an item a client published: bookmarks are converted.
func (m *Module) published(ctx context.Context, user, node string, payload *stanza.Element) {
	switch node {
	case nsBookmarks2:
		m.toLegacy(ctx, user)
	case nsBookmarks:
		if payload.Name == "storage" && payload.NS == nsBookmarks {
			m.fromLegacy(ctx, user, payload, false)
		}
	}
}

// retracted follows an item a client retracted.
func (m *Module) retracted(ctx context.Context, user, node string) {
	if node == nsBookmarks2 {
		m.toLegacy(ctx, user)
	}
}

// PrivateStored implements private.Bookmarks: XEP-0048 bookmarks stored
// in private XML storage become XEP-0402 bookmarks (XEP-0411 4).
func (m *Module) PrivateStored(ctx context.Context, user string, el *stanza.Element) {
	if el.Name == "storage" && el.NS == nsBookmarks {
		m.fromLegacy(ctx, user, el, true)
	}
}

// toLegacy writes the XEP-0402 bookmarks as XEP-0048's <storage/>: in
// private XML storage and, if the account has it, the PEP node.
func (m *Module) toLegacy(ctx context.Context, user string) {
	its, err := m.db.PEPItems(ctx, user, nsBookmarks2, 0, nil)
	if err != nil {
		m.log.Warn("bookmarks not converted: not read", "user", user, "err", err)
		return
	}
	st := stanza.New("storage", nsBookmarks)
	// What XEP-0402 has no place for (URLs) stays.
	if raw, err := m.db.Private(ctx, user, privateKey); err == nil {
		if old, err := pubsub.ParsePayload(raw); err == nil {
			for _, c := range old.Children {
				if c.Name == "url" && c.NS == nsBookmarks {
					st.Append(c)
				}
			}
		}
	}
	for _, it := range its {
		c, err := pubsub.ParsePayload(it.Payload)
		if err != nil || c.Name != "conference" || c.NS != nsBookmarks2 {
			continue
		}
		if _, err := jid.Parse(it.ID); err != nil {
			continue
		}
		conf := stanza.New("conference", nsBookmarks, "jid", it.ID, "name", c.Attr("name"), "autojoin", c.Attr("autojoin"))
		for _, name := range []string{"nick", "password"} {
			if v := c.ChildText(name, nsBookmarks2); v != "" {
				conf.Append(stanza.New(name, nsBookmarks).AppendText(v))
			}
		}
		st.Append(conf)
	}
	if err := m.db.SetPrivate(ctx, user, privateKey, st.Bytes()); err != nil {
		m.log.Warn("bookmarks not converted to private storage", "user", user, "err", err)
	}
	if _, e := m.node(ctx, user, nsBookmarks); e == nil {
		self := jid.JID{Local: user, Domain: m.r.Domain}
		if e := m.publishAs(ctx, user, self, nsBookmarks, "current", st, AccessWhitelist); e != nil {
			m.log.Warn("bookmarks not converted to their PEP node", "user", user, "err", e.Error())
		}
	}
}

// fromLegacy makes the XEP-0402 bookmarks those of an XEP-0048
// <storage/>: conferences added or changed are published, those gone
// retracted. inPrivate: it came from private storage, and the legacy PEP
// node (if there is one) follows; else it came from that node, and
// private storage follows.
func (m *Module) fromLegacy(ctx context.Context, user string, st *stanza.Element, inPrivate bool) {
	self := jid.JID{Local: user, Domain: m.r.Domain}
	its, err := m.db.PEPItems(ctx, user, nsBookmarks2, 0, nil)
	if err != nil {
		m.log.Warn("bookmarks not converted: not read", "user", user, "err", err)
		return
	}
	have := make(map[string][]byte, len(its))
	for _, it := range its {
		have[it.ID] = it.Payload
	}
	n, e := m.node(ctx, user, nsBookmarks2)
	exists := e == nil
	if !exists {
		n = bookmarksConfig(nsBookmarks2)
	}
	var keep []string
	for _, c := range st.Children {
		if c.Name != "conference" || c.NS != nsBookmarks {
			continue
		}
		room, err := jid.Parse(c.Attr("jid"))
		if err != nil || room.Local == "" || room.Resource != "" {
			continue
		}
		id := room.String()
		if slices.Contains(keep, id) {
			continue
		}
		keep = append(keep, id)
		conf := stanza.New("conference", nsBookmarks2, "name", c.Attr("name"), "autojoin", normBool(c.Attr("autojoin")))
		for _, name := range []string{"nick", "password"} {
			if v := c.ChildText(name, nsBookmarks); v != "" {
				conf.Append(stanza.New(name, nsBookmarks2).AppendText(v))
			}
		}
		b := conf.Bytes()
		if old, ok := have[id]; ok && string(old) == string(b) {
			continue
		}
		if e := m.room(ctx, user, nsBookmarks2, id, exists, int64(len(b))); e != nil {
			m.log.Warn("bookmark not converted", "user", user, "err", e.Error())
			return
		}
		if e := m.store(ctx, user, self, n, id, b); e != nil {
			return
		}
		exists = true
		m.notifyItem(ctx, user, n, id, conf)
	}
	for id := range have {
		if slices.Contains(keep, id) {
			continue
		}
		err := m.db.RetractPEPItem(ctx, user, nsBookmarks2, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Warn("bookmark not retracted", "user", user, "err", err)
			continue
		}
		if n.NotifyRetract {
			m.notify(ctx, user, n, stanza.New("items", NSEvent, "node", n.Node).Append(stanza.New("retract", NSEvent, "id", id)))
		}
	}
	if inPrivate {
		if _, e := m.node(ctx, user, nsBookmarks); e == nil {
			if e := m.publishAs(ctx, user, self, nsBookmarks, "current", st, AccessWhitelist); e != nil {
				m.log.Warn("bookmarks not converted to their PEP node", "user", user, "err", e.Error())
			}
		}
		return
	}
	if err := m.db.SetPrivate(ctx, user, privateKey, st.Bytes()); err != nil {
		m.log.Warn("bookmarks not converted to private storage", "user", user, "err", err)
	}
}

// normBool writes XEP-0048's autojoin ("1" or "true") as XEP-0402 does.
func normBool(s string) string {
	if s == "1" || s == "true" {
		return "true"
	}
	return "false"
}

// bookmarksOptions are the publish-options XEP-0402 3.3 asks of a
// client's publish to its bookmarks node; the server's own publish
// (AddBookmark) holds to them as well.
var bookmarksOptions = map[string][]string{
	"pubsub#persist_items": {"true"},
	"pubsub#max_items":     {"max"},
	"pubsub#access_model":  {AccessWhitelist},
}

// AddBookmark publishes a XEP-0402 bookmark of room, a <conference
// xmlns='urn:xmpp:bookmarks:1'/> element, into the account's bookmarks
// node, as a client of the account would (the node made as XEP-0402 3.1
// says if there is none), unless the node holds one for that room
// already: what the account chose is never overwritten. added says
// whether it published. The account's sessions and its other bookmark
// stores (XEP-0411) follow, as for any publish.
//
// An existing node configured otherwise than XEP-0402 asks (others
// could read it) is left alone, with an error.
func (m *Module) AddBookmark(ctx context.Context, user string, room jid.JID, conference *stanza.Element) (added bool, err error) {
	if conference == nil || conference.Name != "conference" || conference.NS != nsBookmarks2 {
		return false, errors.New("a bookmark is a <conference xmlns='urn:xmpp:bookmarks:1'/>")
	}
	id := room.Bare().String()
	if room.Local == "" {
		return false, errors.New("a bookmark's room needs a name before the @")
	}
	n, err := m.db.PEPNode(ctx, user, nsBookmarks2)
	exists := err == nil
	switch {
	case errors.Is(err, storage.ErrNotFound):
		n = bookmarksConfig(nsBookmarks2)
	case err != nil:
		return false, fmt.Errorf("bookmarks of %s not read: %w", user, err)
	default:
		if c, _, e := apply(n, bookmarksOptions); e != nil || c != n {
			return false, fmt.Errorf("%s's bookmarks node is configured so that others may read it; the bookmark of %s was not added", user, id)
		}
		its, err := m.db.PEPItems(ctx, user, nsBookmarks2, 0, []string{id})
		if err != nil {
			return false, fmt.Errorf("bookmarks of %s not read: %w", user, err)
		}
		if len(its) > 0 {
			return false, nil
		}
	}
	b := conference.Bytes()
	if e := m.room(ctx, user, nsBookmarks2, id, exists, int64(len(b))); e != nil {
		return false, notAdded(user, id, e)
	}
	self := jid.JID{Local: user, Domain: m.r.Domain}
	if e := m.store(ctx, user, self, n, id, b); e != nil {
		return false, notAdded(user, id, e)
	}
	m.notifyItem(ctx, user, n, id, conference)
	m.published(ctx, user, nsBookmarks2, conference)
	return true, nil
}

// notAdded says why a bookmark the server meant to add is not there.
func notAdded(user, id string, e *stanza.Error) error {
	why := e.Text
	if why == "" {
		why = "the server could not store it (the log says why)"
	}
	return fmt.Errorf("the bookmark of %s was not added for %s: %s", id, user, why)
}
