-- Hearth schema version 5.
-- Personal eventing (XEP-0163): each account's publish-subscribe nodes
-- (XEP-0060), with their configuration, and the items published to them.
-- Deleting an account deletes its nodes, and a node its items.
CREATE TABLE pep_nodes (
	username       TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
	node           TEXT NOT NULL,
	-- pubsub#access_model: 'open', 'presence' or 'whitelist'.
	access_model   TEXT NOT NULL DEFAULT 'presence' CHECK (access_model IN ('open', 'presence', 'whitelist')),
	-- pubsub#max_items; 0 is 'max' (the account's quota is the bound).
	max_items      INTEGER NOT NULL DEFAULT 1,
	persist_items  INTEGER NOT NULL DEFAULT 1,
	-- pubsub#send_last_published_item: 'never', 'on_sub' or 'on_sub_and_presence'.
	send_last      TEXT NOT NULL DEFAULT 'on_sub_and_presence',
	notify_retract INTEGER NOT NULL DEFAULT 1,
	notify_delete  INTEGER NOT NULL DEFAULT 1,
	title          TEXT NOT NULL DEFAULT '',
	created        INTEGER NOT NULL,
	PRIMARY KEY (username, node)
) STRICT, WITHOUT ROWID;

-- seq orders a node's items by publication (a republished id moves last).
CREATE TABLE pep_items (
	username  TEXT NOT NULL,
	node      TEXT NOT NULL,
	id        TEXT NOT NULL,
	publisher TEXT NOT NULL,
	payload   BLOB NOT NULL,
	seq       INTEGER NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (username, node, id),
	FOREIGN KEY (username, node) REFERENCES pep_nodes (username, node) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX pep_items_order ON pep_items (username, node, seq);
