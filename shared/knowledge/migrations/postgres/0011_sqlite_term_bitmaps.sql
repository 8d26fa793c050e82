-- 0011: no change for PostgreSQL (SQLite keeps its term -> node lookups as one bitmap per term
-- and block of 64 nids instead of a row per term and node; PostgreSQL's GIN index over
-- nodes.terms is unchanged).
SELECT 1;
