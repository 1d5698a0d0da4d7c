-- Hearth schema version 8.
-- The accounts that take part in serverless chat on the LAN (XEP-0174,
-- setting linklocal.enabled): each is announced on the local network
-- while it is online, and sees the people found there. An account is in
-- only when its owner or the administrator asked; a deleted account
-- leaves.
CREATE TABLE linklocal_users (
	username TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
	since    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
