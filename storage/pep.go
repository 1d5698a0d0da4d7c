package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PEPNode is one node of an account's personal eventing service
// (XEP-0163) and its configuration (XEP-0060 16.4.3, pubsub#node_config).
type PEPNode struct {
	Node string
	// Access is pubsub#access_model: "open", "presence" or "whitelist".
	Access string
	// MaxItems is pubsub#max_items; 0 means "max" (the quota bounds it).
	MaxItems int
	// Persist is pubsub#persist_items.
	Persist bool
	// SendLast is pubsub#send_last_published_item: "never", "on_sub" or
	// "on_sub_and_presence".
	SendLast      string
	NotifyRetract bool
	NotifyDelete  bool
	Title         string
}

// PEPItem is an item published to a node.
type PEPItem struct {
	ID        string
	Publisher string // the bare JID that published it
	Payload   []byte // the payload element, as XML
	Published time.Time
}

const pepNodeColumns = `node, access_model, max_items, persist_items, send_last, notify_retract, notify_delete, title`

func scanPEPNode(row interface{ Scan(...any) error }) (PEPNode, error) {
	var n PEPNode
	err := row.Scan(&n.Node, &n.Access, &n.MaxItems, &n.Persist, &n.SendLast, &n.NotifyRetract, &n.NotifyDelete, &n.Title)
	return n, err
}

// PEPNodes returns the user's nodes, by name.
func (db *DB) PEPNodes(ctx context.Context, user string) ([]PEPNode, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+pepNodeColumns+` FROM pep_nodes WHERE username = ? ORDER BY node`, user)
	if err != nil {
		return nil, fmt.Errorf("pep nodes of %s: %w", user, err)
	}
	defer rows.Close()
	var out []PEPNode
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
func (db *DB) PEPNode(ctx context.Context, user, node string) (PEPNode, error) {
	n, err := scanPEPNode(db.r.QueryRowContext(ctx, `SELECT `+pepNodeColumns+` FROM pep_nodes WHERE username = ? AND node = ?`, user, node))
	if err != nil {
		return PEPNode{}, fmt.Errorf("pep node %q of %s: %w", node, user, notFound(err))
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
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce((SELECT length(payload) FROM pep_items WHERE username = ? AND node = ? AND id = ?), 0)`,
		user, node, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pep item size in %q of %s: %w", node, user, err)
	}
	return n, nil
}

// PEPItems returns a node's items in publication order, oldest first:
// the items named by ids, or else the last max (max <= 0: all).
func (db *DB) PEPItems(ctx context.Context, user, node string, max int, ids []string) ([]PEPItem, error) {
	var rows *sql.Rows
	var err error
	switch {
	case len(ids) > 0:
		q := `SELECT id, publisher, payload, published FROM pep_items WHERE username = ? AND node = ? AND id IN (?` +
			repeat(",?", len(ids)-1) + `) ORDER BY seq`
		args := []any{user, node}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err = db.r.QueryContext(ctx, q, args...)
	case max > 0:
		rows, err = db.r.QueryContext(ctx, `SELECT id, publisher, payload, published FROM (
			SELECT id, publisher, payload, published, seq FROM pep_items WHERE username = ? AND node = ?
			ORDER BY seq DESC LIMIT ?) ORDER BY seq`, user, node, max)
	default:
		rows, err = db.r.QueryContext(ctx, `SELECT id, publisher, payload, published FROM pep_items
			WHERE username = ? AND node = ? ORDER BY seq`, user, node)
	}
	if err != nil {
		return nil, fmt.Errorf("pep items of %q of %s: %w", node, user, err)
	}
	defer rows.Close()
	var out []PEPItem
	for rows.Next() {
		var it PEPItem
		var at int64
		if err := rows.Scan(&it.ID, &it.Publisher, &it.Payload, &at); err != nil {
			return nil, fmt.Errorf("pep items of %q of %s: %w", node, user, err)
		}
		it.Published = fromUnix(at)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pep items of %q of %s: %w", node, user, err)
	}
	return out, nil
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// PublishPEP stores an item in the user's node, replacing an item with the
// same id, and keeps the node to its max_items (and to one item when it
// does not persist items). If the node does not exist it is created with
// cfg (auto-create, XEP-0060 7.1.4); otherwise cfg is not used. The write
// joins the group commit and is durable when PublishPEP returns. It
// returns ErrNotFound if there is no such user.
func (db *DB) PublishPEP(ctx context.Context, user string, cfg PEPNode, it PEPItem) error {
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
		if _, err := b.exec(`INSERT INTO pep_items (username, node, id, publisher, payload, seq, published)
			VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM pep_items WHERE username = ? AND node = ?), ?)
			ON CONFLICT (username, node, id) DO UPDATE SET publisher = excluded.publisher, payload = excluded.payload,
				seq = excluded.seq, published = excluded.published`,
			user, cfg.Node, it.ID, it.Publisher, blob(it.Payload), user, cfg.Node, at); err != nil {
			return 0, err
		}
		return 0, trimPEP(b, user, cfg.Node)
	}, nil).Wait()
}

// trimPEP drops a node's oldest items beyond what its configuration keeps.
func trimPEP(b *batch, user, node string) error {
	_, err := b.exec(`DELETE FROM pep_items WHERE username = ?1 AND node = ?2 AND seq NOT IN (
		SELECT seq FROM pep_items WHERE username = ?1 AND node = ?2 ORDER BY seq DESC LIMIT (
			SELECT CASE WHEN NOT persist_items THEN 1 WHEN max_items > 0 THEN max_items ELSE -1 END
			FROM pep_nodes WHERE username = ?1 AND node = ?2))`, user, node)
	return err
}

// CreatePEPNode creates a node with cfg. It returns ErrExists if the user
// has it already, ErrNotFound if there is no such user.
func (db *DB) CreatePEPNode(ctx context.Context, user string, cfg PEPNode) error {
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
func (db *DB) ConfigurePEPNode(ctx context.Context, user string, cfg PEPNode) error {
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
		return 0, trimPEP(b, user, cfg.Node)
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
		res, err := b.exec(`DELETE FROM pep_items WHERE username = ? AND node = ? AND id = ?`, user, node, id)
		if err != nil {
			return 0, err
		}
		return 0, affected(res)
	}, nil).Wait()
}

// PurgePEPNode deletes every item of a node. It returns ErrNotFound if
// there is no such node.
func (db *DB) PurgePEPNode(ctx context.Context, user, node string) error {
	if _, err := db.PEPNode(ctx, user, node); err != nil {
		return err
	}
	err := db.commit.enqueue("purge pep node "+node+" of "+user, func(b *batch) (int64, error) {
		_, err := b.exec(`DELETE FROM pep_items WHERE username = ? AND node = ?`, user, node)
		return 0, err
	}, nil).Wait()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("purge pep node %q of %s: %w", node, user, err)
	}
	return err
}
