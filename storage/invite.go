package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Kinds of invitation (table invites).
const (
	// InviteAccount lets someone create an account (XEP-0445).
	InviteAccount = "account"
	// InviteContact lets someone become the inviter's contact (XEP-0379).
	InviteContact = "contact"
	// InviteAccountContact lets someone create an account that becomes the
	// inviter's contact, or become the inviter's contact with the account
	// they have.
	InviteAccountContact = "account+contact"
	// InviteReset lets the owner of an account set a new password.
	InviteReset = "reset"
)

// Errors of redeeming an invitation.
var (
	ErrInviteUsed    = errors.New("the invitation was used up")
	ErrInviteExpired = errors.New("the invitation expired")
	// ErrInviteName: the account name is kept for another invitation.
	ErrInviteName = errors.New("the account name is kept for someone else's invitation")
)

// Invite is an invitation: a token given as a link or QR code.
type Invite struct {
	Token string
	Kind  string // InviteAccount, InviteContact, InviteAccountContact, InviteReset
	// Inviter is the account the invitee becomes a contact of ("" for
	// none).
	Inviter string
	// User is the account name kept for the invitee (account kinds; ""
	// lets them choose) or the account whose password is reset.
	User             string
	Created, Expires time.Time
	MaxUses, Uses    int
}

// NewAccount reports whether the invitation may create an account.
func (i Invite) NewAccount() bool { return i.Kind == InviteAccount || i.Kind == InviteAccountContact }

// Contact reports whether the invitation makes its user the inviter's contact.
func (i Invite) Contact() bool { return i.Kind == InviteContact || i.Kind == InviteAccountContact }

// Check says whether the invitation may be used at now: nil,
// ErrInviteExpired or ErrInviteUsed.
func (i Invite) Check(now time.Time) error {
	switch {
	case i.Uses >= i.MaxUses:
		return ErrInviteUsed
	case !now.Before(i.Expires):
		return ErrInviteExpired
	}
	return nil
}

// Columns: username is the inviter (the account that owns the
// invitation, as in every table that references users), account the
// name kept or reset.
const inviteCols = `token, kind, username, account, created, expires, max_uses, uses`

func scanInvite(s scanner) (Invite, error) {
	var i Invite
	var inviter sql.NullString
	var created, expires int64
	err := s.Scan(&i.Token, &i.Kind, &inviter, &i.User, &created, &expires, &i.MaxUses, &i.Uses)
	i.Inviter = inviter.String
	i.Created, i.Expires = fromUnix(created), fromUnix(expires)
	return i, err
}

// CreateInvite stores a new invitation; a zero Created means now. It
// returns ErrExists for a token already stored and ErrNotFound when the
// inviter is no account.
func (db *DB) CreateInvite(ctx context.Context, i Invite) error {
	if i.Token == "" || i.MaxUses < 1 {
		return fmt.Errorf("create invite: a token and at least one use are needed")
	}
	if i.Created.IsZero() {
		i.Created = time.Now()
	}
	var inviter any
	if i.Inviter != "" {
		inviter = i.Inviter
	}
	res, err := db.w.ExecContext(ctx, `INSERT INTO invites (`+inviteCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT (token) DO NOTHING`, i.Token, i.Kind, inviter, i.User, unix(i.Created), unix(i.Expires), i.MaxUses)
	switch {
	case noUser(err):
		err = ErrNotFound
	case err == nil:
		if err = affected(res); errors.Is(err, ErrNotFound) {
			err = ErrExists
		}
	}
	if err != nil {
		return fmt.Errorf("create invite: %w", err)
	}
	return nil
}

// Invite returns the invitation with the token, or ErrNotFound.
func (db *DB) Invite(ctx context.Context, token string) (Invite, error) {
	i, err := scanInvite(db.r.QueryRowContext(ctx, `SELECT `+inviteCols+` FROM invites WHERE token = ?`, token))
	if err != nil {
		return Invite{}, fmt.Errorf("get invite: %w", notFound(err))
	}
	return i, nil
}

// Invites returns every invitation, newest first.
func (db *DB) Invites(ctx context.Context) ([]Invite, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+inviteCols+` FROM invites ORDER BY created DESC, token`)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	var is []Invite
	for rows.Next() {
		i, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("list invites: %w", err)
		}
		is = append(is, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return is, nil
}

// DeleteInvite revokes an invitation; ErrNotFound if there is none.
func (db *DB) DeleteInvite(ctx context.Context, token string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM invites WHERE token = ?`, token)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("delete invite: %w", err)
	}
	return nil
}

// UseInvite spends one use of a contact invitation (XEP-0379) at now and
// returns it as it was: ErrNotFound, ErrInviteUsed or ErrInviteExpired
// when it cannot be used. The caller checks that the kind fits.
func (db *DB) UseInvite(ctx context.Context, token string, now time.Time) (Invite, error) {
	var i Invite
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if i, err = scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteCols+` FROM invites WHERE token = ?`, token)); err != nil {
			return notFound(err)
		}
		if err := i.Check(now); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE token = ?`, token)
		return err
	})
	if err != nil {
		return Invite{}, fmt.Errorf("use invite: %w", err)
	}
	return i, nil
}

// RedeemInvite creates the account u with an invitation (XEP-0445), or
// for a reset invitation replaces the credentials of the account it
// names (revoking its FAST tokens), and spends one use, all in one
// transaction: a use is spent only when the account was made. Expiry is
// not looked at (XEP-0445 3: it was checked when the token was
// presented). Errors: ErrNotFound (no such invitation, or the account to
// reset is gone), ErrInviteUsed, ErrExists (the name is taken),
// ErrInviteName (the name is kept for another invitation that can still
// be used at now, or is not the one this invitation keeps).
func (db *DB) RedeemInvite(ctx context.Context, token string, u User, now time.Time) (Invite, error) {
	if u.Name == "" {
		return Invite{}, errors.New("redeem invite: empty name")
	}
	if u.Created.IsZero() {
		u.Created = now
	}
	var i Invite
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if i, err = scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteCols+` FROM invites WHERE token = ?`, token)); err != nil {
			return notFound(err)
		}
		if i.Uses >= i.MaxUses {
			return ErrInviteUsed
		}
		if i.User != "" && i.User != u.Name {
			return ErrInviteName
		}
		switch {
		case i.Kind == InviteReset:
			if err := setCredentials(ctx, tx, u.Name, u.SHA1, u.SHA256); err != nil {
				return err
			}
		case i.NewAccount():
			var kept bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM invites WHERE account = ? AND token <> ?
				AND kind IN ('account', 'account+contact') AND uses < max_uses AND expires > ?)`,
				u.Name, token, unix(now)).Scan(&kept); err != nil {
				return err
			}
			if kept {
				return ErrInviteName
			}
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
		default:
			return ErrNotFound // a contact invitation creates no account
		}
		_, err = tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE token = ?`, token)
		return err
	})
	if err != nil {
		return Invite{}, fmt.Errorf("redeem invite for %s: %w", u.Name, err)
	}
	return i, nil
}

// PurgeInvites deletes the invitations that expired before before and
// reports how many went.
func (db *DB) PurgeInvites(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM invites WHERE expires < ?`, unix(before))
	if err != nil {
		return 0, fmt.Errorf("purge invites: %w", err)
	}
	n, err := res.RowsAffected()
	return n, err
}
