package pep

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/pubsub"
	"hearth/server/internal/stanza"
)

// XEP-0084 (User Avatar), XEP-0153's presence element and XEP-0398.
const (
	nsAvatarData   = "urn:xmpp:avatar:data"
	nsAvatarMeta   = "urn:xmpp:avatar:metadata"
	nsVCardUpdate  = "vcard-temp:x:update"
	nsVCardConvert = "urn:xmpp:pep-vcard-conversion:0"
)

// avatarFeatures: the conversion works both ways (a vCard's photo is
// published as the avatar; the vCard and presence show the avatar).
var avatarFeatures = []string{nsVCardConvert}

// avatar returns the info of the user's current avatar (the metadata's
// first <info/> without url) and whether the user has published avatar
// metadata at all; info is nil for metadata that says "no avatar".
func (m *Module) avatar(ctx context.Context, user string) (info *stanza.Element, ok bool) {
	its, err := m.db.PEPItems(ctx, user, nsAvatarMeta, 1, nil)
	if err != nil || len(its) == 0 {
		return nil, false
	}
	meta, err := pubsub.ParsePayload(its[0].Payload)
	if err != nil || meta.Name != "metadata" || meta.NS != nsAvatarMeta {
		return nil, false
	}
	for _, c := range meta.Children {
		if c.Name == "info" && c.NS == nsAvatarMeta && c.Attr("url") == "" && c.Attr("id") != "" {
			return c, true
		}
	}
	return nil, true
}

// withPhoto returns the presence el with the hash of the user's avatar
// (XEP-0398 4, in XEP-0153's element) in place of the client's, when the
// user has published one; el itself otherwise.
func (m *Module) withPhoto(ctx context.Context, user string, el *stanza.Element) *stanza.Element {
	info, ok := m.avatar(ctx, user)
	if !ok {
		return el
	}
	c := el.ShallowClone()
	c.RemoveChildren("x", nsVCardUpdate)
	photo := stanza.New("photo", nsVCardUpdate)
	if info != nil {
		photo.AppendText(info.Attr("id"))
	}
	return c.Append(stanza.New("x", nsVCardUpdate).Append(photo))
}

// Photo returns the user's avatar as a vCard PHOTO has it: its type and
// its data in base64 (XEP-0398 5: the vCard shows the avatar), if asker
// may see the avatar's data: the vCard does not show more than the node.
func (m *Module) Photo(ctx context.Context, user string, asker jid.JID) (typ, b64 string, ok bool) {
	info, ok := m.avatar(ctx, user)
	if !ok || info == nil {
		return "", "", false
	}
	n, e := m.node(ctx, user, nsAvatarData)
	if e != nil {
		return "", "", false
	}
	if ok, _ := m.mayAccess(ctx, user, n, asker); !ok {
		return "", "", false
	}
	its, err := m.db.PEPItems(ctx, user, nsAvatarData, 0, []string{info.Attr("id")})
	if err != nil || len(its) == 0 {
		return "", "", false
	}
	data, err := pubsub.ParsePayload(its[0].Payload)
	if err != nil || data.Name != "data" || data.NS != nsAvatarData {
		return "", "", false
	}
	return info.Attr("type"), strings.Join(strings.Fields(data.Content()), ""), true
}

// SetPhoto publishes a vCard's photo as the user's avatar (XEP-0398 3):
// the data, then the metadata, as the account itself would, with the
// open access model a vCard has (XEP-0054 5).
func (m *Module) SetPhoto(ctx context.Context, user, typ, b64 string) *stanza.Error {
	b64 = strings.Join(strings.Fields(b64), "")
	img, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(img) == 0 {
		return stanza.ErrBadRequest("the vCard's photo is not base64")
	}
	sum := sha1.Sum(img)
	id := hex.EncodeToString(sum[:])
	if typ == "" {
		typ = "image/png"
	}
	self := jid.JID{Local: user, Domain: m.r.Domain}
	data := stanza.New("data", nsAvatarData).AppendText(b64)
	info := stanza.New("info", nsAvatarMeta, "id", id, "type", typ, "bytes", strconv.Itoa(len(img)))
	meta := stanza.New("metadata", nsAvatarMeta).Append(info)
	for _, p := range []struct {
		node    string
		payload *stanza.Element
	}{{nsAvatarData, data}, {nsAvatarMeta, meta}} {
		if e := m.publishAs(ctx, user, self, p.node, id, p.payload, AccessOpen); e != nil {
			return e
		}
	}
	return nil
}

// publishAs publishes an item for the account from the server's side: to
// the node as it is, or a new one with the given access model.
func (m *Module) publishAs(ctx context.Context, user string, publisher jid.JID, node, id string, payload *stanza.Element, access string) *stanza.Error {
	n, e := m.node(ctx, user, node)
	exists := e == nil
	if !exists {
		if e.Condition != stanza.ItemNotFound {
			return e
		}
		n = defaultConfig(node)
		n.Access = access
	}
	b := payload.Bytes()
	if e := m.room(ctx, user, node, id, exists, int64(len(b))); e != nil {
		return e
	}
	return m.storeAndNotify(ctx, user, publisher, n, id, payload, b)
}
