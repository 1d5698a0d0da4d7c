package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RosterItem is one contact on a user's roster (RFC 6121 2.1.2).
type RosterItem struct {
	Contact      string // bare JID
	Name         string
	Subscription string // none, to, from or both; "" is stored as none
	Ask          bool   // an outbound subscription request is pending (ask='subscribe')
	Approved     bool   // an inbound request is pre-approved (RFC 6121 3.4)
	Groups       []string
}

// Roster returns the user's roster, sorted by contact, and its version:
// 0 until the roster first changes. Items and version come from one
// snapshot. It returns ErrNotFound if there is no such user.
func (db *DB) Roster(ctx context.Context, user string) (items []RosterItem, ver int64, err error) {
	err = db.view(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT roster_ver FROM users WHERE name = ?`, user).Scan(&ver); err != nil {
			return notFound(err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT contact, name, subscription, ask, approved, groups_json
			FROM roster WHERE username = ? ORDER BY contact`, user)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanRosterItem(rows)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, fmt.Errorf("roster of %s: %w", user, err)
	}
	return items, ver, nil
}

func scanRosterItem(s scanner) (RosterItem, error) {
	var it RosterItem
	var groups string
	if err := s.Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.Approved, &groups); err != nil {
		return RosterItem{}, err
	}
	if groups != "[]" {
		if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
			return RosterItem{}, fmt.Errorf("groups of %s: %w", it.Contact, err)
		}
	}
	return it, nil
}

// RosterItem returns the item for contact on the user's roster, or
// ErrNotFound.
func (db *DB) RosterItem(ctx context.Context, user, contact string) (RosterItem, error) {
	it, err := scanRosterItem(db.r.QueryRowContext(ctx, `SELECT contact, name, subscription, ask, approved, groups_json
		FROM roster WHERE username = ? AND contact = ?`, user, contact))
	if err != nil {
		return RosterItem{}, fmt.Errorf("roster item %s of %s: %w", contact, user, notFound(err))
	}
	return it, nil
}

// PutRosterItem adds it to the user's roster or replaces the item with the
// same contact, and returns the roster's new version. It returns
// ErrNotFound if there is no such user.
func (db *DB) PutRosterItem(ctx context.Context, user string, it RosterItem) (ver int64, err error) {
	err = db.putRosterItem(ctx, user, it, &ver)
	if err != nil {
		return 0, fmt.Errorf("put roster item %s of %s: %w", it.Contact, user, err)
	}
	return ver, nil
}

func (db *DB) putRosterItem(ctx context.Context, user string, it RosterItem, ver *int64) error {
	if it.Contact == "" {
		return errors.New("empty contact")
	}
	switch it.Subscription {
	case "":
		it.Subscription = "none"
	case "none", "to", "from", "both":
	default:
		return fmt.Errorf("bad subscription %q", it.Subscription)
	}
	groups := "[]"
	if len(it.Groups) > 0 {
		b, err := json.Marshal(it.Groups)
		if err != nil {
			return err
		}
		groups = string(b)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		v, err := bumpRoster(ctx, tx, user)
		if err != nil {
			return err
		}
		*ver = v
		_, err = tx.ExecContext(ctx, `INSERT INTO roster (username, contact, name, subscription, ask, approved, groups_json)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name,
				subscription = excluded.subscription, ask = excluded.ask,
				approved = excluded.approved, groups_json = excluded.groups_json`,
			user, it.Contact, it.Name, it.Subscription, it.Ask, it.Approved, groups)
		return err
	})
}

