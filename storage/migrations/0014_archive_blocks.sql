-- Hearth schema version 14.
-- The archive's log keeps messages that were queued together in blocks:
-- under load a group commit carries thousands of archived messages, and one
-- row and one B-tree insert per message were the biggest part of what the
-- archive cost. A row of archive_log is now either
--   * one message, as in version 7: last and n are NULL, meta and stanza
--     are the message's; or
--   * a block of up to 64 messages queued next to each other: id is the
--     first id it was made with, last the last, n how many it holds now;
--     meta is empty and stanza holds the messages (each one's id, meta and
--     stanza), compressed (see storage/archive_block.go for the format).
-- Rows never overlap: every id from id to last belongs to that row, so the
-- row that holds a message is the one with the largest id not above it.
-- Rows of version 7 need no change.
ALTER TABLE archive_log ADD COLUMN last INTEGER;
ALTER TABLE archive_log ADD COLUMN n INTEGER;

-- The index follows the log (storage/archive_defer.go): a group commit
-- writes the log at once and the index's runs every half second or so.
-- archive_indexed is the highest id whose runs are in the index; at open,
-- the runs of the messages past it are added. Every message of version 13
-- is in the index.
INSERT INTO counters (name, value)
	SELECT 'archive_indexed', coalesce(max(id), 0) FROM archive_log;
