package muc

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

func identity(category, typ, name string) *stanza.Element {
	return stanza.New("identity", stanza.NSDiscoInfo, "category", category, "type", typ, "name", name)
}

func feature(v string) *stanza.Element { return stanza.New("feature", stanza.NSDiscoInfo, "var", v) }

// handleService answers what is sent to conference.<domain> itself.
func (m *Module) handleService(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	if st.Kind != stanza.KindIQ {
		if st.Kind == stanza.KindMessage {
			return stanza.ErrServiceUnavailable()
		}
		return nil
	}
	q := st.Payload()
	if st.Type != "get" || q == nil {
		return stanza.ErrServiceUnavailable()
	}
	switch {
	case q.Name == "query" && q.NS == stanza.NSDiscoInfo && q.Attr("node") == "":
		res := stanza.New("query", stanza.NSDiscoInfo).Append(
			identity("conference", "text", "Chat rooms"),
			feature(stanza.NSDiscoInfo), feature(stanza.NSDiscoItems), feature(NS), feature(stanza.NSPing),
			feature(nsOccupantID), feature("http://jabber.org/protocol/muc#self-ping-optimization"))
		// MAM and moderation are the rooms' (their disco says so), not
		// the service's: the service address answers neither.
		m.reply(ctx, st, res)
	case q.Name == "query" && q.NS == stanza.NSDiscoItems && q.Attr("node") == "":
		res := stanza.New("query", stanza.NSDiscoItems)
		for _, r := range m.allRooms() {
			r.mu.Lock()
			if r.cfg.Public && !r.locked {
				name := r.cfg.Name
				if name == "" {
					name = r.jid.Local
				}
				res.Append(stanza.New("item", stanza.NSDiscoItems, "jid", r.jid.String(), "name", name))
			}
			r.mu.Unlock()
		}
		sort.Slice(res.Children, func(i, j int) bool { return res.Children[i].Attr("jid") < res.Children[j].Attr("jid") })
		m.reply(ctx, st, res)
	case q.Name == "ping" && q.NS == stanza.NSPing:
		m.reply(ctx, st, nil)
	default:
		return stanza.ErrServiceUnavailable()
	}
	return nil
}

// occupantIQ: an IQ to room/nick. Self-ping (XEP-0410) is answered by
// the room; other queries between occupants are passed on (forwardIQ).
func (m *Module) occupantIQ(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	q := st.Payload()
	r := m.locked(st.To.Local)
	if r == nil {
		return stanza.NewError(stanza.Cancel, stanza.NotAcceptable, "you are not in this room")
	}
	o := r.byReal(st.From)
	key, e := lookupKey(st.To.Resource)
	var to *occupant
	if e == nil {
		to = r.occ[key]
	}
	if o == nil || o.key != key && q != nil && q.Name == "ping" && q.NS == stanza.NSPing && to == nil {
		r.mu.Unlock()
		return stanza.NewError(stanza.Cancel, stanza.NotAcceptable, "you are not in this room under this nickname")
	}
	if o.key == key && q != nil && q.Name == "ping" && q.NS == stanza.NSPing {
		r.mu.Unlock()
		m.reply(ctx, st, nil)
		return nil
	}
	if to == nil {
		r.mu.Unlock()
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room")
	}
	if e := r.mayPM(o); e != nil {
		r.mu.Unlock()
		return e
	}
	if !m.allow(o) {
		r.mu.Unlock()
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are sending queries too fast; wait a moment")
	}
	askerAs, answer, real := r.jid.WithResource(o.nick), r.jid.WithResource(to.nick), to.latest()
	r.mu.Unlock()
	return m.forwardIQ(ctx, st, askerAs, answer, real)
}