// LabelRosterItem sets the name and groups of contact on the user's roster,
// adding the contact with subscription none if it is not there, and keeps
// the subscription state as it is, all in one transaction (the client sets
// only labels, RFC 6121 2.1.2). It returns the item as stored and the
// roster's new version, or ErrNotFound if there is no such user.
func (db *DB) LabelRosterItem(ctx context.Context, user, contact, name string, groups []string) (RosterItem, int64, error) {
	it := RosterItem{Contact: contact, Name: name, Subscription: "none", Groups: groups}
	var ver int64
	if contact == "" {
		return it, 0, fmt.Errorf("label roster item of %s: empty contact", user)
	}
	gs := "[]"
	if len(groups) > 0 {
		b, err := json.Marshal(groups)
		if err != nil {
			return it, 0, err
		}
		gs = string(b)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		v, err := bumpRoster(ctx, tx, user)
		if err != nil {
			return err
		}
		ver = v
		return tx.QueryRowContext(ctx, `INSERT INTO roster (username, contact, name, subscription, ask, approved, groups_json)
			VALUES (?, ?, ?, 'none', 0, 0, ?)
			ON CONFLICT (username, contact) DO UPDATE SET name = excluded.name, groups_json = excluded.groups_json
			RETURNING subscription, ask, approved`,
			user, contact, name, gs).Scan(&it.Subscription, &it.Ask, &it.Approved)
	})
	if err != nil {
		return RosterItem{}, 0, fmt.Errorf("label roster item %s of %s: %w", contact, user, err)
	}
	return it, ver, nil
}

// DeleteRosterItem removes contact from the user's roster and returns the
// roster's new version. It returns ErrNotFound if the contact is not on it.
func (db *DB) DeleteRosterItem(ctx context.Context, user, contact string) (ver int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM roster WHERE username = ? AND contact = ?`, user, contact)
		if err != nil {
			return err
		}
		if err := affected(res); err != nil {
			return err
		}
		ver, err = bumpRoster(ctx, tx, user)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete roster item %s of %s: %w", contact, user, err)
	}
	return ver, nil
}

// bumpRoster gives the user's roster a new version. Versions come from one
// counter for all users, so they only grow, deletes included, and a version
// is never handed out twice, not even to a re-created account with the same
// name whose client still caches the old roster (RFC 6121 2.6).
func bumpRoster(ctx context.Context, tx *sql.Tx, user string) (int64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'roster' RETURNING value`).Scan(&v); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `UPDATE users SET roster_ver = ? WHERE name = ?`, v, user)
	if err != nil {
		return 0, err
	}
	return v, affected(res)
}

// RosterVersion returns the version of the user's roster: 0 until it first
// changes. It returns ErrNotFound if there is no such user.
func (db *DB) RosterVersion(ctx context.Context, user string) (int64, error) {
	var v int64
	if err := db.r.QueryRowContext(ctx, `SELECT roster_ver FROM users WHERE name = ?`, user).Scan(&v); err != nil {
		return 0, fmt.Errorf("roster version of %s: %w", user, notFound(err))
	}
	return v, nil
}

// RosterSubscribers returns the contacts subscribed to the user's presence
// (subscription from or both), sorted: those the user's presence goes to
// (RFC 6121 4.2.2).
func (db *DB) RosterSubscribers(ctx context.Context, user string) ([]string, error) {
	cs, err := db.texts(ctx, `SELECT contact FROM roster
		WHERE username = ? AND subscription IN ('from', 'both') ORDER BY contact`, user)
	if err != nil {
		return nil, fmt.Errorf("roster subscribers of %s: %w", user, err)
	}
	return cs, nil
}

// RosterSubscriptions returns the contacts whose presence the user sees
// (subscription to or both), sorted: those probed when the user comes
// online (RFC 6121 4.2.2). Only these rows are read, not the roster.
func (db *DB) RosterSubscriptions(ctx context.Context, user string) ([]string, error) {
	cs, err := db.texts(ctx, `SELECT contact FROM roster
		WHERE username = ? AND subscription IN ('to', 'both') ORDER BY contact`, user)
	if err != nil {
		return nil, fmt.Errorf("roster subscriptions of %s: %w", user, err)
	}
	return cs, nil
}

