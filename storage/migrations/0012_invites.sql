-- Hearth schema version 12.
-- Invitations (XEP-0401, XEP-0379, XEP-0445): a token someone is given as a
-- link or QR code. kind: account (a new account), contact (become the
-- inviter's contact, XEP-0379), account+contact (both), reset (set a new
-- password for an existing account). username: the inviter, the account
-- the invitee becomes a contact of (NULL for none; its invitations go
-- with it). account: the account name kept for the invitee (account
-- kinds; '' lets them choose) or the account whose password is reset.
-- A token is used up when uses reaches max_uses; expiry is checked when
-- it is presented.
CREATE TABLE invites (
	token    TEXT NOT NULL PRIMARY KEY,
	kind     TEXT NOT NULL CHECK (kind IN ('account', 'contact', 'account+contact', 'reset')),
	username TEXT REFERENCES users (name) ON DELETE CASCADE,
	account  TEXT NOT NULL DEFAULT '',
	created  INTEGER NOT NULL,
	expires  INTEGER NOT NULL,
	max_uses INTEGER NOT NULL CHECK (max_uses > 0),
	uses     INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

CREATE INDEX invites_account ON invites (account) WHERE account <> '';
CREATE INDEX invites_username ON invites (username) WHERE username IS NOT NULL;
