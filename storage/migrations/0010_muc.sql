-- Hearth schema version 10.
-- Multi-user chat (XEP-0045) on conference.<domain>: the persistent rooms.
-- A room is its bare JID; its configuration is the room engine's own
-- record (JSON), kept whole; the occupant-id secret (XEP-0421) makes the
-- ids occupants see stable across restarts. Temporary rooms are never here.
CREATE TABLE muc_rooms (
	jid        TEXT NOT NULL PRIMARY KEY,
	config     TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	subject_by TEXT NOT NULL DEFAULT '',
	vcard      BLOB,
	secret     BLOB NOT NULL,
	created    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Affiliations (owner, admin, member, outcast) by bare JID, with the nick
-- a member registered (reserved: nobody else may take it in the room).
CREATE TABLE muc_affiliations (
	room        TEXT NOT NULL REFERENCES muc_rooms (jid) ON DELETE CASCADE,
	jid         TEXT NOT NULL,
	affiliation TEXT NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
	nick        TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (room, jid)
) STRICT, WITHOUT ROWID;
