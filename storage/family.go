package storage

import (
	"context"
	"fmt"
)

// FamilyCircle returns the accounts the family circle has taken in, each
// with the roster group it labelled their family contacts with.
func (db *DB) FamilyCircle(ctx context.Context) (map[string]string, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT username, grp FROM family_circle`)
	if err != nil {
		return nil, fmt.Errorf("family circle: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var user, group string
		if err := rows.Scan(&user, &group); err != nil {
			return nil, fmt.Errorf("family circle: %w", err)
		}
		out[user] = group
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("family circle: %w", err)
	}
	return out, nil
}

// JoinFamilyCircle records that the circle has taken the user in, with
// its family contacts in group. It returns ErrNotFound if there is no
// such user (deleted meanwhile).
func (db *DB) JoinFamilyCircle(ctx context.Context, user, group string) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO family_circle (username, grp) VALUES (?, ?)
		ON CONFLICT (username) DO UPDATE SET grp = excluded.grp`, user, group)
	if noUser(err) {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s joins the family circle: %w", user, err)
	}
	return nil
}

// ClearFamilyCircle forgets every account the circle took in (it was
// turned off: turning it on again pairs everyone anew).
func (db *DB) ClearFamilyCircle(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM family_circle`); err != nil {
		return fmt.Errorf("clear the family circle: %w", err)
	}
	return nil
}
