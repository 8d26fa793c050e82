-- 0010: no change for PostgreSQL (SQLite moves a node's term hashes into a list in its row,
-- as PostgreSQL's nodes.terms since 0007, and drops its by-node term index).
SELECT 1;
