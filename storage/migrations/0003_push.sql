-- Hearth schema version 3.
-- Push notification registrations (XEP-0357): where the server tells a
-- device's push service that a message came while the device was away.
-- One row per (account, push service, node); resource is the device's
-- resource when it registered (its notifications stop while it is
-- connected); options is the publish-options form it gave, as XML.
CREATE TABLE push (
	username TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	service  TEXT NOT NULL,
	node     TEXT NOT NULL,
	resource TEXT NOT NULL,
	options  BLOB,
	created  INTEGER NOT NULL,
	PRIMARY KEY (username, service, node)
) STRICT, WITHOUT ROWID;
