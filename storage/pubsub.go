package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The publish-subscribe service on pubsub.<domain> (XEP-0060): nodes
// that belong to the service, with affiliations and explicit
// subscriptions. The items are written by the methods shared with
// personal nodes (pubsub_items.go).

// ErrFull means a node has as many subscriptions as it may.
var ErrFull = fmt.Errorf("the node has as many subscriptions as it may: %w", ErrQuota)

// ErrNotYours means an item with that id was published by someone else
// (it is an ErrExists too).
var ErrNotYours = fmt.Errorf("the item was published by someone else: %w", ErrExists)

// PubsubSubscription is one JID's subscription to a service node.
type PubsubSubscription struct {
	Node  string
	JID   string // bare or full, as subscribed
	SubID string
	// State is "subscribed" or "pending" (waiting for an owner).
	State string
	// Deliver is the pubsub#deliver subscription option.
	Deliver bool
}

// PubsubAffiliation is one JID's affiliation with a service node:
// "owner", "publisher", "member" or "outcast".
type PubsubAffiliation struct {
	Node        string
	JID         string
	Affiliation string
}

const serviceNodeColumns = `node, creator, access_model, max_items, persist_items, send_last, notify_retract, notify_delete,
	deliver_payloads, publish_model, roster_groups, title, description`

func scanServiceNode(row interface{ Scan(...any) error }) (PubsubNode, error) {
	var n PubsubNode
	err := row.Scan(&n.Node, &n.Creator, &n.Access, &n.MaxItems, &n.Persist, &n.SendLast, &n.NotifyRetract, &n.NotifyDelete,
		&n.DeliverPayloads, &n.PublishModel, &n.RosterGroups, &n.Title, &n.Description)
	return n, err
}

// ServiceNode returns a node of the service, or ErrNotFound.
func (db *DB) ServiceNode(ctx context.Context, node string) (PubsubNode, error) {
	n, err := scanServiceNode(db.r.QueryRowContext(ctx, `SELECT `+serviceNodeColumns+` FROM pubsub_nodes WHERE node = ?`, node))
	if err != nil {
		return PubsubNode{}, fmt.Errorf("pubsub node %q: %w", node, notFound(err))
	}
	return n, nil
}

