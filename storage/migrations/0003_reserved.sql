-- Hearth schema version 3: reserved for the branch that owns migration 0003
-- (parallel work). This placeholder only keeps the numbering without gaps
-- on the pep branch; the real 0003 replaces it when the branches merge.
SELECT 1;
