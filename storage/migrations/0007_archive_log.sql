-- Hearth schema version 7.
-- The message archive (XEP-0313) as a log and an index of it, in place of
-- one row per message per archive with two indexes: a message is written
-- once, and what the archives need to find it is written once per group
-- commit, not once per message.
--
-- archive_log holds each archived message once, under its id (as in
-- version 6: milliseconds since 2000-01-01 UTC shifted left 20 bits, plus
-- a sequence; storage hands them out in the order the messages queue, so
-- they grow with every commit). meta is its place in one or two archives:
-- the recipient's or the only one, then the sender's when both are
-- accounts here; each is the account, the other party's bare JID, its
-- resource and the tag (the random half of the message's public id, in
-- decimal), the fields joined by the byte 0x01, which no JID holds.
-- Deleting an account takes its place out; a row in no archive goes.
CREATE TABLE archive_log (
	id     INTEGER PRIMARY KEY,
	meta   BLOB NOT NULL,
	stanza BLOB NOT NULL
) STRICT;

-- archive_index lists the ids of each archive (peer '') and of each
-- archive with one contact (peer the contact's bare JID), in ascending
-- runs: a row holds the ids of one list that one commit added, first to
-- last, n of them; ids holds the ids after the first as unsigned varint
-- differences from the one before (NULL when n = 1). Runs of one list
-- never overlap, so the runs in order of first are the ids in order.
CREATE TABLE archive_index (
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	peer     TEXT NOT NULL,
	first    INTEGER NOT NULL,
	last     INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	ids      BLOB,
	PRIMARY KEY (username, peer, first)
) STRICT, WITHOUT ROWID;
-- Retention finds the oldest runs of all archives.
CREATE INDEX archive_index_first ON archive_index (first);

INSERT INTO archive_log (id, meta, stanza)
	SELECT id, CAST(username || char(1) || peer || char(1) || res || char(1) || tag AS BLOB), stanza FROM archive;
INSERT INTO archive_index (username, peer, first, last, n)
	SELECT username, '', id, id, 1 FROM archive;
INSERT INTO archive_index (username, peer, first, last, n)
	SELECT username, peer, id, id, 1 FROM archive;
DROP TABLE archive;
