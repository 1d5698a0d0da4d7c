package muc

import (
	"context"

	"hearth/server/internal/stanza"
)

// voice handles voice requests (XEP-0045 7.13): a visitor's muc#request
// form goes to the moderators; a moderator's approval (the form back,
// muc#request_allow true) gives the occupant voice. r.mu held (released).
func (m *Module) voice(ctx context.Context, r *room, o *occupant, st *stanza.Stanza, f *Form) *stanza.Error {
	fail := func(e *stanza.Error) *stanza.Error { r.mu.Unlock(); return e }
	if o == nil {
		return fail(stanza.NewError(stanza.Modify, stanza.NotAcceptable, "you are not in this room; join it first"))
	}
	if role, _ := f.Value("muc#role"); role != roleParticipant {
		return fail(stanza.ErrBadRequest("a voice request asks for muc#role participant"))
	}
	if allow, ok := f.Bool("muc#request_allow"); ok {
		// A moderator's answer.
		if o.role != roleModerator {
			return fail(stanza.NewError(stanza.Auth, stanza.Forbidden, "only moderators answer voice requests"))
		}
		if !allow {
			r.mu.Unlock()
			return nil
		}
		nick, _ := f.Value("muc#roomnick")
		key, e := lookupKey(nick)
		target := r.occ[key]
		if e != nil || target == nil {
			return fail(stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "there is nobody with this nickname in the room"))
		}
		if target.role != roleVisitor {
			r.mu.Unlock()
			return nil
		}
		ds := m.setRole(r, nil, target, roleParticipant, "", o.nick)
		m.flush(ctx, r, ds)
		return nil
	}
	if o.role != roleVisitor {
		return fail(stanza.NewError(stanza.Modify, stanza.NotAcceptable, "you have voice already"))
	}
	if !m.allow(o) {
		return fail(stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you are sending too fast; wait a moment"))
	}
	form := dataForm("form",
		hidden("FORM_TYPE", nsRequest),
		field("muc#role", "list-single", "Requested role", roleParticipant),
		field("muc#jid", "jid-single", "User", o.latest().String()),
		field("muc#roomnick", "text-single", "Nickname", o.nick),
		boolField("muc#request_allow", "Give voice to this person?", false))
	form.Children = append([]*stanza.Element{stanza.New("title", stanza.NSDataForms).AppendText("Voice request")}, form.Children...)
	msg := stanza.New("message", stanza.NSClient, "from", r.jid.String(), "id", st.ID).Append(form)
	var ds []delivery
	for _, p := range r.sorted() {
		if p.role == roleModerator {
			for _, s := range p.sessions {
				ds = append(ds, addressed(msg, s))
			}
		}
	}
	m.flush(ctx, r, ds)
	return nil
}
