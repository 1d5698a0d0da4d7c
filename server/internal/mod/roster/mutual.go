package roster

import (
	"context"
	"fmt"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// Mutual makes user and contact, two accounts of this server, contacts of
// each other with subscription both, as if each had asked to see the other
// and the other had agreed (RFC 6121 3.1): the server may decide this for
// both, since both are its own. Each keeps its name for the other and its
// groups, with group added (in place of replace, when renaming the family
// group). What changed is pushed to both accounts' interested sessions.
//
// It reports which way presence is newly allowed, so that the caller
// sends the presence an approval would (RFC 6121 3.1.5): userSees, the
// user may now see the contact's presence; contactSees, the other way.
func (m *Module) Mutual(ctx context.Context, user, contact, group, replace string) (userSees, contactSees bool, err error) {
	u := jid.JID{Local: user, Domain: m.r.Domain}
	c := jid.JID{Local: contact, Domain: m.r.Domain}
	if u == c {
		return false, false, fmt.Errorf("mutual %s: an account is always subscribed to itself", user)
	}
	// The contact may see the user once the user's item for it has from.
	contactSees, err = m.mutual(ctx, user, c, group, replace)
	if err != nil {
		return false, false, err
	}
	userSees, err = m.mutual(ctx, contact, u, group, replace)
	if err != nil {
		return false, contactSees, err
	}
	return userSees, contactSees, nil
}

// Relabel puts group in place of old on the user's item for contact, an
// account of this server, if the item is there and has old (the family
// group was renamed), and pushes the change. It never adds a contact.
func (m *Module) Relabel(ctx context.Context, user, contact, old, group string) error {
	c := jid.JID{Local: contact, Domain: m.r.Domain}
	it, ver, err := m.db.RelabelRosterGroup(ctx, user, c.String(), old, group)
	if err != nil {
		return err
	}
	if ver != 0 {
		m.push(ctx, user, it, ver)
	}
	return nil
}

// mutual puts contact on the user's roster with subscription both and
// reports whether that gave the contact a subscription to the user's
// presence it did not have.
func (m *Module) mutual(ctx context.Context, user string, contact jid.JID, group, replace string) (bool, error) {
	if err := m.room(ctx, user, contact.String()); err != nil {
		return false, err
	}
	it, before, ver, err := m.db.MutualRosterItem(ctx, user, contact.String(), group, replace)
	if err != nil {
		return false, err
	}
	if ver != 0 {
		m.push(ctx, user, it, ver)
	}
	return before.Subscription != "from" && before.Subscription != "both", nil
}

// UserRemoved takes a deleted account off every roster of this server: a
// new account that is given the name later must not inherit the
// subscriptions of the old one, nor its unanswered requests. Each
// roster's owner gets the push and, if it saw the account's presence, its
// unavailable presence (the deleted account's own roster is gone, so its
// sessions ending tell no one).
func (m *Module) UserRemoved(ctx context.Context, user string) {
	gone := jid.JID{Local: user, Domain: m.r.Domain}
	holders, items, err := m.db.RosterHolders(ctx, gone.String())
	if err != nil {
		m.log.Error("deleted account left on rosters", "user", user, "err", err)
		return
	}
	// Its requests no one answered are not delivered again at login.
	if err := m.db.DeletePendingFrom(ctx, gone.String()); err != nil {
		m.log.Error("deleted account's subscription requests kept", "user", user, "err", err)
	}
	for i, holder := range holders {
		ver, err := m.db.DeleteRosterItem(ctx, holder, gone.String())
		if err != nil {
			m.log.Error("deleted account left on a roster", "user", user, "roster", holder, "err", err)
			continue
		}
		m.push(ctx, holder, storage.RosterItem{Contact: gone.String(), Subscription: "remove"}, ver)
		if s := items[i].Subscription; s == "to" || s == "both" {
			to := jid.JID{Local: holder, Domain: m.r.Domain}
			el := stanza.New("presence", stanza.NSClient, "from", gone.String(), "to", to.String(), "type", "unavailable")
			m.r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindPresence, From: gone, To: to, Type: "unavailable"})
		}
	}
}
