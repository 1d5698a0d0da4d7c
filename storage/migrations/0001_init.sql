-- Hearth schema version 1.
-- Times are INTEGER Unix nanoseconds (UTC). Every row that belongs to a user
-- references users(name) ON DELETE CASCADE, so deleting a user removes
-- everything they own in one statement.

CREATE TABLE users (
	name          TEXT NOT NULL PRIMARY KEY,
	-- SCRAM (RFC 5802, RFC 7677) keys; never a password.
	sha1_salt     BLOB NOT NULL,
	sha1_iters    INTEGER NOT NULL,
	sha1_stored   BLOB NOT NULL,
	sha1_server   BLOB NOT NULL,
	sha256_salt   BLOB NOT NULL,
	sha256_iters  INTEGER NOT NULL,
	sha256_stored BLOB NOT NULL,
	sha256_server BLOB NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	-- Current roster version (XEP-0237 / RFC 6121 2.6); 0 until the roster first changes.
	roster_ver    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Named monotonic counters. 'roster' hands out roster versions for all users,
-- so a version is never reused, not even by a deleted and re-created account.
CREATE TABLE counters (
	name  TEXT NOT NULL PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('roster', 0);

CREATE TABLE roster (
	username     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	contact      TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	subscription TEXT NOT NULL DEFAULT 'none' CHECK (subscription IN ('none', 'to', 'from', 'both')),
	ask          INTEGER NOT NULL DEFAULT 0,
	approved     INTEGER NOT NULL DEFAULT 0,
	groups_json  TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (username, contact)
) STRICT, WITHOUT ROWID;

-- Inbound subscription requests awaiting the user's answer (RFC 6121 3.1.3).
CREATE TABLE pending (
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	contact  TEXT NOT NULL,
	stanza   BLOB NOT NULL,
	received INTEGER NOT NULL,
	PRIMARY KEY (username, contact)
) STRICT, WITHOUT ROWID;

-- Offline messages (XEP-0160). AUTOINCREMENT: an id is never reused, so a
-- delete by a stale id can never hit a newer message.
CREATE TABLE offline (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	sender   TEXT NOT NULL,
	stanza   BLOB NOT NULL,
	stored   INTEGER NOT NULL
) STRICT;
CREATE INDEX offline_by_user ON offline (username, id);

-- vcard-temp (XEP-0054).
CREATE TABLE vcards (
	username TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
	xml      BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- Private XML storage (XEP-0049); key is "name namespace".
CREATE TABLE private (
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	key      TEXT NOT NULL,
	xml      BLOB NOT NULL,
	PRIMARY KEY (username, key)
) STRICT, WITHOUT ROWID;

-- Blocking command (XEP-0191).
CREATE TABLE blocks (
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	jid      TEXT NOT NULL,
	PRIMARY KEY (username, jid)
) STRICT, WITHOUT ROWID;

-- Last activity (XEP-0012): when the user's last session ended, and its status.
CREATE TABLE last_activity (
	username TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
	at       INTEGER NOT NULL,
	status   TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

-- Server settings: dotted lowercase keys, one namespace per subsystem.
CREATE TABLE settings (
	key   TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
