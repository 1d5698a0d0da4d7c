-- Hearth schema version 6.
-- Message archives (XEP-0313), one per account. A row is one message as
-- the account sent or received it. id orders the archive and carries the
-- time the message was archived: milliseconds since 2000-01-01 UTC,
-- shifted left 20 bits, plus a sequence (the mam module hands them out),
-- so a time range is an id range and retention deletes the lowest ids.
-- tag is the random half of the message's public id (XEP-0359 stanza-id):
-- an id handed out before a crash and never committed is not found again.
-- peer is the bare JID of the other party and res its resource, for
-- queries 'with' a contact.
CREATE TABLE archive (
	id       INTEGER PRIMARY KEY,
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	peer     TEXT NOT NULL,
	res      TEXT NOT NULL DEFAULT '',
	tag      INTEGER NOT NULL,
	stanza   BLOB NOT NULL
) STRICT;
CREATE INDEX archive_by_user ON archive (username, id);
CREATE INDEX archive_by_peer ON archive (username, peer, id);

-- Archiving preferences (XEP-0313 6): the default (always, roster or
-- never) and the JIDs always and never archived, space-separated.
CREATE TABLE archive_prefs (
	username TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
	dflt     TEXT NOT NULL CHECK (dflt IN ('always', 'roster', 'never')),
	always   TEXT NOT NULL DEFAULT '',
	never    TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;