// roomIQ answers IQs to a room's bare JID.
func (m *Module) roomIQ(ctx context.Context, st *stanza.Stanza) *stanza.Error {
	q := st.Payload()
	if q == nil {
		return stanza.ErrBadRequest("an IQ has one payload")
	}
	r := m.locked(st.To.Local)
	if r == nil {
		return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is no such room")
	}
	if q.Name == "ping" && q.NS == stanza.NSPing {
		r.mu.Unlock()
		m.reply(ctx, st, nil)
		return nil
	}
	var res *stanza.Element
	var e *stanza.Error
	switch {
	case q.Name == "query" && q.NS == stanza.NSDiscoInfo && st.Type == "get":
		res, e = m.roomInfo(r, st, q.Attr("node"))
		r.mu.Unlock()
	case q.Name == "query" && q.NS == stanza.NSDiscoItems && st.Type == "get":
		r.mu.Unlock()
		res = stanza.New("query", stanza.NSDiscoItems)
	case q.Name == "query" && q.NS == NSOwner:
		res, e = m.owner(ctx, r, st)
	case q.Name == "query" && q.NS == NSAdmin:
		res, e = m.admin(ctx, r, st)
	case q.Name == "query" && q.NS == nsRegister:
		res, e = m.register(ctx, r, st)
	case q.Name == "vCard" && q.NS == stanza.NSVCard:
		res, e = m.roomVCard(ctx, r, st)
	case q.NS == nsMAM: // queries, the form, metadata (#extended)
		ok := m.mayReadArchive(r, st.From)
		r.mu.Unlock()
		if !ok {
			return stanza.NewError(stanza.Auth, stanza.Forbidden, "you may not read this room's archive")
		}
		res, e = m.archive.Query(ctx, st, r.jid)
		if e == router.ErrAnswered {
			return nil
		}
	case q.Name == "moderate" && q.NS == nsModerate && st.Type == "set":
		e = m.moderate(ctx, r, st)
		if e == nil {
			return nil
		}
	default:
		r.mu.Unlock()
		return stanza.ErrServiceUnavailable()
	}
	if e != nil {
		return e
	}
	m.reply(ctx, st, res)
	return nil
}