// ServiceNodes returns the service's nodes, by name.
func (db *DB) ServiceNodes(ctx context.Context) ([]PubsubNode, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+serviceNodeColumns+` FROM pubsub_nodes ORDER BY node`)
	if err != nil {
		return nil, fmt.Errorf("pubsub nodes: %w", err)
	}
	defer rows.Close()
	var out []PubsubNode
	for rows.Next() {
		n, err := scanServiceNode(rows)
		if err != nil {
			return nil, fmt.Errorf("pubsub nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ServiceNodeCount returns how many nodes creator made.
func (db *DB) ServiceNodeCount(ctx context.Context, creator string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_nodes WHERE creator = ?`, creator).Scan(&n); err != nil {
		return 0, fmt.Errorf("pubsub nodes of %s: %w", creator, err)
	}
	return n, nil
}

// CreateServiceNode creates a node with cfg, its creator its owner. It
// returns ErrExists if there is one by that name, ErrQuota if the
// creator has max nodes already (max < 0: no bound), counted in the same
// write so that creations at once cannot pass it.
func (db *DB) CreateServiceNode(ctx context.Context, cfg PubsubNode, max int64) error {
	at := unix(time.Now())
	return db.commit.enqueue("create pubsub node "+cfg.Node, func(b *batch) (int64, error) {
		if max >= 0 {
			var n int64
			if err := b.tx.QueryRowContext(b.ctx, `SELECT count(*) FROM pubsub_nodes WHERE creator = ?`, cfg.Creator).Scan(&n); err != nil {
				return 0, err
			}
			if n >= max {
				return 0, ErrQuota
			}
		}
		res, err := b.exec(`INSERT INTO pubsub_nodes (`+serviceNodeColumns+`, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node) DO NOTHING`,
			cfg.Node, cfg.Creator, cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete,
			cfg.DeliverPayloads, cfg.PublishModel, cfg.RosterGroups, cfg.Title, cfg.Description, at)
		if err != nil {
			return 0, err
		}
		if affected(res) != nil {
			return 0, ErrExists
		}
		_, err = b.exec(`INSERT INTO pubsub_affiliations (node, jid, affiliation) VALUES (?, ?, 'owner')`, cfg.Node, cfg.Creator)
		return 0, err
	}, nil).Wait()
}

// ConfigureServiceNode changes a node's configuration (not its creator)
// and drops the items it no longer keeps. It returns ErrNotFound if there
// is no such node.
func (db *DB) ConfigureServiceNode(ctx context.Context, cfg PubsubNode) error {
	return db.commit.enqueue("configure pubsub node "+cfg.Node, func(b *batch) (int64, error) {
		res, err := b.exec(`UPDATE pubsub_nodes SET access_model = ?, max_items = ?, persist_items = ?, send_last = ?,
			notify_retract = ?, notify_delete = ?, deliver_payloads = ?, publish_model = ?, roster_groups = ?, title = ?,
			description = ? WHERE node = ?`,
			cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete, cfg.DeliverPayloads,
			cfg.PublishModel, cfg.RosterGroups, cfg.Title, cfg.Description, cfg.Node)
		if err != nil {
			return 0, err
		}
		if err := affected(res); err != nil {
			return 0, err
		}
		return 0, trim(b, serviceSpace(cfg.Node))
	}, nil).Wait()
}

// DeleteServiceNode deletes a node with its items, affiliations and
// subscriptions. It returns ErrNotFound if there is no such node.
func (db *DB) DeleteServiceNode(ctx context.Context, node string) error {
	return db.commit.enqueue("delete pubsub node "+node, func(b *batch) (int64, error) {
		res, err := b.exec(`DELETE FROM pubsub_nodes WHERE node = ?`, node)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil).Wait()
}

// PublishService stores an item in a node, replacing an item with the
// same id, and keeps the node to its max_items; durable when it returns.
// It returns ErrNotFound if there is no such node. With onlyOwn (a
// publisher who is neither owner nor publisher of the node) an item with
// the same id by someone else is left alone: ErrNotYours, decided in the
// same write.
func (db *DB) PublishService(ctx context.Context, node string, it PubsubItem, onlyOwn bool) error {
	return db.commit.enqueue("publish to pubsub node "+node, func(b *batch) (int64, error) {
		var one int
		if err := b.tx.QueryRowContext(b.ctx, `SELECT 1 FROM pubsub_nodes WHERE node = ?`, node).Scan(&one); err != nil {
			return 0, notFound(err)
		}
		if onlyOwn {
			var by string
			err := b.tx.QueryRowContext(b.ctx, `SELECT publisher FROM pubsub_items WHERE node = ? AND id = ?`, node, it.ID).Scan(&by)
			if err := notFound(err); err != nil && !errors.Is(err, ErrNotFound) {
				return 0, err
			}
			if err == nil && by != it.Publisher {
				return 0, ErrNotYours
			}
		}
		return 0, putItem(b, serviceSpace(node), it)
	}, nil).Wait()
}

// ServiceItems returns a node's items in publication order, oldest first:
// the items named by ids, or else the last max (max <= 0: all).
func (db *DB) ServiceItems(ctx context.Context, node string, max int, ids []string) ([]PubsubItem, error) {
	return db.items(ctx, serviceSpace(node), max, ids)
}

// ServiceItemsPage returns a page of a node's items, newest first
// (XEP-0059 over XEP-0060 6.5.4): at most max after the item with id
// after (older than it) or, with before set, the max just newer than
// before ("" there: the oldest page). count is the node's number of
// items, index the position of the page's first item. It returns
// ErrNotFound if after or before names no item.
func (db *DB) ServiceItemsPage(ctx context.Context, node string, max int, after, before string, hasBefore bool) (items []PubsubItem, count, index int, err error) {
	seqOf := func(id string) (int64, error) {
		var seq int64
		err := db.r.QueryRowContext(ctx, `SELECT seq FROM pubsub_items WHERE node = ? AND id = ?`, node, id).Scan(&seq)
		return seq, notFound(err)
	}
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_items WHERE node = ?`, node).Scan(&count); err != nil {
		return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
	}
	const cols = `id, publisher, payload, published`
	switch {
	case hasBefore:
		// The page just newer than before, read oldest first and turned.
		q, args := `SELECT `+cols+` FROM pubsub_items WHERE node = ? ORDER BY seq ASC LIMIT ?`, []any{node, max}
		if before != "" {
			seq, err := seqOf(before)
			if err != nil {
				return nil, 0, 0, err
			}
			q, args = `SELECT `+cols+` FROM pubsub_items WHERE node = ? AND seq > ? ORDER BY seq ASC LIMIT ?`, []any{node, seq, max}
		}
		rows, err := db.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
		}
		items, err = scanItems(rows, "pubsub node "+node)
		if err != nil {
			return nil, 0, 0, err
		}
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
		var newer int
		if len(items) > 0 {
			if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_items WHERE node = ? AND seq > (
				SELECT seq FROM pubsub_items WHERE node = ? AND id = ?)`, node, node, items[0].ID).Scan(&newer); err != nil {
				return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
			}
		}
		return items, count, newer, nil
	case after != "":
		seq, err := seqOf(after)
		if err != nil {
			return nil, 0, 0, err
		}
		rows, err := db.r.QueryContext(ctx, `SELECT `+cols+` FROM pubsub_items WHERE node = ? AND seq < ? ORDER BY seq DESC LIMIT ?`, node, seq, max)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
		}
		items, err = scanItems(rows, "pubsub node "+node)
		if err != nil {
			return nil, 0, 0, err
		}
		var newer int
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_items WHERE node = ? AND seq >= ?`, node, seq).Scan(&newer); err != nil {
			return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
		}
		return items, count, newer, nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+cols+` FROM pubsub_items WHERE node = ? ORDER BY seq DESC LIMIT ?`, node, max)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("items of pubsub node %q: %w", node, err)
	}
	items, err = scanItems(rows, "pubsub node "+node)
	return items, count, 0, err
}

