package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MUCRoom is a persistent multi-user chat room (XEP-0045) as stored: the
// room engine's configuration record (opaque here), the subject and who
// set it, the room's vCard (XML, or nil), the occupant-id secret
// (XEP-0421) and the room's members by bare JID.
type MUCRoom struct {
	JID          string
	Config       []byte
	Subject      string
	SubjectBy    string
	VCard        []byte
	Secret       []byte
	Created      time.Time
	Affiliations []MUCAffiliation
}

// MUCAffiliation is one bare JID's affiliation with a room: owner, admin,
// member or outcast, with the nick it registered (reserved) and why it
// was given.
type MUCAffiliation struct {
	JID, Affiliation, Nick, Reason string
}

// SaveMUCRoom writes a persistent room whole, its affiliations replacing
// those stored, in one transaction: committed and synced when it returns.
func (db *DB) SaveMUCRoom(ctx context.Context, r MUCRoom) error {
	err := db.tx(ctx, func(tx *sql.Tx) error {
		created := r.Created
		if created.IsZero() {
			created = time.Now()
		}
		var vcard any
		if r.VCard != nil {
			vcard = r.VCard
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO muc_rooms (jid, config, subject, subject_by, vcard, secret, created)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (jid) DO UPDATE SET config = excluded.config, subject = excluded.subject,
				subject_by = excluded.subject_by, vcard = excluded.vcard, secret = excluded.secret`,
			r.JID, string(r.Config), r.Subject, r.SubjectBy, vcard, blob(r.Secret), unix(created)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM muc_affiliations WHERE room = ?`, r.JID); err != nil {
			return err
		}
		for _, a := range r.Affiliations {
			if _, err := tx.ExecContext(ctx, `INSERT INTO muc_affiliations (room, jid, affiliation, nick, reason)
				VALUES (?, ?, ?, ?, ?)`, r.JID, a.JID, a.Affiliation, a.Nick, a.Reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save room %s: %w", r.JID, dbError(err))
	}
	return nil
}

// DeleteMUCRoom forgets a room and its affiliations; a room not stored is
// no error.
func (db *DB) DeleteMUCRoom(ctx context.Context, room string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM muc_rooms WHERE jid = ?`, room); err != nil {
		return fmt.Errorf("delete room %s: %w", room, dbError(err))
	}
	return nil
}

// MUCRooms returns every persistent room with its affiliations, sorted by
// JID.
func (db *DB) MUCRooms(ctx context.Context) ([]MUCRoom, error) {
	var out []MUCRoom
	err := db.view(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT jid, config, subject, subject_by, vcard, secret, created
			FROM muc_rooms ORDER BY jid`)
		if err != nil {
			return err
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			var r MUCRoom
			var config string
			var created int64
			if err := rows.Scan(&r.JID, &config, &r.Subject, &r.SubjectBy, &r.VCard, &r.Secret, &created); err != nil {
				return err
			}
			r.Config, r.Created = []byte(config), fromUnix(created)
			idx[r.JID] = len(out)
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		arows, err := tx.QueryContext(ctx, `SELECT room, jid, affiliation, nick, reason FROM muc_affiliations ORDER BY room, jid`)
		if err != nil {
			return err
		}
		defer arows.Close()
		for arows.Next() {
			var room string
			var a MUCAffiliation
			if err := arows.Scan(&room, &a.JID, &a.Affiliation, &a.Nick, &a.Reason); err != nil {
				return err
			}
			if i, ok := idx[room]; ok {
				out[i].Affiliations = append(out[i].Affiliations, a)
			}
		}
		return arows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read the chat rooms: %w", err)
	}
	return out, nil
}