// RosterSize returns how many items the user's roster has.
func (db *DB) RosterSize(ctx context.Context, user string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM roster WHERE username = ?`, user).Scan(&n); err != nil {
		return 0, fmt.Errorf("roster size of %s: %w", user, err)
	}
	return n, nil
}

// texts returns the one text column of the rows query selects.
func (db *DB) texts(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ss []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		ss = append(ss, s)
	}
	return ss, rows.Err()
}

// Pending is an inbound subscription request the user has not answered yet:
// the contact asked to see the user's presence. RFC 6121 3.1.3 has the
// server keep it and deliver it again when the user next logs in.
type Pending struct {
	Contact  string
	Stanza   []byte // the original presence, as XML
	Received time.Time
}

// AddPending records a subscription request from contact to the user,
// replacing an earlier one from the same contact. It returns ErrNotFound
// if there is no such user.
func (db *DB) AddPending(ctx context.Context, user, contact string, stanza []byte) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO pending (username, contact, stanza, received) VALUES (?, ?, ?, ?)
		ON CONFLICT (username, contact) DO UPDATE SET stanza = excluded.stanza, received = excluded.received`,
		user, contact, blob(stanza), unix(time.Now()))
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("add pending %s for %s: %w", contact, user, err)
	}
	return nil
}

// DeletePending forgets the subscription request from contact to the user;
// it is no error if there is none.
func (db *DB) DeletePending(ctx context.Context, user, contact string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM pending WHERE username = ? AND contact = ?`, user, contact); err != nil {
		return fmt.Errorf("delete pending %s for %s: %w", contact, user, err)
	}
	return nil
}

// DeletePendingFrom forgets every unanswered subscription request that
// contact sent (its account was deleted).
func (db *DB) DeletePendingFrom(ctx context.Context, contact string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM pending WHERE contact = ?`, contact); err != nil {
		return fmt.Errorf("delete pending from %s: %w", contact, err)
	}
	return nil
}

// PendingFor returns the user's pending subscription requests, oldest first.
func (db *DB) PendingFor(ctx context.Context, user string) ([]Pending, error) {
	ps, err := db.pendingFor(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("pending for %s: %w", user, err)
	}
	return ps, nil
}

func (db *DB) pendingFor(ctx context.Context, user string) ([]Pending, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT contact, stanza, received FROM pending
		WHERE username = ? ORDER BY received, contact`, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []Pending
	for rows.Next() {
		var p Pending
		var at int64
		if err := rows.Scan(&p.Contact, &p.Stanza, &at); err != nil {
			return nil, err
		}
		p.Received = fromUnix(at)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// HasPending reports whether contact has asked to see the user's presence
// and the user has not answered yet.
func (db *DB) HasPending(ctx context.Context, user, contact string) (bool, error) {
	var ok bool
	err := db.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pending WHERE username = ? AND contact = ?)`,
		user, contact).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("has pending %s for %s: %w", contact, user, err)
	}
	return ok, nil
}

// MutualRosterItem makes contact a contact of the user with subscription
// both, as when each has asked to see the other and the other agreed
// (RFC 6121 3.1): nothing pending either way and no pre-approval. The
// user's name for the contact and its groups are kept; group, if not
// empty, is added, in place of replace if the item has that one. The
// contact's unanswered request to the user goes, in the same transaction.
// It returns the item as stored, the item as it was (Subscription "" if
// the contact was not on the roster), and the roster's new version, which
// is 0 when nothing changed (nothing to push). The contact is the bare JID
// of an account of this server (both sides are the server's own); it
// returns ErrNotFound if there is no such user or no account of the
// contact's localpart, checked in the same transaction, so that an account
// being deleted meanwhile is never left on the roster: either the write
// comes first and the deletion's clean-up finds it, or it finds no account.
func (db *DB) MutualRosterItem(ctx context.Context, user, contact, group, replace string) (it, before RosterItem, ver int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		local, _, ok := strings.Cut(contact, "@")
		if !ok || local == "" {
			return fmt.Errorf("%s is not an account's address: %w", contact, ErrNotFound)
		}
		for _, name := range []string{user, local} {
			var exists bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, name).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("no account %s: %w", name, ErrNotFound)
			}
		}
		before, err = scanRosterItem(tx.QueryRowContext(ctx, `SELECT contact, name, subscription, ask, approved, groups_json
			FROM roster WHERE username = ? AND contact = ?`, user, contact))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			before = RosterItem{Contact: contact}
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending WHERE username = ? AND contact = ?`, user, contact); err != nil {
			return err
		}
		it = RosterItem{Contact: contact, Name: before.Name, Subscription: "both", Groups: withGroup(before.Groups, group, replace)}
		if before.Subscription == "both" && !before.Ask && !before.Approved && slices.Equal(before.Groups, it.Groups) {
			return nil
		}
		gs := "[]"
		if len(it.Groups) > 0 {
			b, err := json.Marshal(it.Groups)
			if err != nil {
				return err
			}
			gs = string(b)
		}
		if ver, err = bumpRoster(ctx, tx, user); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO roster (username, contact, name, subscription, ask, approved, groups_json)
			VALUES (?, ?, ?, 'both', 0, 0, ?)
			ON CONFLICT (username, contact) DO UPDATE SET subscription = 'both', ask = 0, approved = 0,
				groups_json = excluded.groups_json`,
			user, contact, it.Name, gs)
		return err
	})
	if err != nil {
		return RosterItem{}, RosterItem{}, 0, fmt.Errorf("mutual roster item %s of %s: %w", contact, user, err)
	}
	return it, before, ver, nil
}

