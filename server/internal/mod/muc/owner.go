package muc

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// configForm is the room's muc#roomconfig form (XEP-0045 10.2).
func (m *Module) configForm(r *room) *stanza.Element {
	whois := "moderators"
	if r.cfg.WhoisAnyone {
		whois = "anyone"
	}
	pm := r.cfg.AllowPM
	if pm == "" {
		pm = "anyone"
	}
	var owners, admins []string
	for j, a := range r.affs {
		switch a.aff {
		case affOwner:
			owners = append(owners, j)
		case affAdmin:
			admins = append(admins, j)
		}
	}
	sort.Strings(owners)
	sort.Strings(admins)
	max := r.cfg.MaxUsers
	if max == 0 {
		max = int(m.maxOccupants.Load())
	}
	f := dataForm("form",
		hidden("FORM_TYPE", nsRoomConfig),
		field("muc#roomconfig_roomname", "text-single", "Name", r.cfg.Name),
		field("muc#roomconfig_roomdesc", "text-single", "Description", r.cfg.Description),
		boolField("muc#roomconfig_persistentroom", "Keep the room when everyone has left", r.cfg.Persistent),
		boolField("muc#roomconfig_publicroom", "List the room publicly", r.cfg.Public),
		boolField("muc#roomconfig_membersonly", "Members only", r.cfg.MembersOnly),
		boolField("muc#roomconfig_passwordprotectedroom", "Needs a password", r.cfg.Password != ""),
		field("muc#roomconfig_roomsecret", "text-private", "Password", r.cfg.Password),
		boolField("muc#roomconfig_moderatedroom", "Moderated (visitors need voice)", r.cfg.Moderated),
		listField("muc#roomconfig_maxusers", "Most occupants", strconv.Itoa(max), maxOptions(int(m.maxOccupants.Load()))...),
		listField("muc#roomconfig_whois", "Who may see real addresses", whois, "moderators", "anyone"),
		boolField("muc#roomconfig_changesubject", "Occupants may change the subject", r.cfg.ChangeSubject),
		boolField("muc#roomconfig_allowinvites", "Occupants may invite", r.cfg.AllowInvites),
		listField("muc#roomconfig_allowpm", "Who may send private messages", pm, "anyone", "participants", "moderators", "none"),
		field("muc#roomconfig_roomowners", "jid-multi", "Owners", owners...),
		field("muc#roomconfig_roomadmins", "jid-multi", "Admins", admins...),
	)
	if m.archive != nil {
		f.Append(boolField("muc#roomconfig_enablearchiving", "Archive the room's messages", r.cfg.Archive))
	}
	return f
}

