package mam

import (
	"context"
	"errors"
	"slices"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// prefs are an account's archiving preferences (XEP-0313 6).
type prefs struct {
	dflt          string // always, roster or never
	always, never []string
}

// maxPrefsJIDs bounds each list of a preferences set.
const maxPrefsJIDs = 1000

// load returns the account's preferences, read once.
func (m *Module) load(ctx context.Context, user string) (*prefs, error) {
	m.mu.Lock()
	p := m.prefs[user]
	m.mu.Unlock()
	if p != nil {
		return p, nil
	}
	sp, err := m.db.ArchivePrefs(ctx, user)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		p = &prefs{dflt: "always"}
	case err != nil:
		return nil, err
	default:
		p = &prefs{dflt: sp.Default, always: sp.Always, never: sp.Never}
	}
	m.mu.Lock()
	if q := m.prefs[user]; q != nil {
		p = q // a set that came meanwhile wins
	} else {
		m.prefs[user] = p
	}
	m.mu.Unlock()
	return p, nil
}

// wants reports whether user's archive keeps messages with peer.
func (m *Module) wants(ctx context.Context, user string, peer jid.JID) bool {
	p, err := m.load(ctx, user)
	if err != nil {
		// Archived rather than lost: the preferences say what to leave out.
		m.log.Warn("archive preferences not read; archiving the message", "user", user, "err", err)
		return true
	}
	switch {
	case listed(p.never, peer):
		return false
	case listed(p.always, peer):
		return true
	}
	switch p.dflt {
	case "never":
		return false
	case "roster":
		_, err := m.db.RosterItem(ctx, user, peer.Bare().String())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			m.log.Warn("roster not read; archiving the message", "user", user, "err", err)
			return true
		}
		return err == nil
	}
	return true
}

// listed reports whether a preferences list names peer or its bare JID.
// It compares without building their strings: this runs for every
// archived message, and the lists are most often empty.
func listed(list []string, peer jid.JID) bool {
	bare := peer.Bare()
	return slices.ContainsFunc(list, func(s string) bool { return isJID(s, bare) || isJID(s, peer) })
}

// own checks that an account asks about its own archive.
func (m *Module) own(st *stanza.Stanza) *stanza.Error {
	if st.From.Domain != m.domain || st.From.Local != st.To.Local {
		return stanza.NewError(stanza.Cancel, stanza.Forbidden, "only the account itself may use its archive")
	}
	return nil
}

// getPrefs answers a preferences request (XEP-0313 6.1).
func (m *Module) getPrefs(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if e := m.own(st); e != nil {
		return nil, e
	}
	p, err := m.load(ctx, st.To.Local)
	if err != nil {
		m.log.Error("archive preferences not read", "user", st.To.Local, "err", err)
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the archive preferences could not be read; try again later")
	}
	return prefsElement(p), nil
}

func prefsElement(p *prefs) *stanza.Element {
	el := stanza.New("prefs", NS, "default", p.dflt)
	for _, l := range []struct {
		name string
		jids []string
	}{{"always", p.always}, {"never", p.never}} {
		c := stanza.New(l.name, NS)
		for _, j := range l.jids {
			c.Append(stanza.New("jid", NS).AppendText(j))
		}
		el.Append(c)
	}
	return el
}

// setPrefs changes the preferences and answers with them (XEP-0313 6.1).
func (m *Module) setPrefs(ctx context.Context, st *stanza.Stanza) (*stanza.Element, *stanza.Error) {
	if e := m.own(st); e != nil {
		return nil, e
	}
	p, e := parsePrefs(st.Payload())
	if e != nil {
		return nil, e
	}
	user := st.To.Local
	if err := m.db.SetArchivePrefs(ctx, user, storage.ArchivePrefs{Default: p.dflt, Always: p.always, Never: p.never}); err != nil {
		m.log.Error("archive preferences not saved", "user", user, "err", err)
		return nil, stanza.NewError(stanza.Wait, stanza.InternalServerError, "the archive preferences could not be saved; try again later")
	}
	m.mu.Lock()
	m.prefs[user] = p
	m.mu.Unlock()
	return prefsElement(p), nil
}

// parsePrefs reads a <prefs/> element.
func parsePrefs(el *stanza.Element) (*prefs, *stanza.Error) {
	p := &prefs{dflt: el.Attr("default")}
	switch p.dflt {
	case "always", "roster", "never":
	default:
		return nil, stanza.ErrBadRequest("default must be always, roster or never")
	}
	seen := map[string]bool{}
	for _, c := range el.Elements() {
		var list *[]string
		switch {
		case c.NS == NS && c.Name == "always":
			list = &p.always
		case c.NS == NS && c.Name == "never":
			list = &p.never
		default:
			continue
		}
		for _, j := range c.Elements() {
			if j.Name != "jid" || j.NS != NS {
				continue
			}
			parsed, err := jid.Parse(j.Content())
			if err != nil {
				return nil, stanza.NewError(stanza.Modify, stanza.JIDMalformed, "not a JID: "+j.Content())
			}
			s := parsed.String()
			if seen[s] {
				continue
			}
			seen[s] = true
			if len(*list) >= maxPrefsJIDs {
				return nil, stanza.NewError(stanza.Modify, stanza.PolicyViolation, "at most 1000 addresses in each list")
			}
			*list = append(*list, s)
		}
	}
	return p, nil
}