// RelabelRosterGroup puts group in place of old on the user's item for
// contact (the family group was renamed), or adds it when old is empty;
// an empty group takes old away. An item that is not there, or does not
// have old (its owner took it out of the group), is left as it is: a
// relabel never adds a contact. It returns the item as stored and the
// roster's new version, 0 when nothing changed.
func (db *DB) RelabelRosterGroup(ctx context.Context, user, contact, old, group string) (it RosterItem, ver int64, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		it, err = scanRosterItem(tx.QueryRowContext(ctx, `SELECT contact, name, subscription, ask, approved, groups_json
			FROM roster WHERE username = ? AND contact = ?`, user, contact))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var groups []string
		switch {
		case old == "":
			groups = withGroup(it.Groups, group, "")
		case !slices.Contains(it.Groups, old):
			return nil
		case group == "" || slices.Contains(it.Groups, group):
			groups = slices.DeleteFunc(slices.Clone(it.Groups), func(g string) bool { return g == old })
		default:
			groups = withGroup(it.Groups, group, old)
		}
		if slices.Equal(groups, it.Groups) {
			return nil
		}
		it.Groups = groups
		gs := "[]"
		if len(groups) > 0 {
			b, err := json.Marshal(groups)
			if err != nil {
				return err
			}
			gs = string(b)
		}
		if ver, err = bumpRoster(ctx, tx, user); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE roster SET groups_json = ? WHERE username = ? AND contact = ?`, gs, user, contact)
		return err
	})
	if err != nil {
		return RosterItem{}, 0, fmt.Errorf("relabel roster item %s of %s: %w", contact, user, err)
	}
	return it, ver, nil
}

// withGroup returns groups with group added in place of replace (or at
// the end); an empty group adds nothing.
func withGroup(groups []string, group, replace string) []string {
	out := slices.Clone(groups)
	if group == "" || slices.Contains(out, group) {
		return out
	}
	if i := slices.Index(out, replace); replace != "" && i >= 0 {
		out[i] = group
		return out
	}
	return append(out, group)
}

// RosterHolders returns the users who have contact on their roster,
// sorted, with their items for it.
func (db *DB) RosterHolders(ctx context.Context, contact string) (users []string, items []RosterItem, err error) {
	rows, err := db.r.QueryContext(ctx, `SELECT username, contact, name, subscription, ask, approved, groups_json
		FROM roster WHERE contact = ? ORDER BY username`, contact)
	if err != nil {
		return nil, nil, fmt.Errorf("rosters holding %s: %w", contact, err)
	}
	defer rows.Close()
	for rows.Next() {
		var u string
		it, err := scanRosterItem(withFirst{rows, &u})
		if err != nil {
			return nil, nil, fmt.Errorf("rosters holding %s: %w", contact, err)
		}
		users = append(users, u)
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("rosters holding %s: %w", contact, err)
	}
	return users, items, nil
}

// withFirst scans one more column, into first, before a row's others.
type withFirst struct {
	s     scanner
	first any
}

func (w withFirst) Scan(dest ...any) error { return w.s.Scan(append([]any{w.first}, dest...)...) }
