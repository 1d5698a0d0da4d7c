package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Publish-subscribe nodes (XEP-0060) live in two places: each account's
// personal nodes (XEP-0163, pep_nodes and pep_items, keyed by account and
// node) and the service's on pubsub.<domain> (pubsub_nodes and
// pubsub_items, keyed by node). Both have the same configuration and the
// same items, so the item methods below are written once over a space.

// PubsubNode is a node and its configuration (XEP-0060 16.4.3,
// pubsub#node_config). A personal node has the first fields; the rest
// have one value there (see PEPNode).
type PubsubNode struct {
	Node string
	// Access is pubsub#access_model: "open", "presence", "roster",
	// "authorize" or "whitelist" (a personal node: the first three but
	// roster).
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

	// DeliverPayloads is pubsub#deliver_payloads.
	DeliverPayloads bool
	// PublishModel is pubsub#publish_model: "publishers", "subscribers"
	// or "open".
	PublishModel string
	// RosterGroups is pubsub#roster_groups_allowed, one group a line.
	RosterGroups string
	Description  string
	// Creator is the bare JID that created a service node.
	Creator string
}

// PubsubItem is an item published to a node.
type PubsubItem struct {
	ID        string
	Publisher string // the bare JID that published it
	Payload   []byte // the payload element, as XML
	Published time.Time
}

// space names one node's items: the tables, the key columns and their
// values.
type space struct {
	nodes, items string
	cols         string // the key columns, "username, node" or "node"
	where        string // the key condition
	args         []any  // the key's values
	what         string // for errors
}

func pepSpace(user, node string) space {
	return space{nodes: "pep_nodes", items: "pep_items", cols: "username, node", where: "username = ? AND node = ?",
		args: []any{user, node}, what: fmt.Sprintf("pep node %q of %s", node, user)}
}

func serviceSpace(node string) space {
	return space{nodes: "pubsub_nodes", items: "pubsub_items", cols: "node", where: "node = ?",
		args: []any{node}, what: fmt.Sprintf("pubsub node %q", node)}
}

// with returns the key's values followed by more.
func (s space) with(more ...any) []any {
	return append(append([]any{}, s.args...), more...)
}

// placeholders returns "?, ?" for the key's values.
func (s space) placeholders() string { return "?" + repeat(", ?", len(s.args)-1) }

// itemSize returns the payload size of an item, 0 if there is none.
func (db *DB) itemSize(ctx context.Context, s space, id string) (int64, error) {
	var n int64
	err := db.r.QueryRowContext(ctx, `SELECT coalesce((SELECT length(payload) FROM `+s.items+` WHERE `+s.where+` AND id = ?), 0)`,
		s.with(id)...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("item size in %s: %w", s.what, err)
	}
	return n, nil
}

// items returns a node's items in publication order, oldest first: the
// items named by ids, or else the last max (max <= 0: all).
func (db *DB) items(ctx context.Context, s space, max int, ids []string) ([]PubsubItem, error) {
	var rows *sql.Rows
	var err error
	switch {
	case len(ids) > 0:
		args := s.with()
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err = db.r.QueryContext(ctx, `SELECT id, publisher, payload, published FROM `+s.items+` WHERE `+s.where+
			` AND id IN (?`+repeat(",?", len(ids)-1)+`) ORDER BY seq`, args...)
	case max > 0:
		rows, err = db.r.QueryContext(ctx, `SELECT id, publisher, payload, published FROM (
			SELECT id, publisher, payload, published, seq FROM `+s.items+` WHERE `+s.where+`
			ORDER BY seq DESC LIMIT ?) ORDER BY seq`, s.with(max)...)
	default:
		rows, err = db.r.QueryContext(ctx, `SELECT id, publisher, payload, published FROM `+s.items+
			` WHERE `+s.where+` ORDER BY seq`, s.args...)
	}
	if err != nil {
		return nil, fmt.Errorf("items of %s: %w", s.what, err)
	}
	return scanItems(rows, s.what)
}

func scanItems(rows *sql.Rows, what string) ([]PubsubItem, error) {
	defer rows.Close()
	var out []PubsubItem
	for rows.Next() {
		var it PubsubItem
		var at int64
		if err := rows.Scan(&it.ID, &it.Publisher, &it.Payload, &at); err != nil {
			return nil, fmt.Errorf("items of %s: %w", what, err)
		}
		it.Published = fromUnix(at)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("items of %s: %w", what, err)
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

// putItem stores an item in an existing node, replacing an item with the
// same id (which moves last), and trims the node.
func putItem(b *batch, s space, it PubsubItem) error {
	if _, err := b.exec(`INSERT INTO `+s.items+` (`+s.cols+`, id, publisher, payload, seq, published)
		VALUES (`+s.placeholders()+`, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM `+s.items+` WHERE `+s.where+`), ?)
		ON CONFLICT (`+s.cols+`, id) DO UPDATE SET publisher = excluded.publisher, payload = excluded.payload,
			seq = excluded.seq, published = excluded.published`,
		append(s.with(it.ID, it.Publisher, blob(it.Payload)), s.with(unix(it.Published))...)...); err != nil {
		return err
	}
	return trim(b, s)
}

// trim drops a node's oldest items beyond what its configuration keeps.
func trim(b *batch, s space) error {
	args := append(append(s.with(), s.args...), s.args...)
	_, err := b.exec(`DELETE FROM `+s.items+` WHERE `+s.where+` AND seq NOT IN (
		SELECT seq FROM `+s.items+` WHERE `+s.where+` ORDER BY seq DESC LIMIT (
			SELECT CASE WHEN NOT persist_items THEN 1 WHEN max_items > 0 THEN max_items ELSE -1 END
			FROM `+s.nodes+` WHERE `+s.where+`))`, args...)
	return err
}

// retractItem deletes an item, or returns ErrNotFound.
func retractItem(b *batch, s space, id string) error {
	res, err := b.exec(`DELETE FROM `+s.items+` WHERE `+s.where+` AND id = ?`, s.with(id)...)
	if err != nil {
		return err
	}
	return affected(res)
}

// purgeItems deletes every item of a node.
func purgeItems(b *batch, s space) error {
	_, err := b.exec(`DELETE FROM `+s.items+` WHERE `+s.where, s.args...)
	return err
}
