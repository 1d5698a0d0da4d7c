package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const pepNodeColumns = `node, access_model, max_items, persist_items, send_last, notify_retract, notify_delete, title`

func scanPEPNode(row interface{ Scan(...any) error }) (PubsubNode, error) {
	var n PubsubNode
	err := row.Scan(&n.Node, &n.Access, &n.MaxItems, &n.Persist, &n.SendLast, &n.NotifyRetract, &n.NotifyDelete, &n.Title)
	// A personal node's other options have one value (pep.Profile).
	n.DeliverPayloads, n.PublishModel = true, "publishers"
	return n, err
}

// PEPNodes returns the user's nodes, by name.
func (db *DB) PEPNodes(ctx context.Context, user string) ([]PubsubNode, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+pepNodeColumns+` FROM pep_nodes WHERE username = ? ORDER BY node`, user)
	if err != nil {
		return nil, fmt.Errorf("pep nodes of %s: %w", user, err)
	}
	defer rows.Close()
	var out []PubsubNode
	for rows.Next() {
		n, err := scanPEPNode(rows)
		if err != nil {
			return nil, fmt.Errorf("pep nodes of %s: %w", user, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pep nodes of %s: %w", user, err)
	}
	return out, nil
}

// PEPNode returns one of the user's nodes, or ErrNotFound.
func (db *DB) PEPNode(ctx context.Context, user, node string) (PubsubNode, error) {
	n, err := scanPEPNode(db.r.QueryRowContext(ctx, `SELECT `+pepNodeColumns+` FROM pep_nodes WHERE username = ? AND node = ?`, user, node))
	if err != nil {
		return PubsubNode{}, fmt.Errorf("pep node %q of %s: %w", node, user, notFound(err))
	}
	return n, nil
}

// PEPUsage returns how many nodes the user has and how many bytes of
// payload their items take.
func (db *DB) PEPUsage(ctx context.Context, user string) (nodes int, bytes int64, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM pep_nodes WHERE username = ?),
		(SELECT coalesce(sum(length(payload)), 0) FROM pep_items WHERE username = ?)`, user, user).Scan(&nodes, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("pep usage of %s: %w", user, err)
	}
	return nodes, bytes, nil
}

// PEPItemSize returns the payload size of an item, 0 if there is none.
func (db *DB) PEPItemSize(ctx context.Context, user, node, id string) (int64, error) {
	return db.itemSize(ctx, pepSpace(user, node), id)
}

// PEPItems returns a node's items in publication order, oldest first:
// the items named by ids, or else the last max (max <= 0: all).
func (db *DB) PEPItems(ctx context.Context, user, node string, max int, ids []string) ([]PubsubItem, error) {
	return db.items(ctx, pepSpace(user, node), max, ids)
}

// PublishPEP stores an item in the user's node, replacing an item with the
// same id, and keeps the node to its max_items (and to one item when it
// does not persist items). If the node does not exist it is created with
// cfg (auto-create, XEP-0060 7.1.4); otherwise cfg is not used. The write
// joins the group commit and is durable when PublishPEP returns. It
// returns ErrNotFound if there is no such user.
func (db *DB) PublishPEP(ctx context.Context, user string, cfg PubsubNode, it PubsubItem) error {
	at := unix(it.Published)
	return db.commit.enqueue("publish to pep node "+cfg.Node+" of "+user, func(b *batch) (int64, error) {
		// The first statement is the one a deleted account fails (alone).
		if _, err := b.exec(`INSERT INTO pep_nodes (username, `+pepNodeColumns+`, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username, node) DO NOTHING`,
			user, cfg.Node, cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete, cfg.Title, at); err != nil {
			if noUser(err) {
				return 0, ErrNotFound
			}
			return 0, err
		}
		return 0, putItem(b, pepSpace(user, cfg.Node), it)
	}, nil).Wait()
}

// CreatePEPNode creates a node with cfg. It returns ErrExists if the user
// has it already, ErrNotFound if there is no such user.
func (db *DB) CreatePEPNode(ctx context.Context, user string, cfg PubsubNode) error {
	at := unix(time.Now())
	return db.commit.enqueue("create pep node "+cfg.Node+" of "+user, func(b *batch) (int64, error) {
		res, err := b.exec(`INSERT INTO pep_nodes (username, `+pepNodeColumns+`, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username, node) DO NOTHING`,
			user, cfg.Node, cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete, cfg.Title, at)
		if noUser(err) {
			return 0, ErrNotFound
		}
		if err != nil {
			return 0, err
		}
		if affected(res) != nil {
			return 0, ErrExists
		}
		return 0, nil
	}, nil).Wait()
}

// ConfigurePEPNode changes a node's configuration and drops the items it
// no longer keeps. It returns ErrNotFound if there is no such node.
func (db *DB) ConfigurePEPNode(ctx context.Context, user string, cfg PubsubNode) error {
	return db.commit.enqueue("configure pep node "+cfg.Node+" of "+user, func(b *batch) (int64, error) {
		res, err := b.exec(`UPDATE pep_nodes SET access_model = ?, max_items = ?, persist_items = ?, send_last = ?,
			notify_retract = ?, notify_delete = ?, title = ? WHERE username = ? AND node = ?`,
			cfg.Access, cfg.MaxItems, cfg.Persist, cfg.SendLast, cfg.NotifyRetract, cfg.NotifyDelete, cfg.Title, user, cfg.Node)
		if err != nil {
			return 0, err
		}
		if err := affected(res); err != nil {
			return 0, err
		}
		return 0, trim(b, pepSpace(user, cfg.Node))
	}, nil).Wait()
}

// DeletePEPNode deletes a node and its items. It returns ErrNotFound if
// there is no such node.
func (db *DB) DeletePEPNode(ctx context.Context, user, node string) error {
	return db.commit.enqueue("delete pep node "+node+" of "+user, func(b *batch) (int64, error) {
		res, err := b.exec(`DELETE FROM pep_nodes WHERE username = ? AND node = ?`, user, node)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil).Wait()
}

// RetractPEPItem deletes an item. It returns ErrNotFound if the node has
// no such item.
func (db *DB) RetractPEPItem(ctx context.Context, user, node, id string) error {
	return db.commit.enqueue("retract pep item of "+user, func(b *batch) (int64, error) {
		return 0, retractItem(b, pepSpace(user, node), id)
	}, nil).Wait()
}

// PurgePEPNode deletes every item of a node. It returns ErrNotFound if
// there is no such node.
func (db *DB) PurgePEPNode(ctx context.Context, user, node string) error {
	if _, err := db.PEPNode(ctx, user, node); err != nil {
		return err
	}
	err := db.commit.enqueue("purge pep node "+node+" of "+user, func(b *batch) (int64, error) {
		return 0, purgeItems(b, pepSpace(user, node))
	}, nil).Wait()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("purge pep node %q of %s: %w", node, user, err)
	}
	return err
}