// ServiceItemSize returns the payload size of an item, 0 if there is none.
func (db *DB) ServiceItemSize(ctx context.Context, node, id string) (int64, error) {
	return db.itemSize(ctx, serviceSpace(node), id)
}

// RetractServiceItem deletes an item. It returns ErrNotFound if the node
// has no such item.
func (db *DB) RetractServiceItem(ctx context.Context, node, id string) error {
	return db.commit.enqueue("retract pubsub item of "+node, func(b *batch) (int64, error) {
		return 0, retractItem(b, serviceSpace(node), id)
	}, nil).Wait()
}

// PurgeServiceNode deletes every item of a node.
func (db *DB) PurgeServiceNode(ctx context.Context, node string) error {
	return db.commit.enqueue("purge pubsub node "+node, func(b *batch) (int64, error) {
		return 0, purgeItems(b, serviceSpace(node))
	}, nil).Wait()
}

// ServiceAffiliation returns jid's affiliation with node, "" for none.
func (db *DB) ServiceAffiliation(ctx context.Context, node, jid string) (string, error) {
	var a string
	err := db.r.QueryRowContext(ctx, `SELECT affiliation FROM pubsub_affiliations WHERE node = ? AND jid = ?`, node, jid).Scan(&a)
	if err := notFound(err); err != nil && !errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("affiliation of %s with pubsub node %q: %w", jid, node, err)
	}
	return a, nil
}

