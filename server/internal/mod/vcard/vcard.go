// Package vcard implements XEP-0054: vcard-temp.
//
// An account stores its own vCard and anyone may read it (XEP-0054 5: the
// vCard is world-readable). The vCard is stored as the XML the client sent;
// its size is bounded by the stream's stanza limit.
package vcard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"hearth/server/internal/jid"
	"hearth/server/internal/quota"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// Module stores and serves vCards.
type Module struct {
	db     *storage.DB
	quota  *quota.Limits
	avatar Avatar
	log    *slog.Logger
}

// Avatar is the account's avatar as personal eventing has it (XEP-0084),
// which the vCard's photo follows both ways (XEP-0398).
type Avatar interface {
	// Photo returns the avatar's type and data in base64, if there is
	// one that asker may see.
	Photo(ctx context.Context, user string, asker jid.JID) (typ, b64 string, ok bool)
	// SetPhoto publishes a vCard's photo as the avatar.
	SetPhoto(ctx context.Context, user, typ, b64 string) *stanza.Error
}

// Deps are what the module needs.
type Deps struct {
	DB     *storage.DB
	Quota  *quota.Limits // nil: the defaults
	Avatar Avatar        // may be nil
	Log    *slog.Logger
}

// New returns the vCard module.
func New(d Deps) *Module {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Quota == nil {
		d.Quota = quota.New()
	}
	return &Module{db: d.DB, quota: d.Quota, avatar: d.Avatar, log: d.Log}
}

// Register installs the handler: gets and sets to the server and to bare JIDs.
func (m *Module) Register(mux *router.Mux) {
	mux.HandleIQ(router.Pattern{Target: router.ToServer | router.ToAccount, Name: "vCard", NS: stanza.NSVCard}, m.handle)
}

// Features returns the disco#info features of the module (XEP-0054 4).
func (m *Module) Features() router.Features {
	return router.Features{Server: []string{stanza.NSVCard}}
}

func (m *Module) handle(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	p := st.Payload()
	own := st.From.Bare() == st.To
	if st.To.Local == "" {
		// The server has no vCard of its own.
		if st.Type == "set" {
			return nil, stanza.ErrForbidden()
		}
		return nil, stanza.ErrItemNotFound()
	}
	user := st.To.Local
	if st.Type == "set" {
		// XEP-0054 3.2: only the account may change its vCard; others get
		// forbidden.
		if !own {
			return nil, stanza.ErrForbidden()
		}
		b := p.Bytes()
		if max := m.quota.VCardBytes.Load(); int64(len(b)) > max {
			return nil, stanza.NewError(stanza.Modify, stanza.PolicyViolation,
				"this vCard is "+quota.Amount(int64(len(b)), "bytes")+"; this server keeps at most "+quota.Amount(max, "bytes")+" (a smaller photo fits)")
		}
		if err := m.db.SetVCard(ctx, user, b); err != nil {
			m.log.Warn("vcard not stored", "user", user, "err", err)
			return nil, stanza.ErrInternal()
		}
		if ph := p.Child("PHOTO", stanza.NSVCard); ph != nil && m.avatar != nil && ph.ChildText("BINVAL", stanza.NSVCard) != "" {
			// XEP-0398 3: the photo becomes the avatar too.
			if e := m.avatar.SetPhoto(ctx, user, ph.ChildText("TYPE", stanza.NSVCard), ph.ChildText("BINVAL", stanza.NSVCard)); e != nil {
				return nil, e
			}
		}
		return nil, nil
	}
	el, e := m.stored(ctx, user, own)
	if m.avatar == nil {
		return el, e
	}
	// XEP-0398 5: the vCard shows the avatar.
	typ, b64, ok := m.avatar.Photo(ctx, user, st.From)
	if !ok {
		return el, e
	}
	if el == nil {
		el = stanza.New("vCard", stanza.NSVCard)
	} else {
		el = el.Clone()
		el.RemoveChildren("PHOTO", stanza.NSVCard)
	}
	return el.Append(stanza.New("PHOTO", stanza.NSVCard).Append(
		stanza.New("TYPE", stanza.NSVCard).AppendText(typ),
		stanza.New("BINVAL", stanza.NSVCard).AppendText(b64))), nil
}

// stored returns the user's stored vCard, or the error to answer with.
func (m *Module) stored(ctx context.Context, user string, own bool) (*stanza.Element, *stanza.Error) {
	raw, err := m.db.VCard(ctx, user)
	if errors.Is(err, storage.ErrNotFound) {
		if own {
			// XEP-0054 3.1 allows item-not-found or an empty vCard; the
			// empty vCard is a plain answer every client understands.
			return stanza.New("vCard", stanza.NSVCard), nil
		}
		// XEP-0054 3.3: no vCard, or no such account, is an error, the
		// same for both so as not to reveal which accounts exist.
		return nil, stanza.ErrServiceUnavailable()
	}
	if err != nil {
		m.log.Warn("vcard lookup failed", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	el, err := parse(raw)
	if err != nil {
		m.log.Warn("stored vcard unreadable", "user", user, "err", err)
		return nil, stanza.ErrInternal()
	}
	return el, nil
}

// parse reads back an element stored with Bytes.
func parse(raw []byte) (*stanza.Element, error) {
	d := stream.NewDecoder(bytes.NewReader(raw), stream.Limits{MaxStanza: len(raw) + 1})
	el, err := d.Next()
	if err != nil {
		return nil, err
	}
	if el.Name != "vCard" || el.NS != stanza.NSVCard {
		return nil, fmt.Errorf("stored element is <%s xmlns=%q>", el.Name, el.NS)
	}
	return el, nil
}