// roomInfo is a room's disco#info (XEP-0045 6.4) or its registered nick
// (node x-roomuser-item, 7.12), r.mu held.
func (m *Module) roomInfo(r *room, st *stanza.Stanza, node string) (*stanza.Element, *stanza.Error) {
	if node == "x-roomuser-item" {
		res := stanza.New("query", stanza.NSDiscoInfo, "node", node)
		if a, ok := r.affs[st.From.Bare().String()]; ok && a.nick != "" {
			res.Append(identity("conference", "text", a.nick))
		}
		return res, nil
	}
	if node != "" {
		return nil, stanza.ErrItemNotFound()
	}
	if r.locked && r.affOf(st.From.Bare()) != affOwner {
		return nil, stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is no such room")
	}
	name := r.cfg.Name
	if name == "" {
		name = r.jid.Local
	}
	pick := func(b bool, yes, no string) *stanza.Element {
		if b {
			return feature(yes)
		}
		return feature(no)
	}
	res := stanza.New("query", stanza.NSDiscoInfo).Append(identity("conference", "text", name),
		feature(NS), feature(stanza.NSDiscoInfo), feature(stanza.NSDiscoItems), feature(nsRegister), feature(stanza.NSVCard),
		feature(nsOccupantID), feature("http://jabber.org/protocol/muc#self-ping-optimization"),
		feature("http://jabber.org/protocol/muc#stable_id"),
		pick(r.cfg.Persistent, "muc_persistent", "muc_temporary"),
		pick(r.cfg.MembersOnly, "muc_membersonly", "muc_open"),
		pick(r.cfg.Password != "", "muc_passwordprotected", "muc_unsecured"),
		pick(r.cfg.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(r.cfg.Public, "muc_public", "muc_hidden"),
		pick(r.cfg.WhoisAnyone, "muc_nonanonymous", "muc_semianonymous"))
	if r.archived(m) {
		res.Append(feature(nsMAM), feature(nsMAM+"#extended"), feature(nsSID), feature(nsModerate))
	}
	info := dataForm("result", hidden("FORM_TYPE", nsRoomInfo),
		field("muc#roominfo_description", "text-single", "Description", r.cfg.Description),
		field("muc#roominfo_occupants", "text-single", "Number of occupants", strconv.Itoa(len(r.occ))),
		field("muc#roominfo_subject", "text-single", "Subject", r.subject),
		field("muc#roominfo_changesubject", "boolean", "Occupants may change the subject", boolStr(r.cfg.ChangeSubject)),
		field("muc#roomconfig_roomname", "text-single", "Name", name))
	if r.photo != "" {
		info.Append(field("muc#roominfo_avatarhash", "text-multi", "Avatar hash", r.photo))
	}
	res.Append(info)
	return res, nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// register: a nick reserved for a member (XEP-0045 7.10), r.mu held
// (released).
func (m *Module) register(ctx context.Context, r *room, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	defer r.mu.Unlock()
	bare := st.From.Bare()
	k := bare.String()
	a, has := r.affs[k]
	q := st.Payload()
	if st.Type == "get" {
		res := stanza.New("query", nsRegister)
		if has && a.nick != "" {
			res.Append(stanza.New("registered", nsRegister), stanza.New("username", nsRegister).AppendText(a.nick))
			return res, nil
		}
		res.Append(dataForm("form", hidden("FORM_TYPE", "http://jabber.org/protocol/muc#register"),
			field("muc#register_roomnick", "text-single", "Nickname")))
		return res, nil
	}
	if a.aff == affOutcast {
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "you are banned from this room")
	}
	if r.cfg.MembersOnly && affRank(a.aff) < affRank(affMember) {
		// Registering would make a member of anyone.
		return nil, stanza.NewError(stanza.Auth, stanza.RegistrationRequired, "this room is for members only; ask an admin to make you a member")
	}
	if q.Child("remove", nsRegister) != nil {
		if !has {
			return nil, stanza.ErrItemNotFound()
		}
		old := a
		if a.aff == affMember {
			delete(r.affs, k)
		} else {
			a.nick = ""
			r.affs[k] = a
		}
		if err := m.save(ctx, r); err != nil {
			r.affs[k] = old
			return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the registration could not be removed; try again")
		}
		return nil, nil
	}
	f := ParseForm(q.Child("x", stanza.NSDataForms))
	if f == nil || f.Type != "submit" {
		return nil, stanza.ErrBadRequest("registration is a submitted muc#register form")
	}
	v, _ := f.Value("muc#register_roomnick")
	nick, key, e := m.nick(v)
	if e != nil {
		return nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, e.Text)
	}
	if by := r.reservedBy(key); by != "" && by != k {
		return nil, stanza.NewError(stanza.Cancel, stanza.Conflict, "this nickname is reserved by someone else")
	}
	if o := r.occ[key]; o != nil && o.real != bare {
		return nil, stanza.NewError(stanza.Cancel, stanza.Conflict, "someone in the room uses this nickname")
	}
	old := a
	if !has {
		a.aff = affMember
	}
	a.nick = nick
	r.affs[k] = a
	if err := m.save(ctx, r); err != nil {
		if has {
			r.affs[k] = old
		} else {
			delete(r.affs, k)
		}
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the registration could not be saved; try again")
	}
	return nil, nil
}

// roomVCard: the room's vCard (its avatar): anyone reads it, an owner
// sets it; occupants are told with status 104 and the room's presence
// carrying the photo's hash (XEP-0153). r.mu held (released).
func (m *Module) roomVCard(ctx context.Context, r *room, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if st.Type == "get" {
		v := r.vcard
		r.mu.Unlock()
		if v == nil {
			return stanza.New("vCard", stanza.NSVCard), nil
		}
		el, err := stream.Unmarshal(v)
		if err != nil {
			return nil, stanza.ErrInternal()
		}
		return el, nil
	}
	if r.affOf(st.From.Bare()) != affOwner {
		r.mu.Unlock()
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "only an owner sets the room's vCard")
	}
	data := st.Payload().Bytes()
	oldV, oldP := r.vcard, r.photo
	r.vcard, r.photo = data, photoHash(data)
	if err := m.save(ctx, r); err != nil {
		r.vcard, r.photo = oldV, oldP
		r.mu.Unlock()
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the vCard could not be saved; try again")
	}
	p := stanza.New("presence", stanza.NSClient, "from", r.jid.String()).Append(
		stanza.New("x", nsVCardUpd).Append(stanza.New("photo", nsVCardUpd).AppendText(r.photo)))
	ds := r.toAll(nil, r.notice(104))
	ds = r.toAll(ds, p)
	m.flush(ctx, r, ds)
	return nil, nil
}

