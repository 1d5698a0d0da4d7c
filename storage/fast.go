package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// FASTToken is what the server keeps of a FAST token (XEP-0484): the
// seed the token is derived from, never the token.
type FASTToken struct {
	User, Agent string // the account and the device's SASL2 user-agent id
	// Next: issued and not used yet; it replaces the current one at its
	// first use.
	Next      bool
	Seed      []byte
	Mechanism string
	Issued    time.Time
	Expires   time.Time
	Count     int64 // the highest replay counter seen; -1: none
}

// MaxFASTAgents is how many devices of one account may hold tokens: a new
// one beyond it drops the tokens of the device whose tokens expire first.
const MaxFASTAgents = 32

// FASTTokens returns the unexpired tokens of an account's device: at most
// the current one and the next.
func (db *DB) FASTTokens(ctx context.Context, user, agent string, now time.Time) ([]FASTToken, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT slot, seed, mechanism, issued, expires, count FROM fast_tokens
		WHERE username = ? AND agent = ? AND expires > ? ORDER BY slot DESC`, user, agent, unix(now))
	if err != nil {
		return nil, fmt.Errorf("fast tokens of %s: %w", user, err)
	}
	defer rows.Close()
	var out []FASTToken
	for rows.Next() {
		t := FASTToken{User: user, Agent: agent}
		var slot int
		var issued, expires int64
		if err := rows.Scan(&slot, &t.Seed, &t.Mechanism, &issued, &expires, &t.Count); err != nil {
			return nil, fmt.Errorf("fast tokens of %s: %w", user, err)
		}
		t.Next, t.Issued, t.Expires = slot == 1, fromUnix(issued), fromUnix(expires)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fast tokens of %s: %w", user, err)
	}
	return out, nil
}

// AddFASTToken keeps t as its device's next token, replacing a next one
// never used (XEP-0484 4.5: it SHOULD be invalidated). The account's
// expired tokens go, and the tokens of its devices beyond MaxFASTAgents.
// It returns ErrNotFound if the account does not exist.
func (db *DB) AddFASTToken(ctx context.Context, t FASTToken) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE username = ? AND expires <= ?`, t.User, unix(t.Issued)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO fast_tokens (username, agent, slot, seed, mechanism, issued, expires, count)
			VALUES (?, ?, 1, ?, ?, ?, ?, -1)
			ON CONFLICT (username, agent, slot) DO UPDATE SET seed = excluded.seed, mechanism = excluded.mechanism,
				issued = excluded.issued, expires = excluded.expires, count = -1`,
			t.User, t.Agent, blob(t.Seed), t.Mechanism, unix(t.Issued), unix(t.Expires))
		if constraint(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE username = ? AND agent NOT IN
			(SELECT agent FROM fast_tokens WHERE username = ? GROUP BY agent ORDER BY max(expires) DESC LIMIT ?)`,
			t.User, t.User, MaxFASTAgents)
		return err
	})
	if err != nil {
		return fmt.Errorf("add fast token of %s: %w", t.User, err)
	}
	return nil
}

// UseFASTToken records a login with t and count (-1: the client sent
// none). It reports false, changing nothing, when the count is not above
// every count seen with this token (a replay) or the token is gone (used
// up, revoked). A next token used for the first time becomes the
// current one, and the one it replaces is revoked (XEP-0484 4.5). The
// check and the update are one statement: two logins with one count
// cannot both pass.
func (db *DB) UseFASTToken(ctx context.Context, t FASTToken, count int64) (bool, error) {
	ok := false
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE fast_tokens SET count = max(count, ?)
			WHERE username = ? AND agent = ? AND seed = ? AND (? < 0 OR count < ?)`,
			count, t.User, t.Agent, blob(t.Seed), count, count)
		if err != nil {
			return err
		}
		if err := affected(res); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ok = true
		if !t.Next {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE username = ? AND agent = ? AND slot = 0`, t.User, t.Agent); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE fast_tokens SET slot = 0 WHERE username = ? AND agent = ? AND slot = 1`, t.User, t.Agent)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("use fast token of %s: %w", t.User, err)
	}
	return ok, nil
}

// DeleteFASTToken revokes one token (the client asked, XEP-0484 4.6).
func (db *DB) DeleteFASTToken(ctx context.Context, t FASTToken) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM fast_tokens WHERE username = ? AND agent = ? AND seed = ?`,
		t.User, t.Agent, blob(t.Seed)); err != nil {
		return fmt.Errorf("delete fast token of %s: %w", t.User, err)
	}
	return nil
}

// deleteFASTTokens revokes every token of an account, in tx (its password
// changed, or it was disabled).
func deleteFASTTokens(ctx context.Context, tx *sql.Tx, user string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM fast_tokens WHERE username = ?`, user)
	return err
}
