-- Stand-in on the upload branch for migration 0010, which parallel work takes.
-- Drop this file when merging: the real 0010 comes from that work.
SELECT 1;
