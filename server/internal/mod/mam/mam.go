// Package mam implements XEP-0313: Message Archive Management, with the
// ids of XEP-0359 (Unique and Stable Stanza IDs). Each account has one
// archive in SQLite. The router hands every message on its way to or from
// a local account to Archive (router.Archiver), before delivery: the
// message goes into the archives of its local sender and recipient, which
// the account's preferences allow (XEP-0313 6), and the recipient's
// sessions get it with its archive id as a stanza-id. The archive rows
// commit in storage's group commit with offline messages, and join the
// sender's Pending: nothing the sender sends after a message is answered
// before the message is in its archives.
//
// Clients query their archive (XEP-0313 4) by contact, time and id, in
// pages (XEP-0059), with the #extended fields (before-id, after-id, ids,
// flip-page), read its first and last message (metadata) and set their
// preferences. Old messages are deleted after the retention time
// (mam.retention) in small steps; mam.enabled turns archiving off for the
// whole server.
package mam

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Namespaces.
const (
	NS         = "urn:xmpp:mam:2"
	NSExtended = "urn:xmpp:mam:2#extended"
	NSSID      = "urn:xmpp:sid:0"                 // XEP-0359
	NSRSM      = "http://jabber.org/protocol/rsm" // XEP-0059
	NSForward  = "urn:xmpp:forward:0"             // XEP-0297
	NSHints    = "urn:xmpp:hints"                 // XEP-0334
	NSCarbons  = "urn:xmpp:carbons:2"             // XEP-0280
)

// Defaults.
const (
	// DefaultRetention is how long a message stays in the archive.
	DefaultRetention = 365 * 24 * time.Hour
	// DefaultPage and MaxPage bound a page of results.
	DefaultPage = 50
	MaxPage     = 100
	// countLimit bounds the count a page reports (XEP-0059 2.5): counting
	// reads every matching row, so past it the count is left out.
	countLimit = 10000
	// expireChunk is how many old messages one transaction deletes.
	expireChunk = 2000
	// expireEvery is how often the retention runs.
	expireEvery = time.Hour
)

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Router *router.Router
	Domain string
	// Off: archive nothing new (setting mam.enabled; SetEnabled changes it).
	Off bool
	// Retention: delete messages older than this (0: DefaultRetention;
	// negative: keep them forever; SetRetention changes it).
	Retention time.Duration
	Log       *slog.Logger
}

// Module keeps the archives.
type Module struct {
	db     *storage.DB
	r      *router.Router
	domain string
	log    *slog.Logger

	on        atomic.Bool
	retention atomic.Int64 // nanoseconds; 0: forever
	wake      chan struct{}

	mu    sync.Mutex
	prefs map[string]*prefs // loaded per account on first use
}

// New returns the archive module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	m := &Module{db: d.DB, r: d.Router, domain: d.Domain, log: d.Log, prefs: map[string]*prefs{}, wake: make(chan struct{}, 1)}
	m.on.Store(!d.Off)
	m.setRetention(d.Retention)
	return m
}

// Register makes m the router's archiver and installs the queries.
func (m *Module) Register(mux *router.Mux) {
	mux.Archive(m)
	acct := func(typ, name string, h router.IQHandler) {
		mux.HandleIQ(router.Pattern{Types: []string{typ}, Target: router.ToAccount, Name: name, NS: NS}, h)
	}
	acct("set", "query", m.query)
	acct("get", "query", m.form)
	acct("get", "metadata", m.metadata)
	acct("get", "prefs", m.getPrefs)
	acct("set", "prefs", m.setPrefs)
}

// Features advertises the archive on accounts' bare JIDs (XEP-0313 7,
// XEP-0359 6) while archiving is on (mam.enabled): a client told of it
// would look for new messages there.
func (m *Module) Features() router.Features {
	return router.Features{Account: []string{NS, NSExtended, NSSID}, On: m.on.Load}
}

// SetEnabled turns archiving on or off (mam.enabled).
func (m *Module) SetEnabled(on bool) { m.on.Store(on) }

// SetRetention sets how long messages are kept (0: DefaultRetention,
// negative: forever) and deletes what is now too old, before it returns.
func (m *Module) SetRetention(ctx context.Context, d time.Duration) error {
	m.setRetention(d)
	return m.Expire(ctx)
}

func (m *Module) setRetention(d time.Duration) {
	switch {
	case d == 0:
		d = DefaultRetention
	case d < 0:
		d = 0
	}
	m.retention.Store(int64(d))
}

// UserRemoved forgets a deleted account's preferences (its archive went
// with the account).
func (m *Module) UserRemoved(_ context.Context, user string) {
	m.mu.Lock()
	delete(m.prefs, user)
	m.mu.Unlock()
}

// Run deletes messages past the retention time every hour until ctx is
// done.
func (m *Module) Run(ctx context.Context) {
	t := time.NewTicker(expireEvery)
	defer t.Stop()
	for {
		if err := m.Expire(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("old archived messages were not deleted; trying again in an hour", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Expire deletes the messages older than the retention time, a chunk per
// transaction so that senders never wait long behind it.
func (m *Module) Expire(ctx context.Context) error {
	keep := time.Duration(m.retention.Load())
	if keep <= 0 {
		return nil
	}
	before := idAt(time.Now().Add(-keep))
	total := int64(0)
	for ctx.Err() == nil {
		q := m.db.QueueExpireArchive(before, expireChunk)
		if err := q.Wait(); err != nil {
			return err
		}
		total += q.ID()
		if q.ID() < expireChunk {
			break
		}
	}
	if total > 0 {
		m.log.Info("old archived messages deleted", "messages", total, "older_than", keep.String())
	}
	return ctx.Err()
}

// errNotArchived is what the sender of a message the archive could not
// take is told.
var errNotArchived = stanza.NewError(stanza.Wait, stanza.InternalServerError,
	"the server could not save this message in the archive; try again later")