// applyForm applies a submitted configuration to cfg and the
// affiliations it names; it returns the new config and affiliations.
func (m *Module) applyForm(r *room, f *Form) (Config, map[string]affRec, *stanza.Error) {
	cfg := r.cfg
	affs := make(map[string]affRec, len(r.affs))
	for k, v := range r.affs {
		affs[k] = v
	}
	bad := func(v string) *stanza.Error {
		return stanza.NewError(stanza.Modify, stanza.NotAcceptable, "the field "+v+" has a value this room cannot take")
	}
	boolean := func(v string, dst *bool) *stanza.Error {
		if b, ok := f.Bool(v); ok {
			*dst = b
		} else if _, given := f.Fields[v]; given {
			return bad(v)
		}
		return nil
	}
	if v, ok := f.Value("muc#roomconfig_roomname"); ok {
		cfg.Name = v
	}
	if v, ok := f.Value("muc#roomconfig_roomdesc"); ok {
		cfg.Description = v
	}
	for v, dst := range map[string]*bool{
		"muc#roomconfig_persistentroom": &cfg.Persistent, "muc#roomconfig_publicroom": &cfg.Public,
		"muc#roomconfig_membersonly": &cfg.MembersOnly, "muc#roomconfig_moderatedroom": &cfg.Moderated,
		"muc#roomconfig_changesubject": &cfg.ChangeSubject, "muc#roomconfig_allowinvites": &cfg.AllowInvites,
		"muc#roomconfig_enablearchiving": &cfg.Archive,
	} {
		if e := boolean(v, dst); e != nil {
			return cfg, nil, e
		}
	}
	// mam is what some clients send for archiving; it counts only when
	// the form's own field is absent (one field decides, not map order).
	if _, given := f.Fields["muc#roomconfig_enablearchiving"]; !given {
		if e := boolean("mam", &cfg.Archive); e != nil {
			return cfg, nil, e
		}
	}
	// The secret first: without passwordprotectedroom, a room is
	// protected when it has a secret; only an explicit 0 clears it.
	if v, ok := f.Value("muc#roomconfig_roomsecret"); ok {
		cfg.Password = v
	}
	protected := cfg.Password != ""
	if e := boolean("muc#roomconfig_passwordprotectedroom", &protected); e != nil {
		return cfg, nil, e
	}
	if !protected {
		cfg.Password = ""
	} else if cfg.Password == "" {
		return cfg, nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, "a room that needs a password needs muc#roomconfig_roomsecret")
	}
	if v, ok := f.Value("muc#roomconfig_maxusers"); ok {
		n, err := strconv.Atoi(v)
		if v == "" || v == "none" {
			n, err = 0, nil
		}
		if err != nil || n < 0 || n > int(m.maxOccupants.Load()) {
			return cfg, nil, stanza.NewError(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf("muc#roomconfig_maxusers is at most %d here", m.maxOccupants.Load()))
		}
		cfg.MaxUsers = n
	}
	if v, ok := f.Value("muc#roomconfig_whois"); ok {
		switch v {
		case "anyone":
			cfg.WhoisAnyone = true
		case "moderators", "":
			cfg.WhoisAnyone = false
		default:
			return cfg, nil, bad("muc#roomconfig_whois")
		}
	}
	if v, ok := f.Value("muc#roomconfig_allowpm"); ok {
		if !slices.Contains([]string{"anyone", "participants", "moderators", "none"}, v) {
			return cfg, nil, bad("muc#roomconfig_allowpm")
		}
		cfg.AllowPM = v
	}
	if m.archive == nil {
		cfg.Archive = false
	}
	// Owners first, then admins (an owner listed only among the admins
	// becomes an admin); a room keeps its owners when the form lists
	// none (some clients send the field empty).
	for _, l := range []struct{ v, aff string }{{"muc#roomconfig_roomowners", affOwner}, {"muc#roomconfig_roomadmins", affAdmin}} {
		v, aff := l.v, l.aff
		vals, ok := f.Fields[v]
		vals = slices.DeleteFunc(slices.Clone(vals), func(s string) bool { return s == "" })
		if !ok || aff == affOwner && len(vals) == 0 {
			continue
		}
		want := map[string]bool{}
		for _, s := range vals {
			j, err := jid.Parse(s)
			if err != nil {
				return cfg, nil, stanza.NewError(stanza.Modify, stanza.JIDMalformed, v+" holds something that is not an address")
			}
			want[j.Bare().String()] = true
		}
		for k, a := range affs {
			if a.aff == aff && !want[k] {
				delete(affs, k)
			}
		}
		for k := range want {
			a := affs[k]
			if affRank(a.aff) < affRank(aff) || a.aff == affOutcast {
				a.aff = aff
				affs[k] = a
			}
		}
	}
	owners := 0
	for _, a := range affs {
		if a.aff == affOwner {
			owners++
		}
	}
	if owners == 0 {
		return cfg, nil, stanza.NewError(stanza.Modify, stanza.Conflict, "a room needs at least one owner")
	}
	return cfg, affs, nil
}