// photoHash is the SHA-1 of a vCard's photo, hex (XEP-0153), or "".
func photoHash(vcard []byte) string {
	el, err := stream.Unmarshal(vcard)
	if err != nil {
		return ""
	}
	photo := el.Child("PHOTO", stanza.NSVCard)
	if photo == nil {
		return ""
	}
	b64 := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, photo.ChildText("BINVAL", stanza.NSVCard))
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(data) == 0 {
		return ""
	}
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}

// mayReadArchive: members of a members-only room, occupants of others
// (and admins and owners), when the room is archived. r.mu held.
func (m *Module) mayReadArchive(r *room, from jid.JID) bool {
	if !r.archived(m) {
		return false
	}
	aff := r.affOf(from.Bare())
	if aff == affOutcast {
		return false
	}
	if affRank(aff) >= affRank(affMember) {
		return true
	}
	return !r.cfg.MembersOnly && len(r.byBare(from.Bare())) > 0
}

// moderate retracts an occupant's message (XEP-0425) for a moderator,
// r.mu held (released).
func (m *Module) moderate(ctx context.Context, r *room, st *stanza.Stanza) *stanza.Error {
	o := r.byReal(st.From)
	q := st.Payload()
	id := q.Attr("id")
	if o == nil || o.role != roleModerator {
		r.mu.Unlock()
		return stanza.NewError(stanza.Auth, stanza.Forbidden, "only moderators may retract messages")
	}
	if !r.archived(m) {
		r.mu.Unlock()
		return stanza.NewError(stanza.Cancel, stanza.FeatureNotImplemented, "this room keeps no archive, so its messages have no ids to retract")
	}
	if id == "" || q.Child("retract", nsRetract) == nil {
		r.mu.Unlock()
		return stanza.ErrBadRequest("moderate names a message id and holds <retract/>")
	}
	reason := q.ChildText("reason", nsModerate)
	if err := m.archive.Retract(ctx, r.jid, id, r.jid.WithResource(o.nick), o.id, reason); err != nil {
		r.mu.Unlock()
		if errors.Is(err, storage.ErrNotFound) {
			return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "the room has no message with this id")
		}
		return stanza.NewError(stanza.Wait, stanza.InternalServerError, "the message could not be retracted; try again")
	}
	r.history.remove(id, r.jid)
	ret := stanza.New("retract", nsRetract, "id", id).Append(
		stanza.New("moderated", nsModerate, "by", r.jid.WithResource(o.nick).String()).Append(stanza.New("occupant-id", nsOccupantID, "id", o.id)))
	if reason != "" {
		ret.Append(stanza.New("reason", nsRetract).AppendText(reason))
	}
	// The notice is archived too (a store hint: it has no body), so that
	// those who catch up through MAM learn of the retraction; occupants
	// get the stored copy, with its stanza-id.
	msg := stanza.New("message", stanza.NSClient, "from", r.jid.String(), "type", "groupchat", "id", "retract-"+id).Append(ret,
		stanza.New("store", nsHints))
	stored, d := m.archive.Store(ctx, r.jid, "", msg)
	if stored != nil {
		msg = stored
	}
	ds := r.toAll(nil, msg)
	prev, mine := r.turn()
	r.mu.Unlock()
	defer close(mine)
	if d != nil {
		<-d.Done()
		if e := d.Failed(); e != nil {
			// Retracted all the same: the occupants are told.
			m.log.Warn("a moderation notice could not be archived; those reading the archive later will still see the retracted message's tombstone", "room", r.jid.String(), "err", e.Text)
		}
	}
	m.reply(ctx, st, nil)
	if prev != nil {
		<-prev
	}
	m.deliver(ctx, ds)
	return nil
}
