-- Stand-in on the upload branch for migration 0011, which parallel work takes.
-- Drop this file when merging: the real 0011 comes from that work.
SELECT 1;