// owner answers muc#owner (XEP-0045 10): the configuration form, its
// submission (or cancel), destroying the room. r.mu held (released).
func (m *Module) owner(ctx context.Context, r *room, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	q := st.Payload()
	if r.affOf(st.From.Bare()) != affOwner {
		r.mu.Unlock()
		return nil, stanza.NewError(stanza.Auth, stanza.Forbidden, "only an owner of the room may configure it")
	}
	if st.Type == "get" {
		f := m.configForm(r)
		r.mu.Unlock()
		return stanza.New("query", NSOwner).Append(f), nil
	}
	if d := q.Child("destroy", NSOwner); d != nil {
		alt := d.Attr("jid")
		if alt != "" {
			j, err := jid.Parse(alt)
			if err != nil {
				r.mu.Unlock()
				return nil, stanza.NewError(stanza.Modify, stanza.JIDMalformed, "the alternate room in <destroy jid=…/> is not an address")
			}
			alt = j.String()
		}
		reason := d.ChildText("reason", NSOwner)
		if err := m.destroy(ctx, r, reason, alt); err != nil {
			return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the room could not be removed from the database; try again")
		}
		return nil, nil
	}
	f := ParseForm(q.Child("x", stanza.NSDataForms))
	if f == nil {
		r.mu.Unlock()
		return nil, stanza.ErrBadRequest("the configuration is a jabber:x:data form")
	}
	if f.Type == "cancel" {
		if r.locked {
			// Cancelling the first configuration cancels the room.
			ds := r.destroyAll(nil, "", "")
			m.forget(r)
			m.flush(ctx, r, ds)
			return nil, nil
		}
		r.mu.Unlock()
		return nil, nil
	}
	if f.Type != "submit" {
		r.mu.Unlock()
		return nil, stanza.ErrBadRequest("the configuration form is of type submit or cancel")
	}
	if ft, ok := f.Value("FORM_TYPE"); ok && ft != nsRoomConfig {
		r.mu.Unlock()
		return nil, stanza.ErrBadRequest("the form's FORM_TYPE is " + nsRoomConfig)
	}
	cfg, affs, e := m.applyForm(r, f)
	if e != nil {
		r.mu.Unlock()
		return nil, e
	}
	ds, err := m.reconfigure(ctx, r, cfg, affs)
	if err != nil {
		r.mu.Unlock()
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the configuration could not be saved; try again")
	}
	m.vacate(r)
	m.flush(ctx, r, ds)
	return nil, nil
}

// reconfigure applies a configuration and affiliations, durably for a
// persistent room, and returns the notifications (XEP-0045 10.2.1), r.mu
// held.
func (m *Module) reconfigure(ctx context.Context, r *room, cfg Config, affs map[string]affRec) ([]delivery, error) {
	old, oldAffs, wasLocked := r.cfg, r.affs, r.locked
	r.cfg, r.affs, r.locked = cfg, affs, false
	if cfg.Persistent || old.Persistent {
		var err error
		if cfg.Persistent {
			err = m.save(ctx, r)
		} else {
			err = m.db.DeleteMUCRoom(ctx, r.jid.String())
		}
		if err != nil {
			r.cfg, r.affs, r.locked = old, oldAffs, wasLocked
			m.log.Error("a room's configuration could not be saved", "room", r.jid.String(), "err", err)
			return nil, err
		}
	}
	var ds []delivery
	// Roles follow affiliations changed through the form, and the
	// members-only rule.
	for _, o := range r.sorted() {
		aff := r.affOf(o.real)
		switch {
		case aff == affOutcast:
			ds = m.kickOut(r, ds, o, []int{301})
		case cfg.MembersOnly && affRank(aff) < affRank(affMember):
			ds = m.kickOut(r, ds, o, []int{322})
		default:
			role := o.role
			if affRank(aff) >= affRank(affAdmin) {
				role = roleModerator
			} else if o.role == roleModerator && affRank(oldAffs[o.real.String()].aff) >= affRank(affAdmin) {
				role = r.defaultRole(aff)
			}
			if role != o.role || affs[o.real.String()] != oldAffs[o.real.String()] {
				o.role = role
				ds = r.broadcastPresence(ds, o, "", nil, nil)
			}
		}
	}
	if wasLocked {
		return ds, nil
	}
	codes := []int{104}
	if cfg.WhoisAnyone != old.WhoisAnyone {
		if cfg.WhoisAnyone {
			codes = append(codes, 172)
		} else {
			codes = append(codes, 173)
		}
	}
	if cfg.Archive != old.Archive && m.archive != nil && m.archive.Enabled() {
		if cfg.Archive {
			codes = append(codes, 170)
		} else {
			codes = append(codes, 171)
		}
	}
	ds = r.toAll(ds, r.notice(codes...))
	return ds, nil
}

