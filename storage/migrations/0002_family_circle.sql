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
