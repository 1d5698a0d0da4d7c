-- Hearth schema version 13.
-- The publish-subscribe service (XEP-0060) on pubsub.<domain>: its nodes,
-- their items, who is affiliated with them and who subscribes. A node
-- belongs to the service, not to an account: creator is the bare JID that
-- made it (counted against the nodes a user may create). Deleting a node
-- deletes its items, affiliations and subscriptions.
CREATE TABLE pubsub_nodes (
	node             TEXT NOT NULL PRIMARY KEY,
	creator          TEXT NOT NULL,
	-- pubsub#access_model.
	access_model     TEXT NOT NULL DEFAULT 'open'
		CHECK (access_model IN ('open', 'presence', 'roster', 'authorize', 'whitelist')),
	-- pubsub#max_items: how many items the node keeps (at least 1).
	max_items        INTEGER NOT NULL DEFAULT 10,
	persist_items    INTEGER NOT NULL DEFAULT 1,
	-- pubsub#send_last_published_item: 'never', 'on_sub' or 'on_sub_and_presence'.
	send_last        TEXT NOT NULL DEFAULT 'on_sub',
	notify_retract   INTEGER NOT NULL DEFAULT 1,
	notify_delete    INTEGER NOT NULL DEFAULT 1,
	deliver_payloads INTEGER NOT NULL DEFAULT 1,
	-- pubsub#publish_model: 'publishers', 'subscribers' or 'open'.
	publish_model    TEXT NOT NULL DEFAULT 'publishers'
		CHECK (publish_model IN ('publishers', 'subscribers', 'open')),
	-- pubsub#roster_groups_allowed, one group a line.
	roster_groups    TEXT NOT NULL DEFAULT '',
	title            TEXT NOT NULL DEFAULT '',
	description      TEXT NOT NULL DEFAULT '',
	created          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX pubsub_nodes_creator ON pubsub_nodes (creator);

-- seq orders a node's items by publication (a republished id moves last).
CREATE TABLE pubsub_items (
	node      TEXT NOT NULL REFERENCES pubsub_nodes (node) ON DELETE CASCADE,
	id        TEXT NOT NULL,
	publisher TEXT NOT NULL,
	payload   BLOB NOT NULL,
	seq       INTEGER NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (node, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX pubsub_items_order ON pubsub_items (node, seq);

-- Affiliations by bare JID; 'none' is no row.
CREATE TABLE pubsub_affiliations (
	node        TEXT NOT NULL REFERENCES pubsub_nodes (node) ON DELETE CASCADE,
	jid         TEXT NOT NULL,
	affiliation TEXT NOT NULL CHECK (affiliation IN ('owner', 'publisher', 'member', 'outcast')),
	PRIMARY KEY (node, jid)
) STRICT, WITHOUT ROWID;
CREATE INDEX pubsub_affiliations_jid ON pubsub_affiliations (jid);

-- One subscription per JID (bare or full, as subscribed) and node; state
-- 'pending' waits for an owner (the authorize access model); deliver is
-- the pubsub#deliver subscription option.
CREATE TABLE pubsub_subscriptions (
	node    TEXT NOT NULL REFERENCES pubsub_nodes (node) ON DELETE CASCADE,
	jid     TEXT NOT NULL,
	subid   TEXT NOT NULL,
	state   TEXT NOT NULL CHECK (state IN ('subscribed', 'pending')),
	deliver INTEGER NOT NULL DEFAULT 1,
	created INTEGER NOT NULL,
	PRIMARY KEY (node, jid)
) STRICT, WITHOUT ROWID;
CREATE INDEX pubsub_subscriptions_jid ON pubsub_subscriptions (jid);
