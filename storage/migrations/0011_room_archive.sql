-- Hearth schema version 11.
-- Group chat rooms have archives too (XEP-0313 with XEP-0045), kept in
-- archive_log and archive_index like an account's, under the room's bare
-- JID (which holds '@', so it is never an account's name). archive_index
-- named its archive by an account (a foreign key to users): it is made
-- again without it. Deleting an account already takes its archive out
-- first (storage's DeleteUser), so the cascade had nothing left to do.
CREATE TABLE archive_index_new (
	username TEXT NOT NULL,
	peer     TEXT NOT NULL,
	first    INTEGER NOT NULL,
	last     INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	ids      BLOB,
	PRIMARY KEY (username, peer, first)
) STRICT, WITHOUT ROWID;
INSERT INTO archive_index_new (username, peer, first, last, n, ids)
	SELECT username, peer, first, last, n, ids FROM archive_index;
DROP TABLE archive_index;
ALTER TABLE archive_index_new RENAME TO archive_index;
-- Retention finds the oldest runs of all archives.
CREATE INDEX archive_index_first ON archive_index (first);
