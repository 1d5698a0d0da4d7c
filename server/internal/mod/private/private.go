// Package private implements XEP-0049: Private XML Storage.
//
// An account stores arbitrary XML under the name and namespace of its root
// element and reads it back; nobody else can do either (XEP-0049 4).
package private

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"

	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Module stores private XML.
type Module struct {
	db        *storage.DB
	quota     *quota.Limits
	bookmarks Bookmarks
	log       *slog.Logger
}

// Bookmarks is told about each element stored (XEP-0411: XEP-0048
// bookmarks become personal eventing's XEP-0402 bookmarks).
type Bookmarks interface {
	PrivateStored(ctx context.Context, user string, el *stanza.Element)
}

// Deps are what the module needs.
type Deps struct {
	DB        *storage.DB
	Quota     *quota.Limits // nil: the defaults
	Bookmarks Bookmarks     // may be nil
	Log       *slog.Logger
}

// New returns the private storage module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	return &Module{db: d.DB, quota: d.Quota, bookmarks: d.Bookmarks, log: d.Log}
}

// Register installs the handler. Private storage belongs to accounts; a
// client reaches its own by sending without 'to' (XEP-0049 2.3 examples),
// that is to its bare JID. Sent to the server, it is service-unavailable.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Target: router.ToAccount, Name: "query", NS: stanza.NSPrivate}, m.handle)
}

// Features returns the disco#info features of the module.
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSPrivate}}
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if st.From.Bare() != st.To {
		// XEP-0049 2.3: another user's data is forbidden.
		return nil, stanza.ErrForbidden()
	}
	user := st.To.Local
	items := q.Elements()
	// XEP-0049 2.3: at least one child element with a namespace of its
	// own, else not-acceptable.
	if len(items) == 0 {
		return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "name the element to store or fetch")
	}
	for _, it := range items {
		if reserved(it.NS) {
			return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "reserved namespace")
		}
	}
	if st.Type == "get" {
		// XEP-0049 2.3: a get asks for one namespace only.
		if len(items) > 1 {
			return nil, stanza.ErrBadRequest("fetch one element at a time")
		}
		return m.get(ctx, user, items[0])
	}
	return nil, m.set(ctx, user, items)
}

// reserved reports the namespaces XEP-0049 2.3 reserves: those beginning
// with "jabber:" or "http://jabber.org/", and "vcard-temp". Storing under
// them would shadow the protocols that own them.
func reserved(ns string) bool {
	return ns == "" || strings.HasPrefix(ns, "jabber:") || strings.HasPrefix(ns, "http://jabber.org/") || ns == stanza.NSVCard
}

// key is the storage key of an element: its name and namespace.
func key(el *stanza.Element) string { return el.Name + " " + el.NS }

func (m *Module) get(ctx context.Context, user string, want *stanza.Element) (*stanza.Element, *stanza.Error) {
	res := stanza.New("query", stanza.NSPrivate)
	raw, err := m.db.Private(ctx, user, key(want))
	if errors.Is(err, storage.ErrNotFound) {
		// Nothing stored: the empty element, as clients expect.
		return res.Append(stanza.New(want.Name, want.NS)), nil
	}
	if err != nil {
		m.log.Warn("private lookup failed", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	els, err := parse(raw)
	if err != nil {
		m.log.Warn("stored private XML unreadable", "user", user, "key", key(want), "err", err)
		return nil, stanza.ErrInternal()
	}
	return res.Append(els...), nil
}

// set stores the elements; several with the same name and namespace are
// stored together (XEP-0049 2.3 allows several in one set).
func (m *Module) set(ctx context.Context, user string, items []*stanza.Element) *stanza.Error {
	var keys []string
	data := make(map[string]*bytes.Buffer)
	for _, it := range items {
		k := key(it)
		b := data[k]
		if b == nil {
			b = new(bytes.Buffer)
			data[k] = b
			keys = append(keys, k)
		}
		it.WriteTo(b, "")
	}
	// The quota is on all the account keeps, the old values of these keys
	// replaced by the new ones; checked for the whole set before any of it
	// is stored.
	total, err := m.db.PrivateSize(ctx, user, keys...)
	if err != nil {
		m.log.Warn("private storage size not read", "user", user, "err", err)
		return stanza.ErrInternal()
	}
	for _, k := range keys {
		total += int64(data[k].Len())
	}
	if max := m.quota.PrivateBytes.Load(); total > max {
		return quota.Full("private storage", max, "bytes")
	}
	for _, k := range keys {
		if err := m.db.SetPrivate(ctx, user, k, data[k].Bytes()); err != nil {
			m.log.Warn("private XML not stored", "user", user, "key", k, "err", err)
			return stanza.ErrInternal()
		}
	}
	if m.bookmarks != nil {
		for _, it := range items {
			m.bookmarks.PrivateStored(ctx, user, it)
		}
	}
	return nil
}

// parse reads back the elements stored by set.
func parse(raw []byte) ([]*stanza.Element, error) {
	d := stream.NewDecoder(bytes.NewReader(raw), stream.Limits{MaxStanza: len(raw) + 1})
	var out []*stanza.Element
	for {
		el, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, el)
	}
}
