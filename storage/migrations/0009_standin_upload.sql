-- Stand-in on the upload branch for migration 0009, which parallel work takes.
-- Drop this file when merging: the real 0009 comes from that work.
SELECT 1;
