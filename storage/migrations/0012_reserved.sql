-- Hearth schema version 12: reserved for the invite branch (0012_invites.sql).
-- This placeholder lets the pubsub branch's 0013 apply on its own; it is
-- dropped when the invite branch is merged.
SELECT 1;
