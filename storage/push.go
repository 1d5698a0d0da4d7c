package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Push is a push notification registration (XEP-0357): the service and
// node a device's notifications go to.
type Push struct {
	Service  string // the push service's JID
	Node     string
	Resource string // the device's resource when it registered
	Options  []byte // its publish-options form, as XML; nil for none
	Created  time.Time
}

// AddPush records a registration of user's, replacing one for the same
// service and node. It returns ErrQuota when user has max or more other
// registrations (max <= 0: no limit), and ErrNotFound if there is no such
// user.
func (db *DB) AddPush(ctx context.Context, user string, p Push, max int) error {
	if max <= 0 {
		max = -1
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO push (username, service, node, resource, options, created)
		SELECT ?, ?, ?, ?, ?, ?
		WHERE ? < 0 OR (SELECT count(*) FROM push WHERE username = ? AND NOT (service = ? AND node = ?)) < ?
		ON CONFLICT (username, service, node) DO UPDATE SET resource = excluded.resource, options = excluded.options, created = excluded.created`,
		user, p.Service, p.Node, p.Resource, p.Options, unix(p.Created),
		max, user, p.Service, p.Node, max)
	if noUser(err) {
		err = ErrNotFound
	}
	if err == nil {
		if err = affected(res); errors.Is(err, ErrNotFound) {
			err = ErrQuota
		}
	}
	if err != nil {
		return fmt.Errorf("push registration of %s: %w", user, err)
	}
	return nil
}

// RemovePush removes user's registrations with service: the one for node,
// or all of them when node is "". It reports how many it removed.
func (db *DB) RemovePush(ctx context.Context, user, service, node string) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM push WHERE username = ? AND service = ? AND (? = '' OR node = ?)`,
		user, service, node, node)
	if err != nil {
		return 0, fmt.Errorf("remove push registration of %s: %w", user, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// RemovePushMade removes user's registration with service and node if it
// is the one made at created (not one made again since); it reports
// whether it did.
func (db *DB) RemovePushMade(ctx context.Context, user, service, node string, created time.Time) (bool, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM push WHERE username = ? AND service = ? AND node = ? AND created = ?`,
		user, service, node, unix(created))
	if err != nil {
		return false, fmt.Errorf("remove push registration of %s: %w", user, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Pushes returns user's registrations, oldest first.
func (db *DB) Pushes(ctx context.Context, user string) ([]Push, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT service, node, resource, options, created FROM push
		WHERE username = ? ORDER BY created, service, node`, user)
	if err != nil {
		return nil, fmt.Errorf("push registrations of %s: %w", user, err)
	}
	defer rows.Close()
	var ps []Push
	for rows.Next() {
		var p Push
		var at int64
		if err := rows.Scan(&p.Service, &p.Node, &p.Resource, &p.Options, &at); err != nil {
			return nil, fmt.Errorf("push registrations of %s: %w", user, err)
		}
		p.Created = fromUnix(at)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// PushUsers returns the accounts that have registrations.
func (db *DB) PushUsers(ctx context.Context) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT username FROM push`)
	if err != nil {
		return nil, fmt.Errorf("push registrations: %w", err)
	}
	defer rows.Close()
	var us []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("push registrations: %w", err)
		}
		us = append(us, u)
	}
	return us, rows.Err()
}
