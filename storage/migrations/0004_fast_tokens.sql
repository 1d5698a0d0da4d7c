-- Hearth schema version 4.
-- FAST tokens (XEP-0484): what lets a device log in again without the
-- password. Never the token itself: a row keeps a random seed, and the
-- token is an HMAC of it under a key kept outside the database (the data
-- directory's fast.secret), so a copy of the database alone logs nobody
-- in. A token is bound to its account, the device's SASL2 user-agent id
-- and the mechanism it was asked for. Each device has at most two: the
-- one in use (slot 0) and a newer one not used yet (slot 1), which
-- replaces it at its first use (XEP-0484 7.1). count is the highest
-- replay counter seen (-1: none yet). A password change, disabling or
-- deleting the account removes them all.
CREATE TABLE fast_tokens (
	username  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	agent     TEXT NOT NULL,
	slot      INTEGER NOT NULL CHECK (slot IN (0, 1)),
	seed      BLOB NOT NULL,
	mechanism TEXT NOT NULL,
	issued    INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	count     INTEGER NOT NULL DEFAULT -1,
	PRIMARY KEY (username, agent, slot)
) STRICT, WITHOUT ROWID;