// ServiceAffiliations returns a node's affiliations (node set) or a
// JID's (jid set), by node and JID.
func (db *DB) ServiceAffiliations(ctx context.Context, node, jid string) ([]PubsubAffiliation, error) {
	q, arg := `SELECT node, jid, affiliation FROM pubsub_affiliations WHERE node = ? ORDER BY jid`, node
	if jid != "" {
		q, arg = `SELECT node, jid, affiliation FROM pubsub_affiliations WHERE jid = ? ORDER BY node`, jid
	}
	rows, err := db.r.QueryContext(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("pubsub affiliations: %w", err)
	}
	defer rows.Close()
	var out []PubsubAffiliation
	for rows.Next() {
		var a PubsubAffiliation
		if err := rows.Scan(&a.Node, &a.JID, &a.Affiliation); err != nil {
			return nil, fmt.Errorf("pubsub affiliations: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetServiceAffiliations sets affiliations of a node ("none" removes
// one; an outcast loses its subscription) in one write. It returns
// ErrNotFound if there is no such node.
func (db *DB) SetServiceAffiliations(ctx context.Context, node string, as []PubsubAffiliation) error {
	return db.commit.enqueue("set pubsub affiliations of "+node, func(b *batch) (int64, error) {
		var one int
		if err := b.tx.QueryRowContext(b.ctx, `SELECT 1 FROM pubsub_nodes WHERE node = ?`, node).Scan(&one); err != nil {
			return 0, notFound(err)
		}
		for _, a := range as {
			var err error
			if a.Affiliation == "none" {
				_, err = b.exec(`DELETE FROM pubsub_affiliations WHERE node = ? AND jid = ?`, node, a.JID)
			} else {
				_, err = b.exec(`INSERT INTO pubsub_affiliations (node, jid, affiliation) VALUES (?, ?, ?)
					ON CONFLICT (node, jid) DO UPDATE SET affiliation = excluded.affiliation`, node, a.JID, a.Affiliation)
			}
			if err == nil && a.Affiliation == "outcast" {
				_, err = b.exec(`DELETE FROM pubsub_subscriptions WHERE node = ? AND (jid = ? OR jid LIKE ? ESCAPE '\')`,
					node, a.JID, likePrefix(a.JID+"/"))
			}
			if err != nil {
				return 0, err
			}
		}
		return 0, nil
	}, nil).Wait()
}

// likePrefix is a LIKE pattern for what starts with s.
func likePrefix(s string) string {
	out := make([]byte, 0, len(s)+1)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '_' || c == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '%'))
}

const subColumns = `node, jid, subid, state, deliver`

func scanSubs(ctx context.Context, db *DB, q string, args ...any) ([]PubsubSubscription, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pubsub subscriptions: %w", err)
	}
	defer rows.Close()
	var out []PubsubSubscription
	for rows.Next() {
		var s PubsubSubscription
		if err := rows.Scan(&s.Node, &s.JID, &s.SubID, &s.State, &s.Deliver); err != nil {
			return nil, fmt.Errorf("pubsub subscriptions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ServiceSubscriptions returns a node's subscriptions, by JID.
func (db *DB) ServiceSubscriptions(ctx context.Context, node string) ([]PubsubSubscription, error) {
	return scanSubs(ctx, db, `SELECT `+subColumns+` FROM pubsub_subscriptions WHERE node = ? ORDER BY jid`, node)
}

// SubscriptionsOf returns the subscriptions of a bare JID and its full
// JIDs, by node.
func (db *DB) SubscriptionsOf(ctx context.Context, bare string) ([]PubsubSubscription, error) {
	return scanSubs(ctx, db, `SELECT `+subColumns+` FROM pubsub_subscriptions WHERE jid = ? OR jid LIKE ? ESCAPE '\' ORDER BY node, jid`,
		bare, likePrefix(bare+"/"))
}

// ServiceSubscription returns jid's subscription to node, or ErrNotFound.
func (db *DB) ServiceSubscription(ctx context.Context, node, jid string) (PubsubSubscription, error) {
	subs, err := scanSubs(ctx, db, `SELECT `+subColumns+` FROM pubsub_subscriptions WHERE node = ? AND jid = ?`, node, jid)
	if err != nil {
		return PubsubSubscription{}, err
	}
	if len(subs) == 0 {
		return PubsubSubscription{}, ErrNotFound
	}
	return subs[0], nil
}

// Subscribe records a subscription, or changes the state and options of
// the JID's subscription (keeping its subid): an owner's decision, or the
// subscriber's options. A new one fails with ErrFull when the node has
// max subscriptions (max <= 0: no bound), with ErrNotFound when there is
// no such node. It returns the subscription as stored.
func (db *DB) Subscribe(ctx context.Context, s PubsubSubscription, max int) (PubsubSubscription, error) {
	return db.upsertSubscription(ctx, s, max, `state = excluded.state, deliver = excluded.deliver`)
}

// RequestSubscription records a subscription a JID asks for (XEP-0060
// 6.1), like Subscribe, but one it has already keeps its subid and an
// approved one stays approved (6.1.6; a pending one takes s.State: the
// JID may have become a member since). Its options change only with
// withOptions (the request carried a form).
func (db *DB) RequestSubscription(ctx context.Context, s PubsubSubscription, withOptions bool, max int) (PubsubSubscription, error) {
	return db.upsertSubscription(ctx, s, max, `state = CASE WHEN state = 'subscribed' THEN state ELSE excluded.state END,
		deliver = CASE WHEN ? THEN excluded.deliver ELSE deliver END`, withOptions)
}

// upsertSubscription inserts s, or updates the JID's subscription with
// set (an upsert's SET clause, with its arguments).
func (db *DB) upsertSubscription(ctx context.Context, s PubsubSubscription, max int, set string, setArgs ...any) (PubsubSubscription, error) {
	at := unix(time.Now())
	err := db.commit.enqueue("subscribe to pubsub node "+s.Node, func(b *batch) (int64, error) {
		var n int
		var exists bool
		if err := b.tx.QueryRowContext(b.ctx, `SELECT (SELECT count(*) FROM pubsub_subscriptions WHERE node = ?1),
			EXISTS (SELECT 1 FROM pubsub_subscriptions WHERE node = ?1 AND jid = ?2)`, s.Node, s.JID).Scan(&n, &exists); err != nil {
			return 0, err
		}
		if !exists && max > 0 && n >= max {
			return 0, ErrFull
		}
		_, err := b.exec(`INSERT INTO pubsub_subscriptions (node, jid, subid, state, deliver, created) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (node, jid) DO UPDATE SET `+set,
			append([]any{s.Node, s.JID, s.SubID, s.State, s.Deliver, at}, setArgs...)...)
		if noUser(err) {
			return 0, ErrNotFound
		}
		return 0, err
	}, nil).Wait()
	if err != nil {
		return PubsubSubscription{}, err
	}
	return db.ServiceSubscription(ctx, s.Node, s.JID)
}

// Unsubscribe deletes jid's subscription to node, or returns ErrNotFound.
func (db *DB) Unsubscribe(ctx context.Context, node, jid string) error {
	return db.commit.enqueue("unsubscribe from pubsub node "+node, func(b *batch) (int64, error) {
		res, err := b.exec(`DELETE FROM pubsub_subscriptions WHERE node = ? AND jid = ?`, node, jid)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil).Wait()
}

// ForgetServiceJID deletes the nodes a bare JID created and its
// subscriptions and affiliations (an account that is deleted).
func (db *DB) ForgetServiceJID(ctx context.Context, bare string) error {
	return db.commit.enqueue("forget "+bare+" on the pubsub service", func(b *batch) (int64, error) {
		if _, err := b.exec(`DELETE FROM pubsub_nodes WHERE creator = ?`, bare); err != nil {
			return 0, err
		}
		if _, err := b.exec(`DELETE FROM pubsub_affiliations WHERE jid = ?`, bare); err != nil {
			return 0, err
		}
		_, err := b.exec(`DELETE FROM pubsub_subscriptions WHERE jid = ? OR jid LIKE ? ESCAPE '\'`, bare, likePrefix(bare+"/"))
		return 0, err
	}, nil).Wait()
}
