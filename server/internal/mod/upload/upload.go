// Package upload is HTTP file upload (XEP-0363): the service at
// upload.<domain> hands the server's accounts signed PUT URLs (slots) on
// the HTTPS listener, keeps the files in the data directory with their
// records in storage, serves them to whoever has their URL, and deletes
// them when they expire or their owner's account goes.
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/web"
	"hearth/storage"
)

// Defaults of the settings (upload.*).
const (
	DefaultMaxFileBytes = 100 << 20
	DefaultQuotaBytes   = 1 << 30
	DefaultDailyBytes   = 512 << 20
	DefaultExpiry       = 30 * 24 * time.Hour
	// SlotLifetime is how long a PUT URL is good for.
	SlotLifetime = 10 * time.Minute
	// purgeEvery is how often expired files are looked for.
	purgeEvery = time.Hour
)

// pathPrefix is where the files are on the HTTPS listener.
const pathPrefix = "/upload/"

// Limits are the settings; zero values take the defaults.
type Limits struct {
	MaxFileBytes int64         // upload.max_file_bytes
	QuotaBytes   int64         // upload.quota_bytes: files kept per account (negative: none)
	DailyBytes   int64         // upload.daily_bytes: asked for per account per day (negative: none)
	Expiry       time.Duration // upload.expiry: how long a file is kept
}

// Deps are what the module needs.
type Deps struct {
	DB      *storage.DB
	Router  *router.Router
	Domain  string
	DataDir string // "": files go in a temporary directory (tests without one)
	// Web is the HTTPS listener: where the files are, and their URLs.
	Web    *web.Server
	Limits Limits
	Log    *slog.Logger
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

// Module is the upload service.
type Module struct {
	db     *storage.DB
	r      *router.Router
	host   string
	domain string
	web    *web.Server
	store  *Store
	key    []byte
	log    *slog.Logger
	now    func() time.Time

	maxFile, quota, daily atomic.Int64
	expiry                atomic.Int64
}

// New builds the service; the signing key and the store's directory are
// made here (an error: the data directory is not writable).
func New(d Deps) (*Module, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	key, err := loadSecret(d.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(d.DataDir)
	if err != nil {
		return nil, err
	}
	m := &Module{db: d.DB, r: d.Router, host: "upload." + d.Domain, domain: d.Domain, web: d.Web, store: st, key: key, log: d.Log, now: d.Now}
	m.SetLimits(d.Limits)
	return m, nil
}

// SetLimits applies the settings (live).
func (m *Module) SetLimits(l Limits) {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.QuotaBytes == 0 {
		l.QuotaBytes = DefaultQuotaBytes
	}
	if l.DailyBytes == 0 {
		l.DailyBytes = DefaultDailyBytes
	}
	if l.Expiry <= 0 {
		l.Expiry = DefaultExpiry
	}
	m.maxFile.Store(l.MaxFileBytes)
	m.quota.Store(l.QuotaBytes)
	m.daily.Store(l.DailyBytes)
	m.expiry.Store(int64(l.Expiry))
}

// Host is the service's address, upload.<domain>.
func (m *Module) Host() string { return m.host }

// Store is where the files are.
func (m *Module) Store() *Store { return m.store }

// Register installs the service's host.
func (m *Module) Register(mux *router.Mux) {
	mux.Host(m.host, m.handle)
}

// Routes adds the files' routes to the HTTPS listener.
func (m *Module) Routes(mux *web.Mux) {
	mux.Handle(pathPrefix, files{m})
}

// Features: the service is its own host; the server lists it in its items.
func (m *Module) Features() router.Features { return router.Features{} }

const ()

// handle takes what is sent to upload.<domain>.
func (m *Module) handle(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.Kind != stanza.KindIQ || (st.Type != "get" && st.Type != "set") || st.To.Local != "" {
		if st.Kind == stanza.KindIQ && (st.Type == "get" || st.Type == "set") {
			return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "the upload service has no users")
		}
		return nil
	}
	q := st.Payload()
	if q == nil {
		return stanza.ErrBadRequest("the request is empty")
	}
	switch {
	case st.Type == "get" && q.Name == "query" && q.NS == stanza.NSDiscoInfo && q.Attr("node") == "":
		m.reply(ctx, st, m.info())
	case st.Type == "get" && q.Name == "query" && q.NS == stanza.NSDiscoItems && q.Attr("node") == "":
		m.reply(ctx, st, stanza.New("query", stanza.NSDiscoItems))
	case q.NS == NS && st.Type == "get":
		slot, e := m.request(ctx, st, q)
		if e != nil {
			return e
		}
		m.reply(ctx, st, slot)
	case q.NS == NS:
		return stanza.NewError(stanza.Cancel, stanza.NotAllowed, "ask for a slot with an IQ get")
	default:
		return stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "")
	}
	return nil
}

func (m *Module) reply(ctx context.Context, st *stanza.Stanza, payload *stanza.Element) {
	rs, e := stanza.Parse(st.Result(payload))
	if e != nil {
		m.log.Error("the upload service made an answer it cannot route", "err", e.Text)
		return
	}
	m.r.Route(ctx, rs)
}

