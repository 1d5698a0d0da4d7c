package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Account is everything an account owns that moves between servers
// (XEP-0227): its keys, roster, unanswered subscription requests, vCard,
// private XML, offline messages and PEP nodes.
type Account struct {
	User    User
	Roster  []RosterItem
	Pending []Pending
	VCard   []byte            // nil: none
	Private map[string][]byte // by key, "name namespace" (mod/private)
	Offline []Offline         // From, Stanza and Stored are used
	PEP     []PEPNodeItems
}

// PEPNodeItems is a PEP node with its items, oldest first.
type PEPNodeItems struct {
	Node  PubsubNode
	Items []PubsubItem
}

// ImportAccount creates the account a describes with everything it owns,
// all of it or nothing. If the name is taken it returns ErrExists, unless
// replace is set: then the old account and all it owned (its archive
// too) give way to the new one in the same transaction. The write joins
// the group commit and is durable when ImportAccount returns.
func (db *DB) ImportAccount(ctx context.Context, a Account, replace bool) error {
	u := a.User
	if u.Name == "" {
		return errors.New("import account: empty name")
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	var failed error
	q := db.commit.enqueue("import account "+u.Name, func(b *batch) (int64, error) {
		// The runs waiting for the index go first: a rollback to the
		// savepoint would undo them, and they are no longer in memory.
		if err := b.flushIndex(); err != nil {
			return 0, err
		}
		// A savepoint makes the account all or nothing: a failure rolls
		// back to it and leaves the rest of the batch alone.
		if _, err := b.tx.ExecContext(b.ctx, `SAVEPOINT import_account`); err != nil {
			return 0, err
		}
		b.savepoint = true
		err := importAccount(b, u, a, replace)
		b.savepoint = false
		if err != nil {
			if _, rerr := b.tx.ExecContext(b.ctx, `ROLLBACK TO import_account`); rerr != nil {
				return 0, rerr
			}
			failed = err
		}
		_, err = b.tx.ExecContext(b.ctx, `RELEASE import_account`)
		return 0, err
	}, nil)
	if err := q.Wait(); err != nil {
		return err
	}
	if failed != nil {
		return fmt.Errorf("import account %s: %w", u.Name, failed)
	}
	return nil
}

func importAccount(b *batch, u User, a Account, replace bool) error {
	var exists bool
	if err := b.tx.QueryRowContext(b.ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, u.Name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		if !replace {
			return ErrExists
		}
		if _, err := b.purgeArchive(u.Name, 0); err != nil {
			return err
		}
		if _, err := b.exec(`DELETE FROM users WHERE name = ?`, u.Name); err != nil {
			return err
		}
	}
	if err := insertUser(b.ctx, b.tx, u); err != nil {
		return err
	}
	if len(a.Roster) > 0 {
		// A fresh version: a client that cached a roster of the same
		// name before fetches the whole of this one.
		if _, err := b.exec(`UPDATE counters SET value = value + 1 WHERE name = 'roster'`); err != nil {
			return err
		}
		if _, err := b.exec(`UPDATE users SET roster_ver = (SELECT value FROM counters WHERE name = 'roster') WHERE name = ?`, u.Name); err != nil {
			return err
		}
	}
	for _, it := range a.Roster {
		switch it.Subscription {
		case "":
			it.Subscription = "none"
		case "none", "to", "from", "both":
		default:
			return fmt.Errorf("contact %s: bad subscription %q", it.Contact, it.Subscription)
		}
		groups := "[]"
		if len(it.Groups) > 0 {
			g, err := json.Marshal(it.Groups)
			if err != nil {
				return err
			}
			groups = string(g)
		}
		if _, err := b.exec(`INSERT INTO roster (username, contact, name, subscription, ask, approved, groups_json)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.Name, it.Contact, it.Name, it.Subscription, it.Ask, it.Approved, groups); err != nil {
			return fmt.Errorf("contact %s: %w", it.Contact, err)
		}
	}
	now := time.Now()
	for _, p := range a.Pending {
		at := p.Received
		if at.IsZero() {
			at = now
		}
		if _, err := b.exec(`INSERT INTO pending (username, contact, stanza, received) VALUES (?, ?, ?, ?)
			ON CONFLICT (username, contact) DO UPDATE SET stanza = excluded.stanza`,
			u.Name, p.Contact, blob(p.Stanza), unix(at)); err != nil {
			return fmt.Errorf("subscription request from %s: %w", p.Contact, err)
		}
	}
	if a.VCard != nil {
		if _, err := b.exec(`INSERT INTO vcards (username, xml) VALUES (?, ?)`, u.Name, blob(a.VCard)); err != nil {
			return fmt.Errorf("vcard: %w", err)
		}
	}
	for k, v := range a.Private {
		if _, err := b.exec(`INSERT INTO private (username, key, xml) VALUES (?, ?, ?)`, u.Name, k, blob(v)); err != nil {
			return fmt.Errorf("private XML %q: %w", k, err)
		}
	}
	for _, m := range a.Offline {
		at := m.Stored
		if at.IsZero() {
			at = now
		}
		if _, err := b.exec(`INSERT INTO offline (username, sender, stanza, stored) VALUES (?, ?, ?, ?)`,
			u.Name, m.From, blob(m.Stanza), unix(at)); err != nil {
			return fmt.Errorf("offline message: %w", err)
		}
	}
	for _, n := range a.PEP {
		cfg := n.Node
		if _, err := b.exec(`INSERT INTO pep_nodes (username, `+pepNodeColumns+`, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.Name, cfg.Node, cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete, cfg.Title, unix(now)); err != nil {
			return fmt.Errorf("pep node %s: %w", cfg.Node, err)
		}
		for i, it := range n.Items {
			at := it.Published
			if at.IsZero() {
				at = now
			}
			if _, err := b.exec(`INSERT INTO pep_items (username, node, id, publisher, payload, seq, published)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (username, node, id) DO UPDATE SET publisher = excluded.publisher,
					payload = excluded.payload, seq = excluded.seq, published = excluded.published`,
				u.Name, cfg.Node, it.ID, it.Publisher, blob(it.Payload), i+1, unix(at)); err != nil {
				return fmt.Errorf("pep node %s item %s: %w", cfg.Node, it.ID, err)
			}
		}
		if err := trim(b, pepSpace(u.Name, cfg.Node)); err != nil {
			return fmt.Errorf("pep node %s: %w", cfg.Node, err)
		}
	}
	return nil
}

// ExportAccount returns everything the account name owns that
// ImportAccount takes, from one snapshot, or ErrNotFound.
func (db *DB) ExportAccount(ctx context.Context, name string) (Account, error) {
	var a Account
	err := db.view(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
		if err != nil {
			return notFound(err)
		}
		a.User = u
		rows, err := tx.QueryContext(ctx, `SELECT contact, name, subscription, ask, approved, groups_json
			FROM roster WHERE username = ? ORDER BY contact`, name)
		if err != nil {
			return err
		}
		for rows.Next() {
			it, err := scanRosterItem(rows)
			if err != nil {
				rows.Close()
				return err
			}
			a.Roster = append(a.Roster, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT contact, stanza, received FROM pending WHERE username = ? ORDER BY received, contact`, name, func(s scanner) error {
			var p Pending
			var at int64
			if err := s.Scan(&p.Contact, &p.Stanza, &at); err != nil {
				return err
			}
			p.Received = fromUnix(at)
			a.Pending = append(a.Pending, p)
			return nil
		}); err != nil {
			return err
		}
		switch err := tx.QueryRowContext(ctx, `SELECT xml FROM vcards WHERE username = ?`, name).Scan(&a.VCard); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		}
		if err := eachRow(ctx, tx, `SELECT key, xml FROM private WHERE username = ? ORDER BY key`, name, func(s scanner) error {
			var k string
			var v []byte
			if err := s.Scan(&k, &v); err != nil {
				return err
			}
			if a.Private == nil {
				a.Private = make(map[string][]byte)
			}
			a.Private[k] = v
			return nil
		}); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT id, sender, stanza, stored FROM offline WHERE username = ? ORDER BY id`, name, func(s scanner) error {
			var m Offline
			var at int64
			if err := s.Scan(&m.ID, &m.From, &m.Stanza, &at); err != nil {
				return err
			}
			m.Stored = fromUnix(at)
			a.Offline = append(a.Offline, m)
			return nil
		}); err != nil {
			return err
		}
		if err := eachRow(ctx, tx, `SELECT `+pepNodeColumns+` FROM pep_nodes WHERE username = ? ORDER BY node`, name, func(s scanner) error {
			n, err := scanPEPNode(s)
			if err != nil {
				return err
			}
			a.PEP = append(a.PEP, PEPNodeItems{Node: n})
			return nil
		}); err != nil {
			return err
		}
		for i := range a.PEP {
			n := &a.PEP[i]
			rows, err := tx.QueryContext(ctx, `SELECT id, publisher, payload, published FROM pep_items
				WHERE username = ? AND node = ? ORDER BY seq`, name, n.Node.Node)
			if err != nil {
				return err
			}
			for rows.Next() {
				var it PubsubItem
				var at int64
				if err := rows.Scan(&it.ID, &it.Publisher, &it.Payload, &at); err != nil {
					rows.Close()
					return err
				}
				it.Published = fromUnix(at)
				n.Items = append(n.Items, it)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("export account %s: %w", name, err)
	}
	return a, nil
}

// eachRow runs fn on each row of query, which takes the user's name.
func eachRow(ctx context.Context, tx *sql.Tx, query, name string, fn func(scanner) error) error {
	rows, err := tx.QueryContext(ctx, query, name)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// FillCredentials stores the keys of a mechanism the account has none for
// (iteration count 0), as after an import that brought only SCRAM-SHA-1
// keys, once a login shows the password. Keys the account has are kept,
// and so are its FAST tokens: the password did not change. It reports
// whether anything was stored.
func (db *DB) FillCredentials(ctx context.Context, name string, sha1, sha256 Credentials) (bool, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range []struct {
			col  string
			cred Credentials
		}{{"sha1", sha1}, {"sha256", sha256}} {
			if c.cred.Iters <= 0 {
				continue
			}
			p := c.col
			res, err := tx.ExecContext(ctx, `UPDATE users SET `+p+`_salt = ?, `+p+`_iters = ?, `+p+`_stored = ?, `+p+`_server = ?
				WHERE name = ? AND `+p+`_iters = 0`, blob(c.cred.Salt), c.cred.Iters, blob(c.cred.StoredKey), blob(c.cred.ServerKey), name)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("fill credentials of %s: %w", name, err)
	}
	return n > 0, nil
}
