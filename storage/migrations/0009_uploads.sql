-- Hearth schema version 12.
-- Files shared over HTTP (XEP-0363). A row is a slot an account asked for:
-- 'slot' while its PUT has not come, 'busy' while a PUT is under way,
-- 'stored' once the file is whole on disk. slot is the random name the
-- file has on disk and in its URL (never a name a client chose); filename
-- is only what the download is called (Content-Disposition). expires is
-- when the slot's PUT URL ends ('slot', 'busy') or when the file is
-- deleted ('stored'). No foreign key to users: deleting an account
-- deletes its files first (the upload module), and rows whose owner is
-- gone are purged with their files (a deletion while no server ran).
CREATE TABLE uploads (
	slot         TEXT NOT NULL PRIMARY KEY,
	username     TEXT NOT NULL,
	filename     TEXT NOT NULL,
	size         INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	created      INTEGER NOT NULL,
	expires      INTEGER NOT NULL,
	state        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX uploads_user ON uploads (username, created);
CREATE INDEX uploads_expires ON uploads (expires);