// info is the service's disco#info (XEP-0363 3): store/file, the
// feature, and the largest file in a form.
func (m *Module) info() *stanza.Element {
	field := func(v, typ, value string) *stanza.Element {
		f := stanza.New("field", stanza.NSDataForms, "var", v)
		if typ != "" {
			f.SetAttr("type", typ)
		}
		return f.Append(stanza.New("value", stanza.NSDataForms).AppendText(value))
	}
	return stanza.New("query", stanza.NSDiscoInfo).Append(
		stanza.New("identity", stanza.NSDiscoInfo, "category", "store", "type", "file", "name", "HTTP File Upload"),
		stanza.New("feature", stanza.NSDiscoInfo, "var", stanza.NSDiscoInfo),
		stanza.New("feature", stanza.NSDiscoInfo, "var", NS),
		stanza.New("x", stanza.NSDataForms, "type", "result").Append(
			field("FORM_TYPE", "hidden", NS),
			field("max-file-size", "", strconv.FormatInt(m.maxFile.Load(), 10))))
}

// request answers a slot request (XEP-0363 4, 5).
func (m *Module) request(ctx context.Context, st *stanza.Stanza, q *stanza.Element) (*stanza.Element, *stanza.Error) {
	if st.From.Domain != m.domain || st.From.Local == "" {
		return nil, stanza.NewError(stanza.Cancel, stanza.NotAllowed, "only accounts of this server may upload files here")
	}
	req, e := parseRequest(q)
	if e != nil {
		return nil, e
	}
	if max := m.maxFile.Load(); req.Size > max {
		return nil, tooLarge(max)
	}
	base := m.web.BaseURL()
	if base == "" {
		return nil, stanza.NewError(stanza.Cancel, stanza.ServiceUnavailable, "file upload needs the server's HTTPS listener, which is off (--http)")
	}
	now := m.now()
	u := storage.Upload{
		Slot:        newSlot(),
		User:        st.From.Local,
		Filename:    cleanName(req.Filename),
		Size:        req.Size,
		ContentType: req.ContentType,
		Created:     now,
		Expires:     now.Add(SlotLifetime).Truncate(time.Second),
	}
	err := m.db.AddUpload(ctx, u, m.quota.Load(), m.daily.Load())
	switch {
	case errors.Is(err, storage.ErrUploadDaily):
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
			fmt.Sprintf("Daily limit reached: an account may upload %s a day here. Try again tomorrow, or ask the administrator to raise upload.daily_bytes.", size(m.daily.Load())))
	case errors.Is(err, storage.ErrQuota):
		return nil, stanza.NewError(stanza.Wait, stanza.ResourceConstraint,
			fmt.Sprintf("Your files on this server would pass %s, your share. Old files go after a while; or ask the administrator to remove some, or to raise upload.quota_bytes.", size(m.quota.Load())))
	case err != nil:
		m.log.Error("an upload slot could not be recorded", "user", u.User, "err", err)
		return nil, stanza.ErrInternal()
	}
	get := base + pathPrefix + u.Slot + "/" + url.PathEscape(u.Filename)
	put := get + "?" + query(m.key, putClaim{Slot: u.Slot, Size: u.Size, ContentType: u.ContentType, Expires: u.Expires})
	m.log.Info("upload slot given", "user", u.User, "bytes", u.Size)
	return stanza.New("slot", NS).Append(
		stanza.New("put", NS, "url", put),
		stanza.New("get", NS, "url", get)), nil
}

// tooLarge is XEP-0363 5's file-too-large error.
func tooLarge(max int64) *stanza.Error {
	e := stanza.NewError(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf("File too large. The maximum file size is %d bytes (%s).", max, size(max)))
	e.Extra = stanza.New("file-too-large", NS).Append(
		stanza.New("max-file-size", NS).AppendText(strconv.FormatInt(max, 10)))
	return e
}

// size writes n bytes as people read it.
func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// UserRemoved deletes the account's files and slots.
func (m *Module) UserRemoved(ctx context.Context, user string) {
	n, bytes, err := m.store.Purge(ctx, m.db, user, false, m.now())
	if err != nil {
		m.log.Error("the files of a deleted account were not all deleted; the hourly clean-up tries again", "user", user, "err", err)
		return
	}
	if n > 0 {
		m.log.Info("files of a deleted account deleted", "user", user, "files", n, "bytes", bytes)
	}
}

// Run deletes, at start, files without a record; then expired files (and
// those of accounts deleted while no server ran) at start and every hour,
// until ctx is done.
func (m *Module) Run(ctx context.Context) {
	if err := m.db.ReopenBusyUploads(ctx); err != nil {
		m.log.Warn("upload slots cut off by the last stop were not reopened", "err", err)
	}
	if n, err := m.store.Sweep(ctx, m.db); err != nil && ctx.Err() == nil {
		m.log.Warn("shared files without a record were not all deleted; the next start tries again", "err", err)
	} else if n > 0 {
		m.log.Info("shared files without a record deleted (a restored backup, or a stop in the middle of a clean-up)", "files", n)
	}
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		n, bytes, err := m.store.Purge(ctx, m.db, "", true, m.now())
		switch {
		case err != nil && ctx.Err() == nil:
			m.log.Warn("expired files were not all deleted; trying again within the hour", "err", err)
		case n > 0:
			m.log.Info("expired files deleted", "files", n, "bytes", bytes)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
