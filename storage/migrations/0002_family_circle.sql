-- Hearth schema version 2.
-- The accounts the family circle (setting family.circle) has taken in,
-- and the roster group it labelled their family contacts with. The
-- circle pairs an account once, as it joins; a person who later removes
-- a family contact is not paired again at the next start or group rename.
-- A deleted account leaves it; turning the circle off empties it.
CREATE TABLE family_circle (
	username TEXT NOT NULL PRIMARY KEY REFERENCES users (name) ON DELETE CASCADE,
	grp      TEXT NOT NULL DEFAULT ''
) STRICT, WITHOUT ROWID;

-- A database from before this table, with the circle on, had everyone
-- paired at each start: the accounts with contacts count as taken in
-- (with the group the setting names), so that the first start after the
-- upgrade does not give back the family contacts people removed. An
-- account with no contacts at all (added while no server ran) is not:
-- that start pairs it with everyone.
INSERT INTO family_circle (username, grp)
	SELECT name, coalesce((SELECT value FROM settings WHERE key = 'family.group'), 'Family')
	FROM users
	WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'family.circle' AND value = 'true')
		AND EXISTS (SELECT 1 FROM roster WHERE roster.username = users.name);