// notice is a message from the room itself with status codes.
func (r *room) notice(codes ...int) *stanza.Element {
	x := stanza.New("x", NSUser)
	for _, c := range codes {
		x.Append(statusEl(c))
	}
	return stanza.New("message", stanza.NSClient, "from", r.jid.String(), "type", "groupchat").Append(x)
}

// destroyAll is the unavailable presence with <destroy/> for everyone,
// r.mu held; the occupants are gone afterwards.
func (r *room) destroyAll(ds []delivery, reason, alt string) []delivery {
	d := stanza.New("destroy", NSUser, "jid", alt)
	if reason != "" {
		d.Append(stanza.New("reason", NSUser).AppendText(reason))
	}
	for _, o := range r.sorted() {
		p := stanza.New("presence", stanza.NSClient, "from", r.jid.WithResource(o.nick).String(), "type", "unavailable").Append(
			stanza.New("x", NSUser).Append(stanza.New("item", NSUser, "affiliation", affNone, "role", roleNone), d, statusEl(110)))
		for _, s := range o.sessions {
			ds = append(ds, addressed(p, s))
		}
	}
	r.occ = map[string]*occupant{}
	return ds
}

// destroy ends a room (XEP-0045 10.9): its occupants are told, it is
// deleted from storage and its archive. r.mu held (released).
func (m *Module) destroy(ctx context.Context, r *room, reason, alt string) error {
	if r.cfg.Persistent {
		if err := m.db.DeleteMUCRoom(ctx, r.jid.String()); err != nil {
			r.mu.Unlock()
			m.log.Error("a destroyed room could not be removed from the database", "room", r.jid.String(), "err", err)
			return err
		}
	}
	ds := r.destroyAll(nil, reason, alt)
	var deleted chan struct{}
	if m.archive != nil {
		// The name stays taken until the archive is gone.
		deleted = make(chan struct{})
		m.mu.Lock()
		m.deleting[r.jid.Local] = deleted
		m.mu.Unlock()
	}
	m.forget(r)
	m.flush(ctx, r, ds)
	if deleted != nil {
		// The archive is deleted after the room is gone, with no lock
		// held (it may take a while), and to the end even when the
		// server stops meanwhile (Close waits).
		del := func(ctx context.Context) { m.deleteArchive(context.WithoutCancel(ctx), r.jid, deleted) }
		if !m.tasks.Go(del) {
			del(ctx)
		}
	}
	return nil
}

// deleteArchive deletes a destroyed room's archive and frees its name.
func (m *Module) deleteArchive(ctx context.Context, room jid.JID, deleted chan struct{}) {
	if err := m.archive.Delete(ctx, room); err != nil {
		m.log.Warn("a destroyed room's archive could not be deleted; its messages stay in the database, and a new room of the same name would show them", "room", room.String(), "err", err)
	}
	m.mu.Lock()
	if m.deleting[room.Local] == deleted {
		delete(m.deleting, room.Local)
	}
	m.mu.Unlock()
	close(deleted)
}

// save writes a persistent room whole (durable when it returns); a
// temporary room is not stored.
func (m *Module) save(ctx context.Context, r *room) error {
	if !r.cfg.Persistent {
		return nil
	}
	rec, err := r.record()
	if err != nil {
		return err
	}
	return m.db.SaveMUCRoom(ctx, rec)
}

// maxOptions are the choices of maxusers up to the service's limit.
func maxOptions(limit int) []string {
	var out []string
	for _, n := range []int{10, 20, 50, 100, 200} {
		if n < limit {
			out = append(out, strconv.Itoa(n))
		}
	}
	return append(out, strconv.Itoa(limit))
}
